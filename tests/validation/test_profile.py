"""Required bindings and FHIRPath invariants: what fhir.resources lets through, caught here."""

import copy
import json

import pytest
from fhir.resources.R4B.researchstudy import ResearchStudy

from tests.conftest import ROOT
from validation.fhir import validate_bundle
from validation.profile import DEFINITIONS, NATIVE, check_resource

GOLDEN = ROOT / "tests" / "golden" / "seeds"


@pytest.fixture
def bundle():
    return json.loads((GOLDEN / "004_8c3e1bb58083379b" / "fhir-r4-bundle.json").read_text())


def codes(issues):
    return [(i.code, i.field) for i in issues]


def test_the_seed_bundles_pass(bundle):
    assert check_resource(bundle) == []
    other = json.loads((GOLDEN / "000_7c5a8bd566a2bac6" / "fhir-r4-bundle.json").read_text())
    assert check_resource(other) == []


def test_a_bogus_status_passes_fhir_resources_but_not_the_binding(bundle):
    study = bundle["entry"][0]["resource"]
    study.pop("_status")
    study["status"] = "bogus"
    ResearchStudy.model_validate(study)  # structure only: accepted
    [issue] = check_resource(bundle)
    assert issue.code == "fhir-binding" and issue.field == "Bundle.entry[0].resource.status"
    assert "research-study-status" in issue.message


def test_a_period_ending_before_it_starts_violates_per_1(bundle):
    bundle["entry"][0]["resource"]["period"] = {"start": "2022-05-01", "end": "2021-01-01"}
    [issue] = check_resource(bundle)
    assert issue.code == "fhir-invariant" and "per-1" in issue.message


def test_partial_dates_in_order_pass_per_1(bundle):
    bundle["entry"][0]["resource"]["period"] = {"start": "2021-05", "end": "2021-06-14"}
    assert check_resource(bundle) == []


def test_an_extension_with_value_and_extensions_violates_ext_1(bundle):
    """ext-1 is the bundle rule fhir-extension (validation/fhir.py), on every extension."""
    bad = {"url": "urn:x", "valueString": "a", "extension": [{"url": "urn:y", "valueString": "b"}]}
    bundle["entry"][1]["resource"]["goal"][0]["extension"].append(bad)
    assert NATIVE["ext-1"] is None and check_resource(bundle) == []
    [issue] = validate_bundle(bundle)
    assert (issue.code, issue.field) == ("fhir-extension", "PlanDefinition.goal[0].extension[1]")
    assert "ext-1" in issue.message


def test_bindings_reach_datatypes_and_contained_resources(bundle):
    study = bundle["entry"][0]["resource"]
    study["identifier"][0]["use"] = "primary"  # Identifier.use: usual | official | temp | secondary | old
    study["contained"][0]["type"] = "people"  # Group.type
    assert codes(check_resource(bundle)) == [
        ("fhir-binding", "Bundle.entry[0].resource.contained[0].type"),
        ("fhir-binding", "Bundle.entry[0].resource.identifier[0].use"),
    ]


def test_bundle_level_invariants_and_bindings(bundle):
    broken = copy.deepcopy(bundle)
    broken["type"] = "transactions"
    broken["entry"][0]["request"]["method"] = "PATCHY"
    found = codes(check_resource(broken))
    assert ("fhir-binding", "Bundle.type") in found
    assert ("fhir-binding", "Bundle.entry[0].request.method") in found
    broken = copy.deepcopy(bundle)
    broken["total"] = 2  # bdl-1: total only when a search or history
    assert any("bdl-1" in i.message for i in check_resource(broken))


def test_bundle_invariants_read_the_entries_resources_through_the_shell(bundle):
    """bdl-* run on a shell of the bundle (each resource cut to its type, id and meta): what they
    read of a resource must still be there."""
    broken = copy.deepcopy(bundle)
    broken["type"] = "history"  # bdl-3/bdl-4: history entries need a request and a response
    found = {i.message.split(" violated")[0].rsplit(" ", 1)[-1] for i in check_resource(broken)}
    assert {"bdl-4"} <= found
    broken = copy.deepcopy(bundle)
    broken["type"] = "document"  # bdl-11: a document starts with a Composition
    assert any("bdl-11" in i.message for i in check_resource(broken))
    broken = copy.deepcopy(bundle)
    broken["type"] = "searchset"
    del broken["entry"][0]["resource"]
    del broken["entry"][0]["request"]  # bdl-5: an entry has a resource, request or response
    assert any("bdl-5" in i.message for i in check_resource(broken))


