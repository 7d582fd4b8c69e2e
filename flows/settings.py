"""The job configuration: plain data, from CLI options, flow parameters or ``TRIALEXPORT_*`` env vars."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mappers.context import MappingSettings

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
    # ~200 studies keep a batch's task overhead (60-90 ms) under 10% of its work at ~3 ms a study.
    batch_size: int = Field(200, ge=1)

    def mapping(self) -> MappingSettings:
        return MappingSettings(
            prs_org_name=self.prs_org_name,
            local_identifier_system=self.local_identifier_system,
            fhir_version=self.fhir_version,
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
