"""Reader for a client's running prescription, ``plan*.csv``.

Columns, any order: ``week_start`` (ISO date of a Monday), ``sessions`` (whole number, 0-21),
``minutes`` (0-3000, decimals allowed), and optionally ``session_type`` (``easy``,
``mindfulness``, ``intervals``, ``run_walk``; blank allowed) and ``notes``. No other columns.
``sessions`` and ``minutes`` are both zero (a planned rest week) or both positive.

A bad row is left out and reported with its line number; a week given twice in one file is
kept from its first row and the later row is reported. Free-text notes never go to the analyst
``plans`` frame: they come back separately (``plan_notes``, restricted).
Which file wins when several plan files arrive: see :func:`transform.plans.merge_plans`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import polars as pl

from clinic.journal_csv import (
    CellError,
    check_year,
    decode_csv_text,
    header_cells,
    iter_csv_records,
    iter_parsed_rows,
    parse_number,
    require_header,
)
from schemas.errors import PlanInvalid, RowIssue
from schemas.plans import PLAN_SESSION_TYPES as SCHEMA_SESSION_TYPES

__all__ = [
    "PLANS_FRAME_SCHEMA",
    "PLAN_NOTES_FRAME_SCHEMA",
    "PLAN_OPTIONAL_COLUMNS",
    "PLAN_REQUIRED_COLUMNS",
    "PLAN_SESSION_TYPES",
    "PlanReadResult",
    "read_plan",
]

logger = logging.getLogger(__name__)

PLAN_REQUIRED_COLUMNS: Final[tuple[str, ...]] = ("week_start", "sessions", "minutes")
PLAN_OPTIONAL_COLUMNS: Final[tuple[str, ...]] = ("session_type", "notes")
#: Accepted ``session_type`` values (the schema's list).
PLAN_SESSION_TYPES: Final[frozenset[str]] = frozenset(SCHEMA_SESSION_TYPES)
_MAX_SESSIONS: Final = 21
_MAX_MINUTES: Final = 3000.0

#: Column names and dtypes of the ``plans`` frame (see ``schemas/plans.py``).
PLANS_FRAME_SCHEMA: Final[dict[str, pl.DataType]] = {
    "client_id": pl.String(),
    "week_start": pl.Date(),
    "sessions": pl.Int32(),
    "minutes": pl.Float64(),
    "session_type": pl.String(),
}

#: Column names and dtypes of the restricted ``plan_notes`` frame.
PLAN_NOTES_FRAME_SCHEMA: Final[dict[str, pl.DataType]] = {
    "client_id": pl.String(),
    "week_start": pl.Date(),
    "note": pl.String(),
}


@dataclass(frozen=True, slots=True)
class PlanReadResult:
    """What :func:`read_plan` returns.

    Attributes
    ----------
    plans : polars.DataFrame
        One row per planned week, sorted by ``week_start``.
    notes : polars.DataFrame
        Restricted: (client_id, week_start, note) for weeks with a non-empty note.
    issues : tuple of RowIssue
        Refused rows.
    """

    plans: pl.DataFrame
    notes: pl.DataFrame
    issues: tuple[RowIssue, ...]


def read_plan(data: bytes, *, client_id: str) -> PlanReadResult:
    r"""Read one plan CSV.

    Parameters
    ----------
    data : bytes
        File content (UTF-8, optional BOM).
    client_id : str
        The client's pseudonym.

    Returns
    -------
    PlanReadResult

    Raises
    ------
    PlanInvalid
        Not UTF-8 text, empty, or a header with a missing, unknown or repeated column.

    Examples
    --------
    >>> result = read_plan(b"week_start,sessions,minutes\n2026-03-02,3,90\n", client_id="c1")
    >>> result.plans.row(0)
    ('c1', datetime.date(2026, 3, 2), 3, 90.0, None)
    """
    text = decode_csv_text(data, error=PlanInvalid)
    records = iter_csv_records(text, error=PlanInvalid)
    first = next(records, None)
    if first is None:
        raise PlanInvalid("the file has no header line")
    header = header_cells(first[1])
    require_header(
        header,
        required=PLAN_REQUIRED_COLUMNS,
        optional=PLAN_OPTIONAL_COLUMNS,
        error=PlanInvalid,
        what="plan",
    )
    rows: list[dict[str, Any]] = []
    notes: list[dict[str, Any]] = []
    issues: list[RowIssue] = []
    week_lines: dict[date, int] = {}
    for line, row, parsed in iter_parsed_rows(records, header, _parse_row, issues):
        week = parsed["week_start"]
        if week in week_lines:
            issues.append(
                RowIssue(
                    line=line,
                    message=(
                        f"week {week.isoformat()} is already planned on line {week_lines[week]}; "
                        "row skipped"
                    ),
                    column="week_start",
                )
            )
            continue
        week_lines[week] = line
        rows.append({"client_id": client_id, **parsed})
        note = row.get("notes", "")
        if note:
            notes.append({"client_id": client_id, "week_start": week, "note": note})
    plans = pl.DataFrame(rows, schema=PLANS_FRAME_SCHEMA, orient="row").sort("week_start")
    notes_frame = pl.DataFrame(notes, schema=PLAN_NOTES_FRAME_SCHEMA, orient="row").sort(
        "week_start"
    )
    logger.info("plan: %d weeks, %d rows refused", plans.height, len(issues))
    return PlanReadResult(plans=plans, notes=notes_frame, issues=tuple(issues))


def _parse_row(row: dict[str, str]) -> dict[str, Any]:
    text = row["week_start"]
    try:
        week = date.fromisoformat(text)
    except ValueError:
        raise CellError("week_start", "week_start is not a date (YYYY-MM-DD)") from None
    check_year(week.year, column="week_start")
    if week.isoweekday() != 1:
        raise CellError("week_start", f"week_start {week.isoformat()} is a {week:%A}, not a Monday")
    sessions_text = row["sessions"]
    if not sessions_text.isdigit() or int(sessions_text) > _MAX_SESSIONS:
        raise CellError("sessions", f"sessions must be a whole number 0-{_MAX_SESSIONS}")
    sessions = int(sessions_text)
    try:
        minutes = parse_number(row["minutes"], column="minutes", low=0.0, high=_MAX_MINUTES)
    except ValueError as exc:
        raise CellError("minutes", str(exc)) from None
    if minutes is None:
        raise CellError("minutes", "minutes is empty")
    if (sessions == 0) != (minutes == 0):
        raise CellError(
            "minutes",
            f"sessions ({sessions}) and minutes ({minutes:g}) must both be zero (a rest week) "
            "or both be positive",
        )
    session_type_text = row.get("session_type", "").lower()
    if session_type_text and session_type_text not in PLAN_SESSION_TYPES:
        raise CellError(
            "session_type",
            f"session_type must be empty or one of {', '.join(sorted(PLAN_SESSION_TYPES))}",
        )
    return {
        "week_start": week,
        "sessions": sessions,
        "minutes": minutes,
        "session_type": session_type_text or None,
    }
