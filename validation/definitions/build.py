"""Regenerate ``r4.json`` / ``r5.json`` and ``r4.schema.json`` / ``r5.schema.json`` from the
official FHIR packages (needs npm and the registry).

    python -m validation.definitions.build R4|R5 [--package DIR]

Without ``--package`` the package is fetched with ``npm pack`` into a temporary directory.

``rN.json``: only what the emitted resources can contain is kept: the resources below, and every
datatype reachable from them, with their required bindings and constraints.

``rN.schema.json``: the package's own FHIR JSON Schema (``openapi/fhir.schema.json``), which
checks element names, types, choice types and primitive patterns, completed with what it leaves
out and the package's StructureDefinitions state (see ``structure_schema``). Descriptions are
dropped (four fifths of its size); nothing is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

PACKAGES = {"R4": "hl7.fhir.r4b.core@4.3.0", "R5": "hl7.fhir.r5.core@5.0.0"}
RESOURCES = (
    "EvidenceVariable",  # R5 comparisonGroup.intendedExposure
    "ResearchStudy",
    "PlanDefinition",
    "ActivityDefinition",
    "Group",
    "Location",
    "Organization",
    "Practitioner",
    "Bundle",
)
SKIPPED_CONSTRAINTS = {"ele-1"}  # every element: covered by pruning empty values and the bundle rules
HERE = Path(__file__).parent


class Package:
    def __init__(self, root: Path):
        self.root = root
        self._by_url: dict[str, dict] | None = None

    def structure(self, name: str) -> dict | None:
        path = self.root / f"StructureDefinition-{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    def _index(self) -> dict[str, dict]:
        if self._by_url is None:
            self._by_url = {}
            for pattern in ("ValueSet-*.json", "CodeSystem-*.json"):
                for path in self.root.glob(pattern):
                    resource = json.loads(path.read_text())
                    self._by_url[resource["url"]] = resource
        return self._by_url

    def codes(self, value_set_url: str) -> list[str] | None:
        """``system|code`` strings of a value set, or None when it cannot be expanded here."""
        value_set = self._index().get(value_set_url.split("|")[0])
        if not value_set or value_set.get("resourceType") != "ValueSet":
            return None
        codes: set[str] = set()
        for include in value_set.get("compose", {}).get("include", []):
            system = include.get("system")
            if include.get("valueSet") or include.get("filter") or not system:
                return None
            if include.get("concept"):
                codes |= {f"{system}|{c['code']}" for c in include["concept"]}
                continue
            code_system = self._index().get(system)
            if not code_system or code_system.get("content") != "complete":
                return None
            codes |= {f"{system}|{code}" for code in _concepts(code_system.get("concept", []))}
        return sorted(codes)


def _concepts(concepts: list[dict]) -> list[str]:
    out = []
    for concept in concepts:
        out.append(concept["code"])
        out += _concepts(concept.get("concept", []))
    return out


def _json_names(element: dict, name: str) -> list[tuple[str, str | None]]:
    """(JSON property name, datatype) pairs for one element; choice types expand."""
    types = [t["code"] for t in element.get("type", [])]
    if name.endswith("[x]"):
        stem = name[:-3]
        return [(stem + t[0].upper() + t[1:], t) for t in types]
    return [(name, types[0] if types else None)]


def _constraints(element: dict) -> list[dict]:
    return [
        {"key": c["key"], "human": c["human"], "expression": c["expression"]}
        for c in element.get("constraint", [])
        if c["key"] not in SKIPPED_CONSTRAINTS and c.get("severity") == "error"
    ]


class Extractor:
    """Types reachable from the emitted resources: their elements, required bindings, constraints.

    A type is a resource, a datatype, or a backbone element named by its path
    (``PlanDefinition.action``); validation walks the JSON with this map, so each constraint is
    stored once, on the type it belongs to, not once per path it can be reached by.
    """

    def __init__(self, pkg: Package):
        self.pkg = pkg
        self.types: dict[str, dict] = {}
        self.unexpanded: set[str] = set()

    def add_structure(self, name: str) -> None:
        if name in self.types:
            return
        structure = self.pkg.structure(name)
        if structure is None or structure.get("kind") == "primitive-type":
            return
        elements = structure["snapshot"]["element"]
        by_path = {e["path"]: e for e in elements}
        self._add_type(name, elements[0]["path"], by_path, _constraints(elements[0]))

    def _add_type(self, type_name: str, root: str, by_path: dict, constraints: list[dict]) -> None:
        entry = {"elements": {}, "bindings": {}, "constraints": constraints}
        self.types[type_name] = entry
        for path, element in by_path.items():
            if not path.startswith(root + ".") or "." in path[len(root) + 1 :]:
                continue
            for json_name, datatype in _json_names(element, path[len(root) + 1 :]):
                entry["elements"][json_name] = self._child_type(element, datatype, path, by_path)
                binding = element.get("binding", {})
                if binding.get("strength") == "required" and binding.get("valueSet"):
                    codes = self.pkg.codes(binding["valueSet"])
                    if codes is None:
                        self.unexpanded.add(f"{type_name}.{json_name}: {binding['valueSet']}")
                    else:
                        entry["bindings"][json_name] = {"valueSet": binding["valueSet"], "codes": codes}

    def _child_type(self, element: dict, datatype: str | None, path: str, by_path: dict) -> str | None:
        if element.get("contentReference"):
            return element["contentReference"].lstrip("#")
        if datatype in ("BackboneElement", "Element") and any(p.startswith(path + ".") for p in by_path):
            if path not in self.types:
                constraints = [c for c in _constraints(element) if not c["key"].startswith("ele-")]
                self._add_type(path, path, by_path, constraints)
            return path
        if datatype and datatype[0].isupper() and datatype != "Resource":
            self.add_structure(datatype)
        return datatype


def extract(root: Path, release: str) -> dict:
    extractor = Extractor(Package(root))
    for resource in RESOURCES:
        extractor.add_structure(resource)
    return {
        "package": PACKAGES[release],
        "resources": list(RESOURCES),
        "types": dict(sorted(extractor.types.items())),
        "unexpanded_bindings": sorted(extractor.unexpanded),
    }


SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"  # the package's is draft-06; 07 adds if/then
# Calendar checks the schema's patterns cannot make (2021-02-30 matches them): jsonschema formats,
# implemented in validation/structure.py.
DATE_FORMATS = {"date": "fhir-date", "dateTime": "fhir-date", "instant": "fhir-date"}


def _cleaned(node):
    """Without descriptions, and without the ``pattern`` of ``decimal`` (``type: number``): a
    pattern applies to strings only, so it never applied to a JSON number, and R5's is not even
    a valid regular expression (``[0-9]{1,9}})?``), which a compiling validator refuses."""
    if isinstance(node, dict):
        return {
            k: _cleaned(v)
            for k, v in node.items()
            if not (k == "description" and isinstance(v, str))
            and not (k == "pattern" and node.get("type") == "number")
        }
    if isinstance(node, list):
        return [_cleaned(v) for v in node]
    return node


def _referenced(prop: dict) -> str | None:
    ref = (prop.get("items") or prop).get("$ref", "")
    return ref.rsplit("/", 1)[-1] or None


def _definition_at(definitions: dict, type_name: str, parts: list[str]) -> str | None:
    """The schema definition of a backbone element (``ResearchStudy.arm`` -> ``ResearchStudy_Arm``),
    found by following the schema's own references rather than guessing its naming."""
    name: str | None = type_name
    for part in parts:
        prop = definitions.get(name, {}).get("properties", {}).get(part)
        if not isinstance(prop, dict) or not (name := _referenced(prop)):
            return None
    return name


