"""Which Prefect task runner carries the export batches.

Mapping a batch is CPU-bound pure Python, so threads (Prefect's default runner) share one core
through the GIL. Worker *processes* use every core, and a Dask scheduler spreads them past one
machine. The flow module stays runner-agnostic: the choice is applied from outside with
``with_options``, so the CLI, a served deployment and a test each pick their own.

Dask rather than Prefect's ``ProcessPoolTaskRunner``: Dask is what scales to a cluster, and one
runner for both cases means one code path to test. Importing this module imports Dask (~0.3 s),
so callers import it only when a Dask runner was asked for.
"""

from __future__ import annotations

from typing import Any

from prefect import Flow
from prefect.utilities.annotations import quote
from prefect_dask import DaskTaskRunner


class QuoteSafeDaskTaskRunner(DaskTaskRunner):
    """A ``DaskTaskRunner`` that hands ``quote``-d parameters over unwrapped.

    Prefect's annotations are tuple subclasses, and on their way through Dask's task graph
    (prefect-dask 0.3.7, distributed 2026.8) they reach the worker as plain tuples: the task would
    get ``(value,)`` instead of ``value``. ``quote`` only spares the flow process a walk through a
    big argument, which an argument pickled for another process does not need.
    """

    def submit(self, task: Any, parameters: dict[str, Any], wait_for=None, dependencies=None):
        parameters = {k: v.unquote() if isinstance(v, quote) else v for k, v in parameters.items()}
        return super().submit(task, parameters, wait_for=wait_for, dependencies=dependencies)


def task_runner(dask_address: str | None = None, workers: int | None = None) -> DaskTaskRunner | None:
    """The runner for these options, or ``None`` for the flow's own default (threads).

    An address wins over ``workers``: a remote cluster's size is its operator's business. A local
    cluster gets one thread per worker process, so N workers map N batches at once, and no
    dashboard, so that two runs on one machine do not fight over its port.
    """
    if dask_address:
        return QuoteSafeDaskTaskRunner(address=dask_address)
    if workers:
        return QuoteSafeDaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": workers,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": None,
            },
        )
    return None


def with_runner(flow: Flow, dask_address: str | None = None, workers: int | None = None) -> Flow:
    """``flow`` as it is, or a copy that submits its tasks to the chosen Dask runner."""
    runner = task_runner(dask_address, workers)
    # prefect-dask's runner is a TaskRunner of its own futures: fine for Prefect, not for its types
    return flow if runner is None else flow.with_options(task_runner=runner)  # type: ignore[arg-type]
