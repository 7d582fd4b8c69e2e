"""Exit codes and the errors that end a command, numbered so schedulers can branch on them.

As cumulus-etl does it: each way a command can end has a number, documented in the README, and
each error a user can cause is a class that knows its number. An error of this hierarchy is
printed as one line (no traceback): it is the user's to fix, and the line says how. Anything
else that escapes is a bug, exit 1.

0 every input exported (and, with a FHIR URL, confirmed on the server) · 1 unexpected failure ·
2 usage error, found before anything starts (an option or ``TRIALEXPORT_*`` setting out of
range, a URL carrying credentials, an input that does not exist, a ledger of another format, a
Prefect Secret block that cannot be used, no export to publish) · 3 the run finished but some
inputs or studies were rejected · 4 publishing finished but some studies are not confirmed on
the FHIR server (when 3 and 4 both apply, ``run --fhir-url`` exits 4) · 5 a registry sync did
not fetch everything it asked for (the API failed past its retries, or gave fewer studies than
it counted): what was fetched is exported all the same, the watermark stays, and the next sync
asks again; 5 wins over 4 and 3. A record superseded by another input's record of the same
study is not a rejection.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    REJECTED = 3
    NOT_PUBLISHED = 4
    FETCH_INCOMPLETE = 5


class TrialexportError(Exception):
    """An error a user can act on; ``str(error)`` is the one line that says how."""

    exit_code = ExitCode.FAILURE


class UsageError(TrialexportError):
    """The command cannot start as given."""

    exit_code = ExitCode.USAGE


class SettingError(UsageError):
    """A setting (option, ``TRIALEXPORT_*`` variable or flow parameter) out of its range."""

    def __init__(self, setting: str, value: object, allowed: str):
        super().__init__(f"{setting}={value}: {allowed}")
        self.setting = setting
        self.value = value
        self.allowed = allowed


class InputNotFound(UsageError, FileNotFoundError):
    pass


class LedgerFormatError(UsageError, ValueError):
    """A ledger written by another version of trialexport: its records decide what is skipped or
    not sent again, so it is never guessed at."""


class SecretBlockError(UsageError, ValueError):
    """The Prefect Secret block named for the FHIR credentials cannot be used."""


class NoExport(UsageError, FileNotFoundError):
    """``publish`` on a directory no export wrote."""


class FetchIncomplete(TrialexportError):
    """The registry did not give what a sync asked for (``flows.sync.api.RegistryError`` says
    which request and why). The sync catches it, records it in ``sync-report.json`` and exports
    what it got, and the command exits 5 for it all the same; one that escaped would still be a
    line and exit 5, not a traceback."""

    exit_code = ExitCode.FETCH_INCOMPLETE