def _alternatives(element: dict, name: str, properties: dict) -> list[str]:
    """The JSON properties any one of which satisfies a required element: a primitive may be
    present as its value or only as ``_name`` (an extension such as data-absent-reason); a choice
    ``value[x]`` as any of its types."""
    names = [json_name for json_name, _ in _json_names(element, name)]
    return [n for base in names for n in (base, "_" + base) if n in properties]


def _required(pkg_root: Path, definitions: dict) -> int:
    """Add every element of minimum cardinality >= 1 to its definition: a plain ``required`` for
    a complex element, else an ``if`` none of its forms is present ``then`` require the element's
    FHIR name (``status``, ``value[x]``), so the error names the element as the specification
    does. Only base definitions (``derivation: specialization``) of resources and complex types."""
    added = 0
    for path in sorted(pkg_root.glob("StructureDefinition-*.json")):
        structure = json.loads(path.read_text())
        if structure.get("derivation") != "specialization" or structure.get("kind") not in (
            "resource",
            "complex-type",
        ):
            continue
        type_name = structure["type"]
        for element in structure["snapshot"]["element"][1:]:
            if element.get("min", 0) < 1 or "contentReference" in element:
                continue
            *parents, name = element["path"].split(".")[1:]
            definition = definitions.get(_definition_at(definitions, type_name, parents) or "")
            if definition is None:
                continue
            alternatives = _alternatives(element, name, definition.get("properties", {}))
            if len(alternatives) == 1:
                required = definition.setdefault("required", [])
                if alternatives[0] not in required:
                    required.append(alternatives[0])
            elif alternatives:
                forms = {"anyOf": [{"required": [a]} for a in alternatives]}
                definition.setdefault("allOf", []).append(
                    {"if": {"not": forms}, "then": {"required": [name]}}
                )
            else:
                continue
            added += 1
    return added


