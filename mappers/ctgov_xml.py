"""Whether a study can be written as a public record XML at all.

public.xsd requires elements (NCT id, brief title, lead sponsor, status, study type) that a
source may not have; rather than invent them, the exporter skips the public XML and says why.
The code tables are read from ``templates/ctgov/_codes.xml.j2`` itself, so a code the template
cannot translate is exactly a code that counts as missing. What a written XML leaves out is
found by ``mappers.trace`` on the rendered file, not predicted here.
"""

from __future__ import annotations

from functools import cache

from mappers.model import Study
from mappers.render import environment

CODES_TEMPLATE = "ctgov/_codes.xml.j2"


@cache
def _codes():
    """The shipped code tables (a user overlay changes templates, not this check)."""
    return environment().get_template(CODES_TEMPLATE).module


def public_record_gaps(study: Study) -> list[str]:
    """Elements public.xsd requires that this study has no source for (empty: it can be written)."""
    codes = _codes()
    checks = [
        ("id_info/nct_id", study.nct_id),
        ("brief_title", study.brief_title),
        ("sponsors/lead_sponsor", study.sponsor and study.sponsor.name),
        ("source", study.sponsor and study.sponsor.name),
        ("overall_status", study.status.overall_status in codes.PUBLIC_STATUS),
        ("study_type", study.design.study_type in codes.STUDY_TYPE),
    ]
    return [element for element, present in checks if not present]
