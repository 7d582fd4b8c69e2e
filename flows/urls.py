"""URLs that may be written down: the one check and the one redaction for every URL the project
logs, records in a report or ledger, shows on the console or hands to Prefect.

Credentials never travel in a URL here. A URL is copied into many places a user does not think
of — ``run-report.json``, ``publish-ledger.json``, log lines, Prefect's database (flow-run
parameters, logs, artifacts, events), shell history — so a URL that carries them (user info, or
a query parameter named like a credential) is refused before anything starts, and the user is
told where credentials go instead (``TRIALEXPORT_FHIR_TOKEN``, ``TRIALEXPORT_FHIR_USER`` /
``_PASSWORD``, a Prefect Secret block). :func:`redacted` is the second line: whatever URL is
written down goes through it, so a credential that slipped past the check is still not copied.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameter names that carry a credential by convention (OAuth, API gateways, signed URLs).
_SECRET_PARAMETER = re.compile(
    r"^(?:access[_-]?token|id[_-]?token|refresh[_-]?token|token|auth|authorization|api[_-]?key|apikey|"
    r"key|secret|client[_-]?secret|password|passwd|pwd|sig|signature|x-amz-signature|code)$",
    re.IGNORECASE,
)
MASK = "***"
HOW_TO_PASS = (
    "pass credentials as TRIALEXPORT_FHIR_TOKEN (bearer), or TRIALEXPORT_FHIR_USER and "
    "TRIALEXPORT_FHIR_PASSWORD (basic), or a Prefect Secret block (--secret-block NAME)"
)


def credentials_in(url: str) -> str | None:
    """What in ``url`` is a credential ("user info", "the 'token' query parameter"), or None."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        return "user info"
    secret = [
        name for name, _ in parse_qsl(parts.query, keep_blank_values=True) if _SECRET_PARAMETER.match(name)
    ]
    if secret:
        return (
            "the " + ", ".join(f"'{name}'" for name in secret) + " query parameter" + "s" * (len(secret) > 1)
        )
    return None


def refusal(url: str) -> str | None:
    """The one line that refuses ``url`` (naming it redacted), or None when it may be used."""
    found = credentials_in(url)
    if found is None:
        return None
    return (
        f"a URL carrying credentials ({found}) is refused: a URL is written to logs, reports and "
        f"Prefect's database; {HOW_TO_PASS}"
    )


def redacted(url: str) -> str:
    """``url`` with its user info and credential-like query values masked; other URLs as given."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(_SECRET_PARAMETER.match(name) for name, _ in pairs):
        query = urlencode([(n, MASK if _SECRET_PARAMETER.match(n) else v) for n, v in pairs], safe="*")
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))