def structure_schema(pkg_root: Path) -> tuple[dict, int]:
    """The package's JSON Schema, completed where it is looser than the StructureDefinitions:

    * minimum cardinalities (``_required``);
    * no descriptions, no patterns on numbers (``_cleaned``);
    * ``Resource.id`` is of type ``id`` (the schema writes it as ``string``);
    * dates are valid calendar dates (``format``, see ``DATE_FORMATS``);
    * a contained resource (``ResourceList``) is checked against its own type, chosen by
      ``resourceType`` (``if``/``then``), instead of a ``oneOf`` over every resource, which tries
      all ~150 and reports only that none matched.
    """
    source = json.loads((pkg_root / "openapi" / "fhir.schema.json").read_text())
    definitions = _cleaned(source["definitions"])
    resources = sorted(source["discriminator"]["mapping"])
    added = _required(pkg_root, definitions)
    for resource in resources:
        properties = definitions[resource].get("properties", {})
        if "id" in properties:
            properties["id"] = {"$ref": "#/definitions/id"}
    for primitive, fmt in DATE_FORMATS.items():
        definitions[primitive]["format"] = fmt
    definitions["ResourceList"] = {
        "type": "object",
        "required": ["resourceType"],
        "properties": {"resourceType": {"enum": resources}},
        "allOf": [
            {
                "if": {"properties": {"resourceType": {"const": r}}},
                "then": {"$ref": f"#/definitions/{r}"},
            }
            for r in resources
        ],
    }
    schema = {"$schema": SCHEMA_DRAFT, "$id": source["id"], "definitions": definitions}
    return schema, added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("release", choices=sorted(PACKAGES), help="FHIR release")
    parser.add_argument("--package", type=Path, help="an unpacked package directory (its package/ folder)")
    args = parser.parse_args()
    out = HERE / f"{args.release.lower()}.json"
    with tempfile.TemporaryDirectory() as tmp:
        root = args.package
        if root is None:
            command = ["npm", "pack", PACKAGES[args.release], "--silent"]
            subprocess.run(command, cwd=tmp, check=True, capture_output=True)
            [tarball] = Path(tmp).glob("*.tgz")
            with tarfile.open(tarball) as archive:
                archive.extractall(tmp, filter="data")
            root = Path(tmp) / "package"
        data = extract(root, args.release)
        schema, required = structure_schema(root)
    out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    schema_out = HERE / f"{args.release.lower()}.schema.json"
    schema_out.write_text(json.dumps({"package": PACKAGES[args.release], **schema}, indent=0) + "\n")
    print(f"wrote {schema_out.name}: {len(schema['definitions'])} definitions, {required} required elements")
    bindings = sum(len(t["bindings"]) for t in data["types"].values())
    constraints = sum(len(t["constraints"]) for t in data["types"].values())
    print(f"wrote {out.name}: {len(data['types'])} types, {bindings} bindings, {constraints} constraints")


if __name__ == "__main__":
    main()
