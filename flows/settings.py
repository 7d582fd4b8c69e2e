"""The job configuration: plain data, from CLI options, flow parameters or ``TRIALEXPORT_*`` env vars.

Settings are checked before anything starts (the CLI builds them before Prefect is imported): a
value out of range is a :class:`flows.errors.SettingError` whose one line names the setting as
the user gave it (``TRIALEXPORT_BATCH_SIZE=0``) and what it may be.
"""

from __future__ import annotations

import os
import re
import typing
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import annotated_types
from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from flows.errors import SecretBlockError, SettingError
from flows.urls import credentials_in, redacted, refusal

if TYPE_CHECKING:
    from mappers.context import MappingSettings

# The readers' own default (mappers.readers.MAX_STUDIES_PER_FILE, an API v2 page's maximum; a
# test checks they agree), not imported from there: settings are checked before anything
# starts, and importing the readers would cost that check most of its time.
MAX_STUDIES_PER_FILE = 1000

UNCONFIGURED_ORG = "UNCONFIGURED"


class ExportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIALEXPORT_", extra="forbid")

    output: str = "output"
    templates: str | None = Field(None, description="directory whose templates override the shipped ones")
    fhir_version: Literal["R4", "R5"] = Field("R4", description="FHIR release of the bundles")
    prs_org_name: str = Field(UNCONFIGURED_ORG, description="the PRS organisation name (id_info/org_name)")
    local_identifier_system: str = Field(
        "urn:trialexport:source-document",
        description="identifier system for studies that have no registry id (free-text documents)",
    )
    # A list, not a tuple: the run report records the settings as JSON and compares them.
    formats: Annotated[list[Literal["fhir", "prs", "public"]], NoDecode] = Field(
        ["fhir", "prs", "public"],
        min_length=1,
        description="outputs to write, comma-separated (a study.json is always written)",
    )
    deep_validation: bool = Field(
        False, description="check FHIR structure with fhir.resources' models instead of the JSON Schema"
    )
    nct_identifier_system: str = Field(
        "http://clinicaltrials.gov",
        description="identifier system of NCT ids (HL7 terminology's NamingSystem for ClinicalTrials.gov); "
        "conditional updates match on it, so keep the one a server was filled with",
    )
    # ~200 studies keep a batch's task overhead (60-90 ms) under 10% of its work at ~3 ms a study.
    batch_size: int = Field(200, ge=1, description="studies per Prefect task")
    # Input limits, so that a hostile or mistaken input is a rejection, not an out-of-memory.
    # A file is read whole, then decoded and parsed: measured, that peaks at ~4.3x its size (a
    # 23 MiB list page of 1,000 API v2 studies: +100 MB) on top of the ~210 MB of a CLI run
    # itself. 32 MiB keeps reading one file (~140 MB) inside the 400 MB peak target and still
    # takes that page, the largest real input (16 MiB compact, as the API sends it).
    max_file_bytes: int = Field(
        32 * 1024 * 1024, ge=1, description="larger input files are rejected unread (bytes)"
    )
    # The studies of one input stay in memory until the input is written (~0.26 MB each for
    # API v2 records, measured): 1,000, an API v2 page's maximum, is what real inputs need, and
    # caps that at ~260 MB. An input at both limits still goes over the 400 MB target: the
    # limits bound memory; only writing an input's studies as they are mapped would meet it.
    max_studies_per_file: int = Field(
        MAX_STUDIES_PER_FILE,
        ge=1,
        description="records read from one input; past it the rest of the input is rejected",
    )

    @field_validator("formats", mode="before")
    @classmethod
    def _split_formats(cls, value):
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("formats")
    @classmethod
    def _canonical_order(cls, value: list[str]) -> list[str]:
        """One spelling per choice: the incremental fingerprint hashes the settings."""
        return [f for f in ("fhir", "prs", "public") if f in value]

    def mapping(self) -> MappingSettings:
        from mappers.context import MappingSettings

        return MappingSettings(
            prs_org_name=self.prs_org_name,
            local_identifier_system=self.local_identifier_system,
            nct_identifier_system=self.nct_identifier_system,
            fhir_version=self.fhir_version,
            formats=tuple(self.formats),
            deep_validation=self.deep_validation,
        )