def test_contained_resources_may_not_carry_their_own_version(bundle):
    """dom-4/dom-5 are skipped on resources without contained ones, and hold on those with."""
    broken = copy.deepcopy(bundle)
    broken["entry"][0]["resource"]["contained"][0]["meta"] = {"versionId": "3", "security": [{"code": "x"}]}
    messages = [i.message for i in check_resource(broken)]
    assert any("dom-4" in m for m in messages) and any("dom-5" in m for m in messages)


def test_definitions_come_from_the_official_package():
    data = json.loads(DEFINITIONS["R4"].read_text())
    assert data["package"] == "hl7.fhir.r4b.core@4.3.0"
    status = data["types"]["ResearchStudy"]["bindings"]["status"]
    assert (
        "http://hl7.org/fhir/research-study-status|temporarily-closed-to-accrual-and-intervention"
        in status["codes"]
    )
    assert len(status["codes"]) == 11
    keys = {c["key"] for t in data["types"].values() for c in t["constraints"]}
    assert {"per-1", "ext-1", "dom-2", "bdl-1", "qty-3"} <= keys
    assert {"dom-3", "ref-1", "rng-2"} <= keys  # checked natively, but present in the definitions


def test_r5_definitions_and_native_boundary_checks():
    data = json.loads(DEFINITIONS["R5"].read_text())
    assert data["package"] == "hl7.fhir.r5.core@5.0.0"
    assert set(NATIVE) - {"per-1"} <= {c["key"] for t in data["types"].values() for c in t["constraints"]}
    study = {
        "resourceType": "ResearchStudy",
        "status": "active",
        "period": {"start": "2021", "end": "2021-06"},
    }
    assert check_resource(study, "R5") == []  # 2021 may start before June 2021 ends
    study["period"] = {"start": "2022-01-05", "end": "2021"}
    assert [i.code for i in check_resource(study, "R5")] == ["fhir-invariant"]
    study["period"] = {"start": "2021"}
    study["status"] = "recruiting"  # an R4 ResearchStudy status; R5's is publication status
    assert [i.code for i in check_resource(study, "R5")] == ["fhir-binding"]


def test_invariants_on_projections_give_the_results_of_whole_nodes(monkeypatch):
    """The memo evaluates each invariant on the node cut to the names the expression mentions
    (reduced to presence for presence-only ones); over real bundles and broken ones, every result
    equals the result on the whole node."""
    import validation.profile as profile
    from tests.validation.test_fhir import valid_bundle
    from tests.validation.test_structure import BROKEN, _bundles, _inputs

    compared = []
    memoised = profile._memoised

    def both(expression, version, type_name, node, context):
        got = memoised(expression, version, type_name, node, context)
        whole = profile._evaluate(expression, version, node, type_name, context)
        compared.append(expression)
        assert got == whole, (expression, node)
        return got

    monkeypatch.setattr(profile, "_memoised", both)
    profile._MEMO.clear()
    cases = [(b, v) for p in _inputs()[::3] for v in ("R4", "R5") for b in _bundles(p, v)]
    for mutate, _ in BROKEN.values():
        broken = valid_bundle()
        mutate(broken)
        cases.append((broken, "R4"))
    for bundle, version in cases:
        check_resource(bundle, version)
    assert len(set(compared)) > 20


def test_flat_nodes_memoised_by_their_shape_give_the_results_of_whole_nodes():
    """A presence-only invariant on a node of primitives is memoised by the node's shape as a
    tuple: each shape, seen in either order, gives what the whole node gives (cpt-2)."""
    import validation.profile as profile

    points: list[dict] = [
        {"system": "phone", "value": "+1 555 0100"},
        {"value": "+1 555 0101"},
        {"system": "email"},
        {"value": "x", "use": "work", "rank": 1},
        {"value": "", "system": True},
        {"value": "x", "_system": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}},
        {"use": "home"},
    ]
    expression = "value.empty() or system.exists()"
    for order in (points, points[::-1]):
        profile._MEMO.clear()
        for point in order:
            whole = profile._evaluate(expression, "R4", point, "ContactPoint", {})
            assert profile._memoised(expression, "R4", "ContactPoint", point, {}) == whole, point
    location = {"resourceType": "Location", "id": "l", "telecom": points[:2]}
    assert codes(check_resource(location)) == [("fhir-invariant", "Location.telecom[1]")]


