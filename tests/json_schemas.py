"""Validate the command line's JSON against the documented schemas in ``docs/schemas/``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from pipelines.interfaces import (
    INGEST_SCHEMA_VERSION,
    QUERY_SCHEMA_VERSION,
    SCHEMA_FILES,
    STATUS_SCHEMA_VERSION,
)

VERSIONS = {
    "ingest": INGEST_SCHEMA_VERSION,
    "status": STATUS_SCHEMA_VERSION,
    "query": QUERY_SCHEMA_VERSION,
}
ROOT = Path(__file__).resolve().parents[1]


def schema(name: str) -> dict[str, Any]:
    """The schema of output ``name`` (:data:`pipelines.interfaces.SCHEMA_FILES`), checked to be a
    valid draft 2020-12 schema whose ``$id`` ends with the version the code declares."""
    document: dict[str, Any] = json.loads((ROOT / SCHEMA_FILES[name]).read_text())
    jsonschema.Draft202012Validator.check_schema(document)
    assert document["$id"].endswith(f"/{name}/{VERSIONS[name]}"), document["$id"]
    return document


def validate(document: object, name: str) -> None:
    """Raise :class:`jsonschema.ValidationError` unless ``document`` follows schema ``name``."""
    jsonschema.Draft202012Validator(
        schema(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(document)


def keys(value: object) -> set[str]:
    """Every key of every object inside ``value``."""
    if isinstance(value, dict):
        return set(value) | {k for item in value.values() for k in keys(item)}
    if isinstance(value, list):
        return {k for item in value for k in keys(item)}
    return set()