# What every client that retries (publishing, the registry sync) is told, under its own prefix:
# the same names, ranges and meanings; each sets its own defaults.
Attempts = Annotated[int, Field(ge=1, description="tries per request, the first included")]
BaseDelay = Annotated[float, Field(ge=0, description="first backoff, seconds; doubles each try")]
MaxDelay = Annotated[
    float, Field(ge=0, description="ceiling for one wait between tries, seconds; Retry-After included")
]
Timeout = Annotated[float, Field(gt=0, description="seconds for each of connect / read / write")]
TaskRetries = Annotated[
    int, Field(ge=0, description="Prefect retries of a batch whose requests still fail for a passing reason")
]


class PublishSettings(BaseSettings):
    """Where and how hard to publish. Credentials are deliberately not here: they are read from
    the environment or a Prefect Secret block by ``flows.publish.client.resolve_auth``, so that
    they never reach ``run-report.json`` (which records these settings)."""

    model_config = SettingsConfigDict(env_prefix="TRIALEXPORT_FHIR_", extra="forbid")

    url: str = Field(description="FHIR base URL the transaction bundles are POSTed to")

    @field_validator("url")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        """Credentials come from the environment or a Secret block, never in the URL (flows.urls)."""
        if (why := refusal(value)) is not None:
            raise PydanticCustomError("credentials_in_url", why)
        return value

    concurrency: int = Field(4, ge=1, description="bundles in flight at once")
    batch_size: int = Field(50, ge=1, description="studies per Prefect task")
    rate_limit: float | None = Field(
        None, gt=0, description="at most this many requests per second (bundles, or parts of a split one)"
    )
    attempts: Attempts = 5
    max_delay: MaxDelay = 30.0
    base_delay: BaseDelay = 0.5
    timeout: Timeout = 60.0
    task_retries: TaskRetries = 2
    preflight_attempts: int = Field(
        3,
        ge=0,
        description="tries of a GET [base]/metadata before anything is sent (short waits, connect "
        "timeout at most 10 s); if none gets an answer, nothing is sent and every study is reported "
        "'server unreachable'; 0 skips the check",
    )
    unreachable_after: int = Field(
        3,
        ge=0,
        description="requests in a row that get no answer at all (refused, reset, timed out) after all "
        "their tries before the run stops sending and reports the rest 'server unreachable'; 0 never stops",
    )
    ca_bundle: str | None = Field(None, description="PEM file of CAs to trust (TLS stays verified)")
    secret_block: str | None = Field(None, description="Prefect Secret block holding the credentials")
    force: bool = Field(False, description="send every bundle, even those the ledger says the server has")


SYNC_API_URL = "https://clinicaltrials.gov/api/v2"
# The API's own ceiling for pageSize (larger values are refused).
MAX_PAGE_SIZE = 1000


