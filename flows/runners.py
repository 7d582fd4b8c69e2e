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

import contextlib
from typing import Any

from prefect import Flow
from prefect.utilities.annotations import quote
from prefect_dask import DaskTaskRunner

from flows.server import drain_prefect_queues_in_loop


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

    def __exit__(self, *args: Any) -> None:
        """Have every worker send its queued task logs before the cluster closes.

        A local cluster's workers are stopped with it, and a worker drains its log queue only as
        its process exits: the logs of the run's last tasks then race the closing cluster and the
        temporary server's stop, and a lost race printed "Error logging to API" and a traceback.
        A remote cluster's workers outlive the run, but its last logs belong to it all the same.
        """
        if self._client is not None:
            with contextlib.suppress(Exception):  # a worker already gone has nothing left to send
                self._client.run(drain_prefect_queues_in_loop, on_error="return", wait=True)
        super().__exit__(*args)


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
