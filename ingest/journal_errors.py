"""Errors and row issues for the roster, journal and plan readers.

These classes sit under the project's root :class:`ingest.errors.MindmilesError`. Each leaf
carries a ``reason_code`` that the flow writes into the file ledger and the quarantine note.

Tree::

    MindmilesError
    +-- TableFileError
     +-- JournalError               journal_invalid
     |    +-- JournalUnreadable     journal_unreadable (not UTF-8 text, empty)
     |    +-- JournalUnrecognisedHeader  journal_unrecognised_header
     +-- PlanInvalid                plan_invalid
     +-- RosterInvalid              roster_invalid

A whole file that cannot be read raises one of these. A single bad row never raises: the reader
returns it as a :class:`RowIssue` next to the rows it kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.errors import MindmilesError

__all__ = [
    "JournalError",
    "JournalUnreadable",
    "JournalUnrecognisedHeader",
    "PlanInvalid",
    "RosterInvalid",
    "RowIssue",
    "TableFileError",
]


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
