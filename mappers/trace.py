"""Which source values did not reach an output — found by looking, not by predicting.

Templates decide what each format can hold; rather than restating their conditions in Python
(a second copy of the mapping that drifts), the exporter checks the rendered outputs: every
free-text or numeric value of the study must appear among an output's values, else it is
reported as ``not-mapped`` for that output. Coded values (enums), yes/no flags, dates and ages
are translated by the templates (to codes, ISO dates, Ranges) and are not traced; a person's
name counts as mapped when its surname is there, since PRS splits names into parts. Two bulky
registry-derived values are not traced either: a site's coordinates (no XML format has an
element for them: two warnings per site per XML file, and the most costly values to look for in
a study of hundreds of sites) and the MeSH ancestors (the hierarchy above each heading, dozens a
study); README.md lists them among the values the XML formats do not write.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from lxml import etree

from mappers.context import mesh_code
from mappers.model import Study
from mappers.render import split_name

# dotted paths into Study.model_dump(); "*" is every item of a list
TRACED = (
    "identifiers.*.value",
    "nct_aliases.*",
    "brief_title",
    "official_title",
    "acronym",
    "brief_summary",
    "detailed_description",
    "conditions.*",
    "keywords.*",
    "condition_browse.meshes.*.term",
    "condition_browse.meshes.*.id",
    "interventions.*.name",
    "interventions.*.description",
    "interventions.*.other_names.*",
    "intervention_browse.meshes.*.term",
    "intervention_browse.meshes.*.id",
    "arms.*.label",
    "arms.*.description",
    "arms.*.dose.text",
    "outcomes.*.measure",
    "outcomes.*.description",
    "outcomes.*.time_frame",
    "design.target_duration",
    "design.intervention_model_description",
    "design.masking_description",
    "design.number_of_arms",
    "design.bio_spec_description",
    "design.endpoint_classification",
    "enrollment.count",
    "status.why_stopped",
    "expanded_access_info.nct_id",
    "oversight.authorities.*",
    "organization.name",
    "sponsor.name",
    "collaborators.*.name",
    "officials.*.name",
    "officials.*.affiliation",
    "contacts.*.name",
    "contacts.*.phone",
    "contacts.*.phone_ext",
    "contacts.*.email",
    "sites.*.facility",
    "sites.*.city",
    "sites.*.state",
    "sites.*.zip",
    "sites.*.country",
    "sites.*.contacts.*.name",
    "sites.*.contacts.*.phone",
    "sites.*.contacts.*.phone_ext",
    "sites.*.contacts.*.email",
    "sites.*.investigators.*.name",
    "removed_countries.*",
    "eligibility.criteria",
    "eligibility.gender_description",
    "eligibility.study_population",
    "responsible_party.investigator_name",
    "responsible_party.investigator_title",
    "responsible_party.investigator_affiliation",
    "responsible_party.old_name_title",
    "responsible_party.old_organization",
    "references.*.citation",
    "references.*.pmid",
    "links.*.url",
    "links.*.description",
    "ipd_sharing_statement.description",
    "ipd_sharing_statement.time_frame",
    "ipd_sharing_statement.access_criteria",
    "ipd_sharing_statement.url",
    "avail_ipds.*.id",
    "avail_ipds.*.type",
    "avail_ipds.*.url",
    "avail_ipds.*.comment",
    "large_docs.*.label",
    "large_docs.*.filename",
    "large_docs.*.url",
)
_NAMES = {"name"}
# values an output writes in a normal form: traced in that form (MeSH ids unpadded, D000001943 -> D001943)
_NORMAL_FORM = {"condition_browse.meshes.*.id": mesh_code, "intervention_browse.meshes.*.id": mesh_code}


def _walk(value, parts: list[str], where: str) -> Iterator[tuple[str, object]]:
    if value is None or value == "" or value == []:
        return
    if not parts:
        yield where, value
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        for index, item in enumerate(value, 1):
            yield from _walk(item, rest, f"{where}[{index}]")
    elif isinstance(value, dict):
        yield from _walk(value.get(head), rest, f"{where}.{head}" if where else head)


def traced_values(study: Study) -> list[tuple[str, str, bool]]:
    """(path, value, is_person_name) for every traced value the study has."""
    data = study.model_dump(exclude={"provenance", "issues"})
    out = []
    for spec in TRACED:
        parts = spec.split(".")
        is_name = parts[-1] in _NAMES and parts[0] in ("officials", "contacts", "sites")
        normal = _NORMAL_FORM.get(spec, str)
        out += [(path, str(normal(value)), is_name) for path, value in _walk(data, parts, "")]
    return out


def json_values(value) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from json_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from json_values(item)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield str(value)


def xml_values(document: bytes) -> Iterator[str]:
    root = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    for text in root.itertext():
        if text.strip():
            yield text.strip()


def untraced(
    study: Study, output_values: Iterable[str], traced: list[tuple[str, str, bool]] | None = None
) -> list[str]:
    """Paths of the study's values that appear nowhere in one output's values.

    ``traced`` is ``traced_values(study)`` when the caller checks several outputs of one study:
    dumping and walking the study once instead of once per output."""
    values = set(output_values)
    blob = "\n".join(values)
    missing = []
    for path, value, is_name in traced_values(study) if traced is None else traced:
        if value in values or value in blob:
            continue
        if is_name and (last := split_name(value)["last"]) and last in values:
            continue
        missing.append(path)
    return missing
