"""Prefect orchestration: batches, retries, logging, artifacts. No mapping happens here.

Importing this package switches Prefect's telemetry off unless the user has decided otherwise:
the machines this runs on are often offline, and a failed telemetry call is noise in every run.
Two switches, because Prefect has two senders: the server's analytics
(``PREFECT_SERVER_ANALYTICS_ENABLED``), and the client's SDK telemetry, which looks at
``DO_NOT_TRACK`` at once but asks the server's setting only in the background, after it has
printed its usage notice on a terminal.

Prefect's temporary server gets 60 s to start instead of Prefect's 20: it takes 10-14 s on an idle
2-core machine, and a scheduled run on a busy one must not fail before its first study for that.
"""

import logging
import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60")

# Prefect's run logger is an adapter of a standard logger; the run's core takes either.
Logger = logging.Logger | logging.LoggerAdapter
