"""Regenerate ``r4.json`` / ``r5.json`` from the official FHIR packages (needs npm and the registry).

    python -m validation.definitions.build R4|R5 [--package DIR]

Without ``--package`` the package is fetched with ``npm pack`` into a temporary directory.
Only what the emitted resources can contain is kept: the resources below, and every datatype
reachable from them, expanded to JSON paths (``arm.type.coding``) up to a fixed depth.
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
    out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    bindings = sum(len(t["bindings"]) for t in data["types"].values())
    constraints = sum(len(t["constraints"]) for t in data["types"].values())
    print(f"wrote {out.name}: {len(data['types'])} types, {bindings} bindings, {constraints} constraints")


if __name__ == "__main__":
    main()
