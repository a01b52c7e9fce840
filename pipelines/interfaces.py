"""The command line's machine-readable outputs as versioned contracts.

``mindmiles ingest --json`` and ``mindmiles status --json`` print one object with a
``schema_version`` key; ``mindmiles query --format json`` prints one array of row objects (its
version is the schema file's, a bare array has no room for a key). Each is described by a JSON
Schema (draft 2020-12) in ``docs/schemas/``, which ``tests/test_interfaces.py`` checks real output
against. A new key is added without a new version (readers ignore keys they do not know); a key
removed, renamed or given another meaning raises the version.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = [
    "INGEST_SCHEMA_VERSION",
    "QUERY_SCHEMA_VERSION",
    "SCHEMA_FILES",
    "STATUS_SCHEMA_VERSION",
    "package_version",
]

INGEST_SCHEMA_VERSION = 1
STATUS_SCHEMA_VERSION = 1
QUERY_SCHEMA_VERSION = 1
SCHEMA_FILES = {
    "ingest": "docs/schemas/ingest.schema.json",
    "status": "docs/schemas/status.schema.json",
    "query": "docs/schemas/query.schema.json",
}
"""Output -> its JSON Schema, relative to the repository."""


def package_version() -> str:
    """The installed ``mindmiles`` distribution's version (``unknown`` when not installed)."""
    try:
        return version("mindmiles")
    except PackageNotFoundError:
        return "unknown"
