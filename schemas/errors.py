"""The one exception tree of mindmiles.

Every error a reader can raise derives from :class:`MindmilesError`. Errors that concern one input
file derive from :class:`IngestError`; each leaf carries a stable ``reason_code`` (written to the
``files`` table) and a plain-language ``message`` that a receptionist can read (written to the
quarantine note). Library errors are translated at the boundary with ``raise ... from exc``.

A whole CSV file (roster, journal, plan) that cannot be read raises a :class:`TableFileError`;
a single bad row never raises: its reader returns a :class:`RowIssue` next to the rows it kept.

::

    MindmilesError
    ├── ReaderRefused                  (internal, never stored) a fast reader hands a file to
    │   ├── FastPathRefused            its reference library: the columnar FIT decoder to fitparse,
    │   └── StreamRefused              the streaming GPX reader to gpxpy
    ├── TableFileError                 a journal, plan or roster CSV that cannot be read at all
    │   ├── JournalError               journal_invalid
    │   │   ├── JournalUnreadable      journal_unreadable (not UTF-8 text, empty)
    │   │   └── JournalUnrecognisedHeader  journal_unrecognised_header
    │   ├── PlanInvalid                plan_invalid
    │   └── RosterInvalid              roster_invalid
    ├── ConfigError                    bad settings, missing secret, unreadable roster path
    ├── QueryRefused                   invalid SQL, or SQL reaching outside the analyst tables
    ├── WarehouseError                 a table could not be written or read
    │   ├── LockTimeout
    │   └── TableInvalid               rows the run built break their table's model (a run fault)
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
    "JournalError",
    "JournalUnreadable",
    "JournalUnrecognisedHeader",
    "LockTimeout",
    "MindmilesError",
    "NotAnActivity",
    "PlanInvalid",
    "QueryRefused",
    "ReaderRefused",
    "ResourceLimit",
    "RosterInvalid",
    "RowIssue",
    "SchemaViolation",
    "TableFileError",
    "TableInvalid",
    "UnsafeInput",
    "UnsupportedFormat",
    "WarehouseError",
]


class MindmilesError(Exception):
    """Root of every error raised by mindmiles.

    ``exit_code`` is what the command line exits with when the error stops a command: 2 (the
    run itself failed) unless a subclass is a refusal of the input (1).
    """

    exit_code: ClassVar[int] = 2


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
    """Settings are missing or invalid (secret, folders, roster path).

    A refusal of the input, not a failure of a run: the command exits 1.
    """

    exit_code: ClassVar[int] = 1


class QueryRefused(MindmilesError):
    """``mindmiles query`` refused a statement: invalid SQL, or a reach outside the analyst tables.

    A refusal of the input, not a failure of a run: the command exits 1.
    """

    exit_code: ClassVar[int] = 1


class WarehouseError(MindmilesError):
    """A warehouse table could not be read or written."""


class LockTimeout(WarehouseError):
    """Another run holds the warehouse lock for longer than we were willing to wait."""


class TableInvalid(WarehouseError):
    """Rows the run built (a derived table, or frames already checked per file) break the model.

    A fault of the run, never of one file: the message names the table, the clients and the
    columns, never a file. Values are not quoted (they may come from a client's free text).
    """

    def __init__(self, table: str, *, clients: list[str], columns: list[str], checks: list[str]):
        self.table, self.clients, self.columns, self.checks = table, clients, columns, checks
        shown = ", ".join(clients[:5]) + (
            f" and {len(clients) - 5} more" if len(clients) > 5 else ""
        )
        super().__init__(
            f"table {table} failed its checks in column(s) {', '.join(columns)} "
            f"({'; '.join(checks)}) for client(s) {shown or 'unknown'}: a fault of the run, "
            "not of a file; nothing was published"
        )


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


@dataclass(frozen=True, slots=True)
class RowIssue:
    """One refused (or partly refused) row of a CSV file.

    Parameters
    ----------
    line : int
        1-based physical line number in the file where the row starts (the header is line 1).
    message : str
        Plain-language explanation for clinic staff; never contains the free-text notes.
    column : str or None
        The column at fault, when there is one.

    Examples
    --------
    >>> RowIssue(line=3, message="mood must be between 1 and 10, got 11", column="mood").line
    3
    """

    line: int
    message: str
    column: str | None = None


class TableFileError(MindmilesError):
    """A roster, journal or plan file that cannot be read as a whole.

    Parameters
    ----------
    message : str
        Plain-language explanation.
    line : int or None
        Line number where the problem was found, when it is tied to one (e.g. the header, 1).
    expected, got : str or None
        What the reader expected and what it found (e.g. the header columns).
    """

    reason_code: str = "table_file_invalid"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        expected: str | None = None,
        got: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.expected = expected
        self.got = got

    @property
    def detail(self) -> str:
        """Where and what, for engineers: line, expected and found."""
        parts = [f"line {self.line}" if self.line is not None else ""]
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.got is not None:
            parts.append(f"got {self.got}")
        return "; ".join(p for p in parts if p)


class JournalError(TableFileError):
    """A journal file that cannot be read as a whole."""

    reason_code = "journal_invalid"


class JournalUnreadable(JournalError):
    """The journal is not UTF-8 text, or has no header line."""

    reason_code = "journal_unreadable"


class JournalUnrecognisedHeader(JournalError):
    """The header is neither the clinic template nor a known Daylio export era."""

    reason_code = "journal_unrecognised_header"


class PlanInvalid(TableFileError):
    """A plan file that cannot be read as a whole (encoding, header)."""

    reason_code = "plan_invalid"


class RosterInvalid(TableFileError):
    """A roster file that cannot be read as a whole (encoding, header)."""

    reason_code = "roster_invalid"
