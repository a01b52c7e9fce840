"""Reader for the clinic's own mood-journal template (CSV).

Columns, any order, no others: ``timestamp`` (ISO 8601 with a UTC offset), ``kind``
(``pre_run`` / ``post_run`` / ``daily``), ``mood`` (1-10), ``anxiety``, ``stress``, ``energy``
(0-10), ``sleep_hours`` (0-24), ``sleep_quality`` (1-5), ``rpe`` (CR-10, 0-10) and ``notes``.
Every cell but ``timestamp`` and ``kind`` may be empty. Moods are stored with
``mood_scale_max = 10``.

A row that breaks a rule is left out and reported with its line number; the rest is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from clinic.journal_csv import (
    CLINIC_TEMPLATE_COLUMNS,
    CellError,
    EntryCollector,
    JournalReadResult,
    check_year,
    decode_csv_text,
    detect_header,
    iter_csv_records,
    iter_parsed_rows,
    parse_number,
)
from schemas.errors import JournalUnrecognisedHeader

__all__ = ["CLINIC_TEMPLATE_KINDS", "CLINIC_TEMPLATE_RANGES", "read_clinic_template"]

logger = logging.getLogger(__name__)

#: Accepted ``kind`` values.
CLINIC_TEMPLATE_KINDS: Final[frozenset[str]] = frozenset({"pre_run", "post_run", "daily"})

#: Inclusive range of each numeric column of the template.
CLINIC_TEMPLATE_RANGES: Final[dict[str, tuple[float, float]]] = {
    "mood": (1.0, 10.0),
    "anxiety": (0.0, 10.0),
    "stress": (0.0, 10.0),
    "energy": (0.0, 10.0),
    "sleep_hours": (0.0, 24.0),
    "sleep_quality": (1.0, 5.0),
    "rpe": (0.0, 10.0),
}

_MOOD_SCALE_MAX: Final = 10


def read_clinic_template(data: bytes, *, client_id: str, timezone: str) -> JournalReadResult:
    r"""Read a clinic-template journal CSV.

    Parameters
    ----------
    data : bytes
        File content (UTF-8, optional BOM).
    client_id : str
        The client's pseudonym, written into every row.
    timezone : str
        The client's IANA zone from the roster; used for ``local_date`` only (the timestamps
        carry their own offset).

    Returns
    -------
    JournalReadResult
        ``source == "clinic_template"``, the journal and notes frames and the row issues.

    Raises
    ------
    JournalUnreadable
        Not UTF-8 text, or empty.
    JournalUnrecognisedHeader
        The header is not exactly the template's columns.

    Examples
    --------
    >>> csv = (
    ...     b"timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes\n"
    ...     b"2026-03-02T18:40:00+00:00,post_run,7,3,,,,,5,\n"
    ... )
    >>> result = read_clinic_template(csv, client_id="c1", timezone="Europe/London")
    >>> result.journal.select("kind", "mood", "mood_scale_max").row(0)
    ('post_run', 7.0, 10)
    """
    text = decode_csv_text(data)
    fmt, header = detect_header(text)
    if fmt != "clinic_template":
        raise JournalUnrecognisedHeader(
            "this is a Daylio export, not the clinic template",
            line=1,
            expected=",".join(CLINIC_TEMPLATE_COLUMNS),
            got=",".join(header),
        )
    zone = ZoneInfo(timezone)
    collector = EntryCollector(client_id=client_id, source="clinic_template")
    records = iter_csv_records(text)
    next(records)  # header
    for line, row, (timestamp_utc, kind, values) in iter_parsed_rows(
        records, header, _parse_row, collector.issues
    ):
        collector.add(
            line=line,
            timestamp_utc=timestamp_utc,
            local_date=timestamp_utc.astimezone(zone).date(),
            kind=kind,
            mood_scale_max=_MOOD_SCALE_MAX,
            values=values,
            note=row["notes"],
        )
    result = collector.result()
    logger.info(
        "clinic template journal: %d entries, %d notes, %d rows refused",
        result.journal.height,
        result.notes.height,
        len(result.issues),
    )
    return result


def _parse_row(row: Mapping[str, str]) -> tuple[datetime, str, dict[str, float | None]]:
    timestamp_utc = _parse_timestamp(row["timestamp"])
    kind = row["kind"].lower()
    if kind not in CLINIC_TEMPLATE_KINDS:
        raise CellError("kind", "kind must be one of pre_run, post_run, daily")
    values: dict[str, float | None] = {}
    for column, (low, high) in CLINIC_TEMPLATE_RANGES.items():
        try:
            values[column] = parse_number(row[column], column=column, low=low, high=high)
        except ValueError as exc:
            raise CellError(column, str(exc)) from None
    return timestamp_utc, kind, values


def _parse_timestamp(cell: str) -> datetime:
    text = cell.strip()
    if not text:
        raise CellError("timestamp", "timestamp is empty")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise CellError(
            "timestamp", "timestamp is not ISO 8601 (e.g. 2026-03-02T18:40:00+01:00)"
        ) from None
    if parsed.utcoffset() is None:
        raise CellError("timestamp", "timestamp has no UTC offset (e.g. +01:00 or Z)")
    check_year(parsed.year, column="timestamp")
    return parsed.astimezone(UTC)