class SyncSettings(BaseSettings):
    """How a registry sync talks to ClinicalTrials.gov (``flows.sync``); what it does with what
    it fetched is the export's and the publish's settings."""

    model_config = SettingsConfigDict(env_prefix="TRIALEXPORT_SYNC_", extra="forbid")

    api_url: str = Field(SYNC_API_URL, description="ClinicalTrials.gov API v2 base URL")

    @field_validator("api_url")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        """The registry's API takes none, and the URL is written to sync-state.json, the sync
        report, logs and Prefect's database (flows.urls)."""
        if (found := credentials_in(value)) is not None:
            raise PydanticCustomError(
                "credentials_in_url",
                f"a URL carrying credentials ({found}) is refused: the ClinicalTrials.gov API takes "
                "none, and a URL is written to logs, reports and Prefect's database",
            )
        return value

    page_size: int = Field(
        MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="studies per page asked of the API"
    )
    # NLM asks API users to keep their request rate reasonable; one a second is what a nightly
    # sync needs (a 1,000-study page takes longer than that to store).
    rate_limit: float = Field(1.0, gt=0, description="requests per second at most, retries included")
    attempts: Attempts = 5
    # A 429's Retry-After is honoured up to max_delay: a ceiling shorter than the wait the API
    # asks for only spends a try on another 429.
    base_delay: BaseDelay = 1.0
    max_delay: MaxDelay = 60.0
    timeout: Timeout = 60.0
    pages_per_task: int = Field(10, ge=1, description="pages fetched by one Prefect task")
    task_retries: TaskRetries = 2
    token_restarts: int = Field(
        3, ge=0, description="times paging starts again from the first page when the API refuses a page token"
    )


# Prefect's rule for block names (prefect.types.names): checked here so that a name Prefect would
# refuse costs a line, not a server start.
_BLOCK_NAME = re.compile(r"^[a-z0-9-]+$")

Settings = TypeVar("Settings", bound=BaseSettings)


def load(kind: type[Settings], **given: Any) -> Settings:
    """``kind`` from ``given`` (options, parameters) over ``TRIALEXPORT_*``; raises SettingError."""
    try:
        settings = kind(**given)
    except ValidationError as exc:
        raise _setting_error(kind, exc, given) from None
    block = getattr(settings, "secret_block", None)
    if block is not None and not _BLOCK_NAME.match(block):
        raise SecretBlockError(
            f"{_setting_name(kind, 'secret_block', given)}={block}: a Prefect block name "
            "(lowercase letters, digits and dashes)"
        )
    return settings


def _setting_name(kind: type[BaseSettings], name: str, given: dict[str, Any]) -> str:
    """The setting as the user wrote it: a parameter (or option) given, else the variable."""
    if given.get(name) is not None:
        return name
    return f"{kind.model_config.get('env_prefix', '')}{name}".upper()


def _setting_error(kind: type[BaseSettings], exc: ValidationError, given: dict[str, Any]) -> SettingError:
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "?"
    field = kind.model_fields.get(name)
    allowed = describe(field) if field is not None and error["type"] != "credentials_in_url" else error["msg"]
    value = error.get("input")
    if len(error["loc"]) > 1:  # one item of a list (formats=fhir,pdf): the setting as written
        value = given.get(name) or os.environ.get(_setting_name(kind, name, {}), value)
    return SettingError(
        _setting_name(kind, name, given), redacted(value) if isinstance(value, str) else value, allowed
    )


def describe(field: FieldInfo) -> str:
    """What a setting may be, in words: "an integer >= 1 (studies per Prefect task)"."""
    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is Literal:
        kind = "one of " + ", ".join(str(a) for a in args)
    elif typing.get_origin(annotation) is list and args and typing.get_origin(args[0]) is Literal:
        kind = "one or more of " + ", ".join(str(a) for a in typing.get_args(args[0]))
    else:
        base = args[0] if args else annotation
        names: dict[object, str] = {int: "an integer", float: "a number", bool: "true or false", str: "text"}
        kind = names.get(base, "a value")
    bounds = (
        (annotated_types.Ge, "ge", ">="),
        (annotated_types.Gt, "gt", ">"),
        (annotated_types.Le, "le", "<="),
        (annotated_types.Lt, "lt", "<"),
    )
    limits = [
        f"{sign} {getattr(item, attribute)}"
        for item in field.metadata
        for bound, attribute, sign in bounds
        if isinstance(item, bound)
    ]
    if limits:
        kind += " " + " and ".join(limits)
    description = (field.description or "").split(";")[0].split(" (")[0]
    return f"{kind} ({description})" if description else kind
