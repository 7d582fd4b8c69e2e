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
    fhir_version: Literal["R4"] = "R4"
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
