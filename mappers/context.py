"""Study model -> template context: the few values templates cannot compute for themselves.

Everything that is a *mapping* (which CT.gov code becomes which FHIR code, which field goes to
which element) lives in the templates, where users read and override it. This module only
supplies what needs Python: deterministic resource ids, the business identifier the conditional
PUTs key on, and the run's settings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mappers.identity import identity, missing_identity
from mappers.model import Identifier, Study

NCT_SYSTEM = "https://clinicaltrials.gov"
# Fixed namespace: changing it would change every resource id ever published.
ID_NAMESPACE = uuid.UUID("5b0f6b8e-3c0a-5d7e-9f0e-747269616c78")


@dataclass(frozen=True)
class MappingSettings:
    """The settings the templates see (plain data, so a job config can carry it)."""

    prs_org_name: str = "UNSPECIFIED-ORG"
    local_identifier_system: str = "urn:trialexport:source-document"
    fhir_version: str = "R4"


def business_identifier(study: Study, settings: MappingSettings) -> Identifier:
    """The one identifier a server finds this study by (``mappers.identity``), with its system.

    Conditional PUTs (``ResearchStudy?identifier=system|value``) key on it, so it must be stable
    across runs and never depend on content that may be edited.
    """
    found = identity(study.identifiers)
    if found is None:  # the readers reject such a record: reaching here is a bug
        raise ValueError(missing_identity(study.identifiers))
    system = found.system or (NCT_SYSTEM if found.kind == "nct" else settings.local_identifier_system)
    return found.model_copy(update={"system": system})


def resource_id(resource_type: str, identifier: Identifier) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, f"{resource_type}|{identifier.system}|{identifier.value}"))


def build_context(study: Study, settings: MappingSettings) -> dict:
    ident = business_identifier(study, settings)
    return {
        "study": study,
        "identifier": ident,
        "ids": {rtype: resource_id(rtype, ident) for rtype in ("Bundle", "ResearchStudy", "PlanDefinition")},
        "settings": settings,
        "nct_system": NCT_SYSTEM,
    }
