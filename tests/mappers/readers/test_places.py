"""Sites of the CSV export's ``Locations`` cell (``Facility, City, State, Zip, Country``) read by
what each part can be, on the real rows the issue names and on the shapes around them."""

import pytest
from lxml import etree

from mappers.context import MappingSettings
from mappers.export import export_study
from mappers.readers import read_document
from mappers.readers.places import is_subdivision, parse_location
from tests.conftest import ROOT

CSV = ROOT / "tests" / "fixtures" / "ctgov" / "csv"


def study_of(export: str, nct: str):
    path = CSV / export
    return next(s for s in read_document(path.read_bytes(), path.name) if s.nct_id == nct)


def sites(study) -> list[tuple]:
    return [(s.facility, s.city, s.state, s.zip, s.country) for s in study.sites]


@pytest.mark.parametrize(
    ("cell", "parts"),
    [
        # NCT03555344: the state is an Indian state (ISO 3166-2 writes "Rājasthān")
        (
            "NMP Medical Research Institute, Jaipur, Rajasthan, 302019, India",
            ("NMP Medical Research Institute", "Jaipur", "Rajasthan", "302019", "India"),
        ),
        # NCT02055924: Liège is a Belgian province as well as the city; "CHU de Liège" is no city
        ("CHU de Liège, Liège, Belgium", ("CHU de Liège", "Liège", None, None, "Belgium")),
        (
            "Hospital Universitari i Politecnic La Fe, Valencia, 46026, Spain",
            ("Hospital Universitari i Politecnic La Fe", "Valencia", None, "46026", "Spain"),
        ),
        (
            "Hospital X, Madrid, Madrid, 28040, Spain",
            ("Hospital X", "Madrid", "Madrid", "28040", "Spain"),
        ),
        (
            "Instituto Mexicano del Seguro Social, Mérida, Yucatán, Mexico",
            ("Instituto Mexicano del Seguro Social", "Mérida", "Yucatán", None, "Mexico"),
        ),
        # ISO names with a type word ("Sichuan Sheng"); facility parts joined without a space
        (
            "West China Hospital,Sichuan University, Chengdu, Sichuan, China",
            ("West China Hospital,Sichuan University", "Chengdu", "Sichuan", None, "China"),
        ),
        (
            "Lady Hardinge Medical College,New Delhi, Delhi, India",
            ("Lady Hardinge Medical College", "New Delhi", "Delhi", None, "India"),
        ),
        # a Japanese address packed into the city, its parts joined without spaces
        (
            "Akita University School of Medicine, Akita,Hondo,1-1-1, Akita, Japan",
            ("Akita University School of Medicine", "Akita,Hondo,1-1-1", "Akita", None, "Japan"),
        ),
        # a city with a district number is not a postal code; a placeholder zip is one
        (
            "Research Site, Praha 2, Czechia",
            ("Research Site", "Praha 2", None, None, "Czechia"),
        ),
        (
            "Pfizer Investigational Site, Medellín, Antioquia, 0, Colombia",
            ("Pfizer Investigational Site", "Medellín", "Antioquia", "0", "Colombia"),
        ),
        # no facility: City, State, Country
        ("Canton, Ohio, United States", (None, "Canton", "Ohio", None, "United States")),
        ("Paris, France", (None, "Paris", None, None, "France")),
        ("France", (None, None, None, None, "France")),
        # a country holding a comma; a stray empty part
        (
            "Samsung Medical Center, Seoul, Korea, Republic of",
            ("Samsung Medical Center", "Seoul", None, None, "Korea, Republic of"),
        ),
        (
            "Medipoint Hospitals Pvt. Ltd, Pune, Maharashtra, 411007,, India",
            ("Medipoint Hospitals Pvt. Ltd", "Pune", "Maharashtra", "411007", "India"),
        ),
    ],
)
def test_location_parts(cell, parts):
    p = parse_location(cell)
    assert (p.facility, p.city, p.state, p.zip, p.country) == parts


def test_subdivisions_ignore_accents_and_type_words():
    assert is_subdivision("Rajasthan", "India") and is_subdivision("Rājasthān", "India")
    assert is_subdivision("Sichuan", "China") and is_subdivision("Liège", "Belgium")
    assert not is_subdivision("Jaipur", "India") and not is_subdivision("Ohio", "Canada")


def test_nct03555344_keeps_its_city_and_state():
    study = study_of("ctg-studies_full30cols_hypertension.csv", "NCT03555344")
    assert sites(study) == [("NMP Medical Research Institute", "Jaipur", "Rajasthan", "302019", "India")]


def test_nct02055924_keeps_every_facility():
    study = study_of("legacy_SearchResults_B-cell_lymphoma.csv", "NCT02055924")
    got = sites(study)
    assert ("CHU de Liège", "Liège", None, None, "Belgium") in got
    assert ("Hôpital Saint Louis", "Paris", None, None, "France") in got
    assert len(got) == 15 and all(facility for facility, *_ in got)


@pytest.mark.parametrize(
    ("export", "nct", "facility", "city"),
    [
        (
            "ctg-studies_full30cols_hypertension.csv",
            "NCT03555344",
            "NMP Medical Research Institute",
            "Jaipur",
        ),
        ("legacy_SearchResults_B-cell_lymphoma.csv", "NCT02055924", "CHU de Liège", "Liège"),
    ],
)
def test_the_sites_reach_prs(export, nct, facility, city):
    study = study_of(export, nct)
    result = export_study(study, MappingSettings(prs_org_name="EXAMPLE-ORG"))
    prs = next(data for name, data in result.files.items() if name.endswith("prs.xml"))
    root = etree.fromstring(prs if isinstance(prs, bytes) else prs.encode())
    locations = {
        (loc.findtext(".//facility/name"), loc.findtext(".//address/city"))
        for loc in root.iter("{*}location", "location")
    }
    assert (facility, city) in locations
    assert len(locations) == len(study.sites)