@pytest.mark.parametrize(
    "meta",
    [
        None,
        {},
        {"versionId": "3"},
        {"_versionId": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}},
        {"lastUpdated": "2021-01-01T00:00:00Z"},
        {"security": [{"code": "x"}]},
        {"tag": [{"code": "x"}], "source": "http://example.org"},
    ],
)
@pytest.mark.parametrize("version", ["R4", "R5"])
def test_native_dom_4_and_dom_5_give_fhirpaths_results(meta, version):
    import validation.profile as profile

    inner = {"resourceType": "Location", "id": "a", "name": "x"} | (
        {"meta": meta} if meta is not None else {}
    )
    node = {
        "resourceType": "ResearchStudy",
        "status": "active",
        "contained": [{"resourceType": "Group"}, inner],
    }
    expressions = {
        c["key"]: c["expression"]
        for c in profile._definitions(version)["types"]["ResearchStudy"]["constraints"]
    }
    for key in ("dom-4", "dom-5"):
        whole = profile._evaluate(expressions[key], version, node, "ResearchStudy", {})
        assert NATIVE[key](node) == whole, (key, meta)


_PER_1_VALUES = [
    None,
    "2020",
    "2021",
    "2020-01",
    "2020-02",
    "2020-01-01",
    "2020-01-31",
    "2021-01-01",
    "2020-01-01T10:00:00Z",
    "2020-01-01T10:00:00+02:00",
    "2020-01-01T09:00:00-01:00",
    "2020-01-01T10:00:00.5Z",
]


_PER_1_DATES = [v for v in _PER_1_VALUES if v is None or "T" not in v]


@pytest.mark.parametrize(
    ("start", "end", "holds"),
    [
        ("2019-03-15", "2019-03", True),  # equal to the month: FHIRPath's comparison is empty
        ("2020-01", "2020", True),
        ("2019-03", "2019-03-15", True),
        ("2019-03-15", "2019-03-15", True),
        ("2019-03-16", "2019-03-15", False),
        ("2019-04-01", "2019-03", False),  # decided at the month: April is after March
        ("2021", "2020-12", False),
        ("2021-01-01", "2020", False),
    ],
)
def test_r4_per_1_compares_dates_as_fhirpath_does(start, end, holds):
    """R4's per-1 on two dates: compared at the coarser precision, and where they are equal
    there but of different precisions FHIRPath's comparison is empty, which does not violate
    it (fhirpathpy compared the strings, and rejected a study that started on a day of the month
    its completion names); the same answers as R5's per-1 by boundaries."""
    from validation.profile import NATIVE_R4, NATIVE_R5

    assert NATIVE_R4["per-1"]({"start": start, "end": end}) is holds
    assert NATIVE_R5["per-1"]({"start": start, "end": end}) is holds
    study = {"resourceType": "ResearchStudy", "status": "active", "period": {"start": start, "end": end}}
    issues = [i.message for i in check_resource(study, "R4")]
    violated = "ResearchStudy.period: per-1 violated: If present, start SHALL have a lower value than end"
    assert issues == ([] if holds else [violated])


