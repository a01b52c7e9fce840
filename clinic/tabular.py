"""Recognise the clinic's CSV files (journals, plans) by their header, not their name."""

from __future__ import annotations

from clinic.journal_csv import decode_table_text, detect_journal_format
from schemas.errors import JournalError

__all__ = ["PLAN_HEADER_COLUMNS", "classify_table_file"]

PLAN_HEADER_COLUMNS = frozenset({"week_start", "sessions", "minutes"})
"""Columns whose presence in a header line marks a running-plan CSV."""

SNIFF_BYTES = 4096


def _header_cells(data: bytes) -> set[str] | None:
    try:
        decoded = decode_table_text(data[:SNIFF_BYTES] if len(data) > SNIFF_BYTES else data)
    except JournalError:
        return None
    first = next((line for line in decoded.text.splitlines() if line.strip()), "")
    return {cell.strip().strip('"').lower() for cell in first.split(decoded.delimiter)}


def classify_table_file(data: bytes) -> str | None:
    r"""Return ``"journal"``, ``"plan"`` or ``None`` for bytes that are neither.

    Examples
    --------
    >>> classify_table_file(b"week_start,sessions,minutes\n2026-03-02,3,90\n")
    'plan'
    >>> classify_table_file(b"\x1f\x8b") is None
    True
    """
    cells = _header_cells(data)
    if not cells:
        return None
    if cells >= PLAN_HEADER_COLUMNS:
        return "plan"
    try:
        detect_journal_format(data)
    except JournalError:
        return None
    return "journal"
