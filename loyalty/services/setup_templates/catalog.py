"""The shipped templates: loyalty/setup_templates/<key>/<version>.json, checked on load.

A published version never changes (tests/unit/test_setup_template_files.py keeps a hash of
each): a change is a new file with the next version number, so a merchant's earlier apply
always names exactly what it applied.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from marshmallow import ValidationError

from loyalty.errors import NotFound, ValidationFailed
from loyalty.schemas.setup_templates import ManifestSchema

HOME = Path(__file__).resolve().parents[2] / "setup_templates"


class BadManifest(ValueError):
    """A shipped file that does not hold a valid manifest: a bug in the repository."""


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        manifest = ManifestSchema().load(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, ValidationError) as exc:
        raise BadManifest(f"{path}: {exc}") from None
    if (manifest["key"], str(manifest["version"])) != (path.parent.name, path.stem):
        raise BadManifest(f"{path}: key and version must match the folder and file name.")
    return manifest


@lru_cache(maxsize=1)
def catalog() -> dict[str, dict[int, dict[str, Any]]]:
    """Every template's versions, by key then version number."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for path in sorted(HOME.glob("*/*.json")):
        manifest = load_manifest(path)
        found.setdefault(manifest["key"], {})[manifest["version"]] = manifest
    return found


def summaries() -> list[dict[str, Any]]:
    """The latest version of each template, by title."""
    latest = [versions[max(versions)] for versions in catalog().values()]
    return sorted(latest, key=lambda m: m["title"])


def versions_of(key: str) -> dict[int, dict[str, Any]]:
    versions = catalog().get(key)
    if not versions:
        raise NotFound(f"No setup template '{key}'.")
    return versions


def detail(key: str) -> dict[str, Any]:
    versions = versions_of(key)
    return {"latest": versions[max(versions)], "versions": sorted(versions)}


def manifest(key: str, version: int) -> dict[str, Any]:
    versions = versions_of(key)
    if version not in versions:
        raise ValidationFailed(f"Template '{key}' has no version {version}.", fields={
            "version": ["Known versions: " + ", ".join(map(str, sorted(versions))) + "."]})
    return versions[version]