@pytest.mark.parametrize("start", _PER_1_VALUES)
def test_native_r4_per_1_answers_dates_and_leaves_times_to_fhirpath(start):
    """Every pair of dates (any precisions) is answered in Python, as R5's boundaries answer
    it; a value with a time of day, a primitive's extension or a value of another type is left
    to fhirpathpy, and the walk reports what fhirpathpy reports for it."""
    import validation.profile as profile

    (constraint,) = (
        c for c in profile._definitions("R4")["types"]["Period"]["constraints"] if c["key"] == "per-1"
    )
    native = profile.NATIVE_R4["per-1"]
    for end in _PER_1_VALUES:
        node = {k: v for k, v in (("start", start), ("end", end)) if v is not None}
        if start in _PER_1_DATES and end in _PER_1_DATES:
            assert native(node) is profile.NATIVE_R5["per-1"](node), node
        elif start is not None and end is not None:
            assert native(node) is None, node
    extended = {
        "start": "2021",
        "_start": {"extension": [{"url": "http://x", "valueString": "y"}]},
        "end": "2020",
    }
    assert native(extended) is None and native({"start": "2021", "end": 5}) is None
    for node in (extended, {"start": "2020-01-01T10:00:00+02:00", "end": "2020-01-01T09:00:00-01:00"}):
        study = {"resourceType": "ResearchStudy", "status": "active", "period": node}
        by_fhirpath = profile.ProfileWalk("R4")
        by_fhirpath.invariant(constraint, node, "Period", "ResearchStudy.period", study, study)
        assert profile.check_resource(study, "R4") == by_fhirpath.issues


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_native_presence_invariants_give_fhirpaths_results(version):
    """Every invariant of either release that only asks whether elements of its node are there
    (cpt-2, ref-2, qty-3, att-1, …) answered from the node's keys is fhirpathpy's answer, for
    each element absent or holding a string, an object, a list, a number or false; a ``_x``
    extension, an empty or blank value is left to fhirpathpy."""
    import itertools

    import validation.profile as profile

    shapes = [None, "x", {"text": "x"}, [{"text": "x"}], ["x"], 0, False]
    compared = 0
    for type_name, spec in profile._definitions(version)["types"].items():
        for constraint in spec["constraints"]:
            native = profile._presence_native(constraint["expression"], spec["elements"])
            if native is None:
                continue
            names = [n for n, _ in profile._PRESENCE_TERMS.findall(constraint["expression"])]
            for values in itertools.product(shapes, repeat=len(names)):
                node = {n: v for n, v in zip(names, values, strict=True) if v is not None}
                try:
                    expected = profile._evaluate(constraint["expression"], version, node, type_name, {})
                except Exception:  # fhirpathpy cannot read that shape: then neither may the check
                    expected = None
                assert native(node) == expected, (type_name, constraint["key"], node)
                compared += 1
            for undecided in (
                {f"_{names[0]}": {"extension": []}},
                {names[0]: ""},
                {names[0]: " "},
                {names[0]: []},
            ):
                assert native(undecided) is None, (type_name, constraint["key"], undecided)
    assert compared > 500


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_native_drt_1_gives_fhirpaths_results(version):
    """drt-1 answered in Python is fhirpathpy's answer, its three-valued logic included (a
    Duration without a system holds when the other element is there); a ``_x`` extension or
    an empty value is left to fhirpathpy."""
    import itertools

    import validation.profile as profile

    (expression,) = (
        c["expression"]
        for c in profile._definitions(version)["types"]["Duration"]["constraints"]
        if c["key"] == "drt-1"
    )
    native = (profile.NATIVE_R5 if version == "R5" else profile.NATIVE_R4)["drt-1"]
    shapes: dict[str, list[object]] = {
        "value": [None, 5, 0, 1.5],
        "code": [None, "wk", "d"],
        "system": [None, "http://unitsofmeasure.org", "http://example.org/units"],
        "unit": [None, "weeks"],
    }
    for values in itertools.product(*shapes.values()):
        node = {k: v for k, v in zip(shapes, values, strict=True) if v is not None}
        assert native(node) == profile._evaluate(expression, version, node, "Duration", {}), node
    for undecided in (
        {"value": 5, "_code": {"extension": []}},
        {"value": 5, "code": ""},
        {"value": 5, "system": 1},
    ):
        assert native(undecided) is None, undecided


def test_a_native_check_reads_a_bundle_entry_as_fhirpathpy_did():
    """bdl-5 (``resource.exists() or request.exists() or response.exists()``) is a presence
    check, answered natively on the entry's shell, as fhirpathpy read it: an entry whose
    resource has none of the shell's elements is left to fhirpathpy, as before."""
    import validation.profile as profile

    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Basic", "code": {"text": "x"}}}, {"resource": {"foo": 1}}],
    }
    planned = profile.plan("R4", "Bundle.entry")
    assert planned is not None
    (native,) = (n for c, n, _ in planned[0] if c["key"] == "bdl-5")
    assert native is not profile._fhirpath
    shells = profile._bundle_shell(bundle, "Bundle")["entry"]
    assert native(shells[0]) is True and native(shells[1]) is None


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_native_type_implications_give_fhirpaths_results_on_well_formed_bundles(version):
    """An invariant that holds unless the Bundle is of some types (bdl-9, bdl-11, R5's bdl-3a…)
    answered from ``type`` is fhirpathpy's answer, on the seed bundle (its shell) as each type
    and as each type with the elements the implications read; its own types, no type or a
    ``_type`` extension are left to fhirpathpy. Only a walk of a bundle the structure check
    passed uses it: fhirpathpy raises on the other side of a malformed one, and
    ``check_resource`` keeps reporting that."""
    import validation.profile as profile

    seed = GOLDEN / "004_8c3e1bb58083379b" / f"fhir-{version.lower()}-bundle.json"
    bundle = profile._bundle_shell(json.loads(seed.read_text()), "Bundle")
    kinds = ["document", "message", "transaction", "batch", "history", "searchset", "collection"]
    kinds += ["transaction-response", "batch-response", "subscription-notification", "Transaction"]
    extra = {
        "identifier": {"system": "s"},
        "timestamp": "2020-01-01T00:00:00Z",
        "link": [{"relation": "self"}],
    }
    spec = profile._definitions(version)["types"]["Bundle"]
    planned = profile.plan(version, "Bundle", structured=True)
    assert planned is not None
    natives = {c["key"]: n for c, n, _ in planned[0]}
    compared = 0
    for constraint in spec["constraints"]:
        native = profile._vacuous_native(constraint["expression"], spec["elements"])
        if native is None:
            continue
        assert natives[constraint["key"]] is not profile._fhirpath  # the structured walk's plan uses it
        for kind in kinds:
            for more in ({}, extra):
                node = {**bundle, **more, "type": kind}
                expected = profile._evaluate(constraint["expression"], version, node, "Bundle", {})
                found = native(node)
                assert found is None or found == expected, (constraint["key"], kind, more)
                compared += found is not None
        assert native({k: v for k, v in bundle.items() if k != "type"}) is None
        assert native({**bundle, "_type": {"extension": []}}) is None
        # fhirpathpy raises on R5's bdl-3b of a transaction with an entry's ``request._method``
        method = {"method": "PUT", "_method": {"extension": [{"url": "u", "valueCode": "x"}]}}
        assert native({**bundle, "type": "batch", "entry": [{"request": method}]}) is None
    assert compared >= (40 if version == "R4" else 120)
    unstructured = profile.plan(version, "Bundle")
    assert unstructured is not None
    assert all(n is profile._fhirpath for c, n, _ in unstructured[0] if c["key"] in ("bdl-9", "bdl-11"))


