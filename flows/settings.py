"""The job configuration: plain data, from CLI options, flow parameters or ``TRIALEXPORT_*`` env vars."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from mappers.context import MappingSettings
from mappers.readers import MAX_STUDIES_PER_FILE

UNCONFIGURED_ORG = "UNCONFIGURED"


class ExportSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIALEXPORT_", extra="forbid")

    output: str = "output"
    templates: str | None = Field(None, description="directory whose templates override the shipped ones")
    fhir_version: Literal["R4", "R5"] = "R4"
    prs_org_name: str = Field(UNCONFIGURED_ORG, description="the PRS organisation name (id_info/org_name)")
    local_identifier_system: str = Field(
        "urn:trialexport:source-document",
        description="identifier system for studies that have no registry id (free-text documents)",
    )
    # A list, not a tuple: the run report records the settings as JSON and compares them.
    formats: Annotated[list[Literal["fhir", "prs", "public"]], NoDecode] = Field(
        ["fhir", "prs", "public"],
        min_length=1,
        description="outputs to write, comma-separated: fhir, prs, public (a study.json is always written)",
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
    batch_size: int = Field(200, ge=1)
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
        return MappingSettings(
            prs_org_name=self.prs_org_name,
            local_identifier_system=self.local_identifier_system,
            nct_identifier_system=self.nct_identifier_system,
            fhir_version=self.fhir_version,
            formats=tuple(self.formats),
            deep_validation=self.deep_validation,
        )


class PublishSettings(BaseSettings):
    """Where and how hard to publish. Credentials are deliberately not here: they are read from
    the environment or a Prefect Secret block by ``flows.publish.client.resolve_auth``, so that
    they never reach ``run-report.json`` (which records these settings)."""

    model_config = SettingsConfigDict(env_prefix="TRIALEXPORT_FHIR_", extra="forbid")

    url: str = Field(description="FHIR base URL the transaction bundles are POSTed to")
    concurrency: int = Field(4, ge=1, description="bundles in flight at once")
    batch_size: int = Field(50, ge=1, description="studies per Prefect task")
    rate_limit: float | None = Field(
        None, gt=0, description="at most this many requests per second (bundles, or parts of a split one)"
    )
    attempts: int = Field(5, ge=1, description="tries per request, the first included")
    max_delay: float = Field(30.0, ge=0, description="ceiling for one wait between tries, seconds")
    base_delay: float = Field(0.5, ge=0, description="first backoff, seconds; doubles each try")
    timeout: float = Field(60.0, gt=0, description="seconds for each of connect / read / write")
    task_retries: int = Field(2, ge=0, description="Prefect retries of a batch that still has failures")
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
