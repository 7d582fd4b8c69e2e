"""Prefect orchestration: batches, retries, logging, artifacts. No mapping happens here.

Importing this package switches Prefect's telemetry off unless the user has decided otherwise:
the machines this runs on are often offline, and a failed telemetry call is noise in every run.
Two switches, because Prefect has two senders: the server's analytics
(``PREFECT_SERVER_ANALYTICS_ENABLED``), and the client's SDK telemetry, which looks at
``DO_NOT_TRACK`` at once but asks the server's setting only in the background, after it has
printed its usage notice on a terminal.
"""

import logging
import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

# Prefect's run logger is an adapter of a standard logger; the run's core takes either.
Logger = logging.Logger | logging.LoggerAdapter