@pytest.mark.parametrize("version", ["R4", "R5"])
def test_native_bundle_invariants_give_fhirpaths_results(version):
    """The Bundle's other invariants answered in Python on a well-formed bundle (bdl-1 … bdl-4,
    R5's bdl-16 and bdl-3c) are fhirpathpy's answers, for every type, with or without a total,
    and entries with or without a request (of each method), a response, a search and a
    resource; an empty object or a primitive's extension (``_method``) is left to fhirpathpy."""
    import itertools

    import validation.profile as profile

    kinds = ["transaction", "batch", "history", "searchset", "document", "transaction-response", "collection"]
    parts = {
        "request": [
            None,
            {"method": "PUT", "url": "X?identifier=s|v"},
            {"method": "GET", "url": "X"},
            {"url": "X"},
        ],
        "response": [None, {"status": "200"}],
        "search": [None, {"mode": "match"}],
        "resource": [None, {"resourceType": "Basic", "id": "b"}],
    }
    entries = [
        {k: v for k, v in zip(parts, values, strict=True) if v is not None}
        for values in itertools.product(*parts.values())
    ]
    entries = [e for e in entries if e]
    spec = profile._definitions(version)["types"]["Bundle"]
    compared = 0
    for constraint in spec["constraints"]:
        native = profile._STRUCTURED.get(constraint["expression"])
        if native is None:
            continue
        planned = profile.plan(version, "Bundle", structured=True)
        assert planned is not None and native in [n for _, n, _ in planned[0]]
        for kind, total, issues, count in itertools.product(
            kinds, [None, 3], [None, {"resourceType": "OperationOutcome"}], [0, 1, 2]
        ):
            for chosen in itertools.islice(itertools.combinations(entries, count), 0, None, 7):
                node: dict[str, object] = {"resourceType": "Bundle", "type": kind, "entry": list(chosen)}
                node |= {"total": total} if total is not None else {}
                node |= {"issues": issues} if issues is not None and version == "R5" else {}
                context = (
                    {"resource": node, "rootResource": node}
                    if "%resource" in constraint["expression"]
                    else {}
                )
                expected = profile._evaluate(constraint["expression"], version, node, "Bundle", context)
                found = native(node)
                assert found is None or found == expected, (constraint["key"], node)
                compared += found is not None
        for undecided in (
            {
                "resourceType": "Bundle",
                "type": "transaction",
                "entry": [{"request": {}, "search": {}, "response": {}}],
            },
            {"resourceType": "Bundle", "_type": {"extension": []}, "type": "transaction"},
            {"resourceType": "Bundle", "type": "transaction", "entry": ["x"]},
        ):
            assert native(undecided) in (None, True), (constraint["key"], undecided)
        extended = {"method": "PUT", "url": "X", "_method": {"extension": [{"url": "u", "valueCode": "x"}]}}
        assert (
            native({"resourceType": "Bundle", "type": "transaction", "entry": [{"request": extended}]})
            is None
        )
    assert compared > (2000 if version == "R4" else 1500)
