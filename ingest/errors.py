"""The one exception tree of mindmiles.

Every error a reader can raise derives from :class:`MindmilesError`. Errors that concern one input
file derive from :class:`IngestError`; each leaf carries a stable ``reason_code`` (written to the
``files`` table) and a plain-language ``message`` that a receptionist can read (written to the
quarantine note). Library errors are translated at the boundary with ``raise ... from exc``.

::

    MindmilesError
    ├── ReaderRefused                  (internal, never stored) a fast reader hands a file to
    │   ├── FastPathRefused            its reference library: the columnar FIT decoder to fitparse,
    │   └── StreamRefused              the streaming GPX reader to gpxpy
    ├── TableFileError                 a journal, plan or roster CSV that cannot be read at all
    ├── ConfigError                    bad settings, missing secret, unreadable roster path
    ├── WarehouseError                 a table could not be written or read
    │   └── LockTimeout
    └── IngestError                    one input file cannot be taken in (reason_code, message)
        ├── UnsupportedFormat          unknown_format / empty_file
        ├── NotAnActivity              not_an_activity (settings FIT, GPX route, waypoints only)
        ├── CorruptFile                fit_corrupt / xml_malformed / tcx_invalid / gpx_invalid ...
        ├── UnsafeInput                xml_entities / archive_unsafe_path / archive_symlink /
        │                              archive_encrypted / archive_too_large / archive_too_deep
        ├── ResourceLimit              resource_limit (time or memory exceeded while parsing)
        └── SchemaViolation            schema_failed (frames outside physical ranges)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "ConfigError",
    "CorruptFile",
    "IngestError",
    "LockTimeout",
    "MindmilesError",
    "NotAnActivity",
    "ReaderRefused",
    "ResourceLimit",
    "SchemaViolation",
    "UnsafeInput",
    "UnsupportedFormat",
    "WarehouseError",
]


class MindmilesError(Exception):
    """Root of every error raised by mindmiles."""


class ReaderRefused(MindmilesError):
    """A fast reader cannot vouch for a file; its reference library reads it instead.

    Internal to the readers (never stored): each fast reader subclasses it with its own
    ``reasons`` table (reason code -> plain words), as data.

    Parameters
    ----------
    reason
        A key of the subclass's ``reasons``.
    detail
        Where and what (offsets, message or element names); never file contents.
    """

    reasons: ClassVar[Mapping[str, str]] = {}

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in self.reasons:
            raise ValueError(f"unknown refusal reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(self.reasons[reason] + (f" ({detail})" if detail else ""))


class ConfigError(MindmilesError):
    """Settings are missing or invalid (secret, folders, roster path)."""


class WarehouseError(MindmilesError):
    """A warehouse table could not be read or written."""


class LockTimeout(WarehouseError):
    """Another run holds the warehouse lock for longer than we were willing to wait."""


@dataclass
class IngestError(MindmilesError):
    """One input file cannot be taken in.

    Parameters
    ----------
    reason_code
        Stable machine-readable code, stored in the ``files`` table.
    message
        Plain-language explanation for clinic staff, written to the quarantine note.
    detail
        Technical detail for engineers (offsets, the library's own message); never file contents.
    evidence
        Structured evidence, e.g. pandera's failure cases, as plain mappings.
    """

    reason_code: str
    message: str
    detail: str = ""
    evidence: list[Mapping[str, Any]] = field(default_factory=list)

    default_code: ClassVar[str] = "ingest_error"

    def __post_init__(self) -> None:
        super().__init__(f"{self.reason_code}: {self.message}")

    def __str__(self) -> str:
        return f"{self.reason_code}: {self.message}"


class UnsupportedFormat(IngestError):
    """The bytes are not a format mindmiles reads (or the file is empty)."""


class NotAnActivity(IngestError):
    """A valid file that holds no workout (settings FIT, GPX route or waypoints)."""


class CorruptFile(IngestError):
    """A file of a known format that cannot be decoded."""


class UnsafeInput(IngestError):
    """A file that tries something dangerous (entity expansion, path traversal, bombs)."""


class ResourceLimit(IngestError):
    """Parsing exceeded its time or memory budget."""


class SchemaViolation(IngestError):
    """Decoded frames fail the table's pandera schema (values outside physical ranges)."""
