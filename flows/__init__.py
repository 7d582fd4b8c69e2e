"""Prefect orchestration: batches, retries, logging, artifacts. No mapping happens here.

Importing this package switches Prefect's telemetry off unless the user has decided otherwise:
the machines this runs on are often offline, and a failed telemetry call is noise in every run.
"""

import logging
import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

# Prefect's run logger is an adapter of a standard logger; the run's core takes either.
Logger = logging.Logger | logging.LoggerAdapter
