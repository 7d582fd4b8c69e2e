"""The project's own FHIR package: the definitions of every extension trialexport invents.

Its sources live beside the templates that write the extensions (``templates/fhir/package/r4``
and ``r5``: ``package.json`` and one ``StructureDefinition-*.json`` per extension, with
snapshot), so a user overriding a template sees what the extension means. ``build_package``
makes the FHIR NPM package a validator or server loads (``package/`` prefix, ``.index.json``,
versions stamped with trialexport's): ``python -m mappers.fhir_package DIR`` writes both.
"""

from __future__ import annotations

import gzip
import io
import json
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from mappers.context import trialexport_version
from mappers.render import SHIPPED_TEMPLATES

PACKAGE_SOURCES = SHIPPED_TEMPLATES / "fhir" / "package"
RELEASES = ("r4", "r5")


@dataclass(frozen=True)
class PackageContents:
    manifest: dict  # package.json
    resources: dict[str, dict]  # file name -> resource


def contents(release: str) -> PackageContents:
    """The package's manifest and resources, versions stamped with trialexport's version."""
    source = PACKAGE_SOURCES / release
    current = trialexport_version()
    manifest = json.loads((source / "package.json").read_text()) | {"version": current}
    resources = {}
    for path in sorted(source.glob("*.json")):
        if path.name == "package.json":
            continue
        resource = json.loads(path.read_text())
        if "url" in resource:
            resource["version"] = current
        resources[path.name] = resource
    return PackageContents(manifest, resources)


def extension_urls(release: str) -> set[str]:
    """Canonical URLs of the extensions the package defines."""
    return {
        r["url"]
        for r in contents(release).resources.values()
        if r.get("resourceType") == "StructureDefinition" and r.get("type") == "Extension"
    }


def _index(resources: dict[str, dict]) -> dict:
    """``.index.json`` as the FHIR package specification describes it (index-version 1)."""
    files = []
    for name, r in resources.items():
        entry = {"filename": name, "resourceType": r["resourceType"], "id": r.get("id")}
        entry |= {k: r[k] for k in ("url", "version", "kind", "type") if k in r}
        files.append(entry)
    return {"index-version": 1, "files": files}


def package_archive(release: str) -> tuple[str, bytes]:
    """The package's file name (``<name>-<version>.tgz``) and bytes; the same bytes for the same
    sources (no timestamps)."""
    package = contents(release)
    members = {"package/package.json": package.manifest, "package/.index.json": _index(package.resources)}
    members |= {f"package/{name}": resource for name, resource in package.resources.items()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, value in members.items():
            data = (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            archive.addfile(info, io.BytesIO(data))
    name = f"{package.manifest['name']}-{package.manifest['version']}.tgz"
    return name, gzip.compress(buffer.getvalue(), mtime=0)


def build_package(release: str, directory: Path) -> Path:
    """Write ``<name>-<version>.tgz`` into ``directory``; byte-identical for the same sources."""
    name, data = package_archive(release)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / name
    target.write_bytes(data)
    return target


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    for release in RELEASES:
        print(build_package(release, out))
