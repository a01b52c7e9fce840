"""Reader for Daylio CSV exports ("More -> Export entries -> CSV"), every known header era.

Rules (see FORMATS.md section 5):

- Header eras: ``year,date,...`` (<= 2019), ``full_date,...,note`` (7 columns),
  ``...,note_title,note`` (2021-2025) and ``...,scales,note_title,note`` (2026); UTF-8 with or
  without a BOM; trailing spaces in cells are ignored.
- Date: ``full_date`` (ISO). In the oldest era, ``year`` plus the English ``date``
  (``18 May`` or ``May 18``); a localised month name is reported, not guessed.
- Time: 12 h (``6:50 pm``, ``10:04 AM``, case-insensitive) or 24 h (``18:52``), no seconds.
- Time zone: Daylio writes naive local wall time. It is read in the client's roster zone.
  A wall time that does not exist (the spring-forward gap, e.g. 01:30 on 2026-03-29 in
  Europe/London) is read with the UTC offset in force *before* the change, which moves it
  forward by the length of the gap (01:30 -> 01:30 UTC = 02:30 BST). A wall time that occurs
  twice (the autumn fold) is read as the *first* occurrence (summer time). This is Python's
  ``fold=0`` rule (PEP 495); it is deterministic and needs no extra data.
- Mood: the label, mapped to a level 1-5 (``mood_scale_max = 5``) through the default English
  labels ``rad/good/meh/bad/awful`` -> 5..1, updated with the client's own label map when given
  (the client's map wins). Labels are compared case-insensitively after trimming spaces. An
  unknown label is reported as a row issue and the row is left out; it is never guessed.
- Kind: every Daylio entry is ``daily``, unless the caller passes ``kind_activities``, a map from
  a Daylio activity name to ``pre_run`` or ``post_run`` (e.g. the clinic asks clients to tag
  ``after run``). An entry tagged with two different kinds is reported and left out.
- Notes: ``note_title`` and ``note`` are joined with a line break and go to the restricted
  notes frame as exported (Daylio's ``<br>`` and HTML entities are kept). Activities and scales
  are free-form labels and are not stored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from clinic.journal_csv import (
    CellError,
    EntryCollector,
    JournalReadResult,
    check_year,
    decode_csv_text,
    detect_header,
    iter_csv_records,
    iter_parsed_rows,
)
from schemas.errors import JournalUnrecognisedHeader

__all__ = [
    "DAYLIO_DEFAULT_MOOD_LEVELS",
    "DAYLIO_GERMAN_MOOD_LEVELS",
    "DAYLIO_MOOD_SCALE_MAX",
    "daylio_local_to_utc",
    "read_daylio",
]

logger = logging.getLogger(__name__)

DAYLIO_MOOD_SCALE_MAX: Final = 5

#: Daylio's five default English mood labels and their levels.
DAYLIO_DEFAULT_MOOD_LEVELS: Final[Mapping[str, int]] = {
    "rad": 5,
    "good": 4,
    "meh": 3,
    "bad": 2,
    "awful": 1,
}

#: Daylio's German default labels [R in FORMATS.md]; pass as ``mood_labels`` for such clients.
DAYLIO_GERMAN_MOOD_LEVELS: Final[Mapping[str, int]] = {
    "super": 5,
    "gut": 4,
    "ok": 3,
    "schlecht": 2,
    "lausig": 1,
}

_KINDS: Final[frozenset[str]] = frozenset({"pre_run", "post_run"})
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?:\s*([ap])\.?\s*m\.?)?$", re.IGNORECASE)
_OLD_DATE_FORMATS: Final[tuple[str, ...]] = ("%Y %d %B", "%Y %B %d", "%Y %d %b", "%Y %b %d")


def read_daylio(
    data: bytes,
    *,
    client_id: str,
    timezone: str,
    mood_labels: Mapping[str, int] | None = None,
    kind_activities: Mapping[str, str] | None = None,
) -> JournalReadResult:
    r"""Read a Daylio CSV export.

    Parameters
    ----------
    data : bytes
        File content.
    client_id : str
        The client's pseudonym.
    timezone : str
        The client's IANA zone (roster); Daylio times are naive local wall time.
    mood_labels : mapping of str to int, optional
        The client's own labels and levels (1-5), applied over the defaults.
    kind_activities : mapping of str to str, optional
        Daylio activity name -> ``pre_run`` / ``post_run``; entries without such an activity
        are ``daily``.

    Returns
    -------
    JournalReadResult
        ``source == "daylio"``.

    Raises
    ------
    JournalUnreadable
        Not UTF-8 text, or empty.
    JournalUnrecognisedHeader
        Not a Daylio header.
    ValueError
        A label map level outside 1-5, or a ``kind_activities`` value that is not a run kind.

    Examples
    --------
    >>> csv = (
    ...     "\ufefffull_date,date,weekday,time,mood,activities,note_title,note\n"
    ...     '2026-03-02,March 2,Monday,6:50 pm,good,"running",,"felt calm"\n'
    ... ).encode()
    >>> result = read_daylio(csv, client_id="c1", timezone="Europe/London")
    >>> result.journal.select("kind", "mood", "mood_scale_max").row(0)
    ('daily', 4.0, 5)
    """
    levels = _label_levels(mood_labels)
    kinds = _kind_activities(kind_activities)
    text = decode_csv_text(data)
    fmt, header = detect_header(text)
    if fmt != "daylio":
        raise JournalUnrecognisedHeader(
            "this is the clinic template, not a Daylio export", line=1, got=",".join(header)
        )
    zone = ZoneInfo(timezone)
    collector = EntryCollector(client_id=client_id, source="daylio")
    records = iter_csv_records(text)
    next(records)  # header

    def parse(row: Mapping[str, str]) -> tuple[date, time, int, str]:
        return (
            _parse_date(row),
            _parse_time(row["time"]),
            _mood_level(row["mood"], levels),
            _kind(row["activities"], kinds),
        )

    for line, row, (day, clock, level, kind) in iter_parsed_rows(
        records, header, parse, collector.issues
    ):
        timestamp_utc = daylio_local_to_utc(datetime.combine(day, clock), zone)
        note = "\n".join(part for part in (row.get("note_title", ""), row["note"]) if part)
        collector.add(
            line=line,
            timestamp_utc=timestamp_utc,
            local_date=timestamp_utc.astimezone(zone).date(),
            kind=kind,
            mood_scale_max=DAYLIO_MOOD_SCALE_MAX,
            values={"mood": float(level)},
            note=note,
        )
    result = collector.result()
    logger.info(
        "daylio journal: %d entries, %d notes, %d rows refused",
        result.journal.height,
        result.notes.height,
        len(result.issues),
    )
    return result


def daylio_local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """Convert a naive local wall time to UTC with the documented gap/fold rule.

    A non-existent wall time (spring-forward gap) is read with the offset before the change;
    an ambiguous one (autumn fold) as its first occurrence. Both follow ``fold=0`` (PEP 495).

    Parameters
    ----------
    wall : datetime.datetime
        Naive local wall time.
    zone : zoneinfo.ZoneInfo
        The client's zone.

    Returns
    -------
    datetime.datetime
        Aware UTC datetime.

    Examples
    --------
    >>> from zoneinfo import ZoneInfo
    >>> london = ZoneInfo("Europe/London")
    >>> daylio_local_to_utc(datetime(2026, 3, 29, 1, 30), london).isoformat()
    '2026-03-29T01:30:00+00:00'
    >>> daylio_local_to_utc(datetime(2026, 10, 25, 1, 30), london).isoformat()
    '2026-10-25T00:30:00+00:00'
    """
    if wall.tzinfo is not None:
        raise ValueError("wall must be a naive datetime")
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _label_levels(mood_labels: Mapping[str, int] | None) -> dict[str, int]:
    levels = {label.casefold(): level for label, level in DAYLIO_DEFAULT_MOOD_LEVELS.items()}
    for label, level in (mood_labels or {}).items():
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 5:
            raise ValueError(f"mood label {label!r}: level must be an integer 1-5, got {level!r}")
        levels[label.strip().casefold()] = level
    return levels


def _kind_activities(kind_activities: Mapping[str, str] | None) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for activity, kind in (kind_activities or {}).items():
        if kind not in _KINDS:
            raise ValueError(f"activity {activity!r}: kind must be pre_run or post_run")
        kinds[activity.strip().casefold()] = kind
    return kinds


def _parse_date(row: Mapping[str, str]) -> date:
    if "full_date" in row:
        try:
            day = date.fromisoformat(row["full_date"])
        except ValueError:
            raise CellError("full_date", "full_date is not a date (YYYY-MM-DD)") from None
        check_year(day.year, column="full_date")
        return day
    cleaned = " ".join(row["date"].replace(".", " ").replace(",", " ").split())
    for fmt in _OLD_DATE_FORMATS:
        try:
            day = datetime.strptime(f"{row['year']} {cleaned}", fmt).date()
        except ValueError:
            continue
        check_year(day.year, column="year")
        return day
    raise CellError(
        "date",
        "cannot read the year and date columns as a date "
        "(expected e.g. '18 May' or 'May 18' in English)",
    )


def _parse_time(cell: str) -> time:
    match = _TIME.match(cell)
    if match is None:
        raise CellError("time", "time is not like 18:52 or 6:50 pm")
    hour, minute, meridiem = int(match[1]), int(match[2]), match[3]
    if minute > 59:
        raise CellError("time", f"time has minute {minute}")
    if meridiem is None:
        if hour > 23:
            raise CellError("time", f"time has hour {hour}")
    else:
        if not 1 <= hour <= 12:
            raise CellError("time", f"12-hour time has hour {hour}")
        hour = hour % 12 + (12 if meridiem.lower() == "p" else 0)
    return time(hour, minute)


def _mood_level(cell: str, levels: Mapping[str, int]) -> int:
    level = levels.get(cell.casefold())
    if level is None:
        raise CellError(
            "mood",
            "the mood label is not one of Daylio's defaults (rad, good, meh, bad, awful) "
            "nor in this client's label map; add it to the map",
        )
    return level


def _kind(cell: str, kinds: Mapping[str, str]) -> str:
    if not kinds or not cell:
        return "daily"
    found = {kinds[name] for name in _split_activities(cell) if name in kinds}
    if len(found) > 1:
        raise CellError("activities", "the entry is tagged both as before and as after a run")
    return found.pop() if found else "daily"


def _split_activities(cell: str) -> list[str]:
    return [name.strip().casefold() for name in cell.split("|") if name.strip()]
