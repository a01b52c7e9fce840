"""Strava "download your data" archive: every activity referenced by ``activities.csv``.

Evidence: ``FORMATS.md`` section 1. The archive's root holds ``activities.csv`` (one row per
activity) and ``activities/`` (the originals as uploaded: ``.fit.gz``, ``.gpx``, ``.gpx.gz``,
``.tcx``, ``.tcx.gz``). Only ``activities.csv`` and the files it names are read: contacts,
messages, media and the rest of the account are never opened.

``activities.csv`` is addressed by *position*: several names occur twice (the first ``Distance`` is
a display value in km, the second metres), headers follow the account language and drift between
versions. :data:`COLUMNS` maps each value to the header names known for it and to which occurrence
to take. Rows without a file (manual entries, ``#error#``, or a file missing from the archive)
become activities without samples: duration, distance and type from the CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ingest.exports.model import DecodedSource, ExportItem, MemberFile, SourceMeta
from ingest.exports.zipview import CheckedZip
from ingest.frames import SAMPLE_COLUMNS, ParsedActivity, ParsedFile, empty_frame
from ingest.sports import normalise_sport
from schemas.errors import CorruptFile

__all__ = [
    "COLUMNS",
    "StravaRow",
    "iter_strava",
    "manual_identity",
    "parse_activities_csv",
    "parse_strava_date",
]

log = logging.getLogger(__name__)

INDEX = "activities.csv"
MAX_INDEX_BYTES = 64 * 1024 * 1024
"""Largest ``activities.csv`` read (a real one of ~3 000 activities is 1.1 MB)."""

ACTIVITY_SUFFIXES = (".fit", ".fit.gz", ".gpx", ".gpx.gz", ".tcx", ".tcx.gz")
MISSING_FILE_VALUES = ("", "#error#")
"""``Filename`` cells that mean "no file" (manual entry; Strava's own export failure)."""

COLUMNS: dict[str, tuple[tuple[str, ...], int]] = {
    # value: (header names, any language / era, which occurrence: 0 = first, 1 = second)
    "activity_id": (("Activity ID", "Aktivitäts-ID", "id"), 0),
    "date": (("Activity Date", "Aktivitätsdatum", "date"), 0),
    "name": (("Activity Name", "Name der Aktivität", "name"), 0),
    "type": (("Activity Type", "Aktivitätsart", "type"), 0),
    "elapsed_display_s": (("Elapsed Time", "Verstrichene Zeit", "elapsed_time"), 0),
    "elapsed_si_s": (("Elapsed Time", "Verstrichene Zeit"), 1),
    "distance_display_km": (("Distance", "Distanz"), 0),
    "distance_si_m": (("Distance", "Distanz"), 1),
    "distance_old_m": (("distance",), 0),
    "moving_time_s": (("Moving Time",), 0),
    "filename": (("Filename", "Dateiname", "filename"), 0),
    "perceived_exertion": (("Perceived Exertion",), 0),
}
"""Where each value lives in ``activities.csv`` (names are matched exactly, case included:
the pre-2019 lower-case ``distance`` is in metres, the later ``Distance`` in km then m)."""

DATE_FORMATS = (
    "%b %d, %Y, %I:%M:%S %p",  # English since July 2019: "Mar 4, 2025, 6:42:10 AM"
    "%d.%m.%Y, %H:%M:%S",  # German: "09.12.2022, 15:24:49"
    "%Y-%m-%d %H:%M:%S",  # before July 2019: "2018-09-12 15:02:23"
)
"""``Activity Date`` formats; the value is UTC in all of them (FORMATS.md 1.3)."""

SPACES = re.compile(r"[\u00a0\u202f\s]+")


@dataclass(frozen=True)
class StravaRow:
    """One row of ``activities.csv`` with the values the pipeline uses."""

    line: int
    activity_id: str | None
    start_utc: dt.datetime | None
    name: str | None
    type: str | None
    elapsed_s: float | None
    moving_time_s: float | None
    distance_m: float | None
    filename: str | None
    perceived_exertion: float | None

    def meta(self) -> SourceMeta:
        """The row as source metadata."""
        return SourceMeta(
            source_kind="strava",
            source_activity_id=self.activity_id,
            source_name=self.name,
            source_type=self.type,
            perceived_exertion=self.perceived_exertion,
        )


def parse_strava_date(text: str) -> dt.datetime | None:
    """Parse an ``Activity Date`` (any known language or era) as UTC; ``None`` when unparseable.

    Examples
    --------
    >>> parse_strava_date("Mar 4, 2025, 6:42:10\u202fAM")
    datetime.datetime(2025, 3, 4, 6, 42, 10, tzinfo=datetime.timezone.utc)
    >>> parse_strava_date("09.12.2022, 15:24:49").hour
    15
    """
    value = SPACES.sub(" ", text).strip()
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


def _number(text: str | None) -> float | None:
    """A CSV number: ``9.44``, German ``9,44``, or empty."""
    if text is None:
        return None
    value = text.strip()
    if not value:
        return None
    if "," in value and "." not in value:
        value = value.replace(",", ".")
    try:
        return float(value)
    except ValueError:
        return None


def _positions(header: list[str]) -> dict[str, int]:
    """Column index of each value of :data:`COLUMNS` present in ``header``."""
    found: dict[str, int] = {}
    cleaned = [cell.strip().lstrip("\ufeff") for cell in header]
    for value, (names, occurrence) in COLUMNS.items():
        for name in names:
            hits = [i for i, cell in enumerate(cleaned) if cell == name]
            if len(hits) > occurrence:
                found[value] = hits[occurrence]
                break
    return found


def parse_activities_csv(data: bytes) -> list[StravaRow]:
    """Read ``activities.csv`` into rows (RFC 4180 quoting, embedded newlines, BOM tolerated).

    Raises
    ------
    CorruptFile
        ``strava_index_invalid`` when the header has no activity id or date column.
    """
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, [])
    at = _positions(header)
    if "activity_id" not in at or "date" not in at:
        raise CorruptFile(
            "strava_index_invalid",
            "This Strava archive's list of activities (activities.csv) has an unknown layout, "
            "so its workouts could not be matched to their files.",
            detail=f"{len(header)} header columns",
        )
    rows: list[StravaRow] = []
    for cells in reader:
        if not cells or not any(c.strip() for c in cells):
            continue

        def cell(value: str, cells: list[str] = cells) -> str | None:
            i = at.get(value)
            return cells[i] if i is not None and i < len(cells) else None

        distance = _number(cell("distance_si_m"))
        if distance is None and "distance_old_m" in at:
            distance = _number(cell("distance_old_m"))
        if distance is None:
            km = _number(cell("distance_display_km"))
            distance = None if km is None else km * 1000.0
        elapsed = _number(cell("elapsed_si_s"))
        if elapsed is None:
            elapsed = _number(cell("elapsed_display_s"))
        filename = (cell("filename") or "").strip()
        rows.append(
            StravaRow(
                line=reader.line_num,
                activity_id=(cell("activity_id") or "").strip() or None,
                start_utc=parse_strava_date(cell("date") or ""),
                name=cell("name"),
                type=(cell("type") or "").strip() or None,
                elapsed_s=elapsed,
                moving_time_s=_number(cell("moving_time_s")),
                distance_m=distance,
                filename=None if filename.lower() in MISSING_FILE_VALUES else filename,
                perceived_exertion=_number(cell("perceived_exertion")),
            )
        )
    return rows


def _manual_activity(row: StravaRow, flags: set[str]) -> ParsedActivity:
    meta = {
        "sport": normalise_sport(row.type) or "other",
        "start_utc": row.start_utc,
        "total_elapsed_s": row.elapsed_s,
        "total_timer_s": row.moving_time_s,
        "total_distance_m": row.distance_m,
        "flags": flags,
    }
    return ParsedActivity(meta=meta, samples=empty_frame(SAMPLE_COLUMNS))


def iter_strava(checked: CheckedZip) -> Iterator[ExportItem]:
    """Yield the activities of a Strava archive.

    One :class:`MemberFile` per activity file named in ``activities.csv`` (a file named by several
    rows, a multi-activity FIT, is yielded once with the metadata of its first row), then one
    :class:`DecodedSource` per row without a usable file: an activity without samples
    (``source_format="manual"``; flag ``source_file_missing`` when the CSV named a file that the
    archive does not hold), identified by :func:`manual_identity`.

    Raises
    ------
    CorruptFile, UnsafeInput
        An unreadable ``activities.csv`` or an archive limit crossed.
    """
    index = checked.read(INDEX, max_bytes=MAX_INDEX_BYTES)
    rows = parse_activities_csv(index)
    members = set(checked.names)
    seen: set[str] = set()
    manual: list[tuple[StravaRow, set[str]]] = []
    for row in rows:
        if row.filename is None:
            manual.append((row, set()))
            continue
        if row.filename in seen:
            continue
        if row.filename not in members or not row.filename.lower().endswith(ACTIVITY_SUFFIXES):
            log.warning("Strava row on line %d names a file the archive lacks", row.line)
            manual.append((row, {"source_file_missing"}))
            continue
        seen.add(row.filename)
        yield MemberFile(name=row.filename, data=checked.read(row.filename), meta=row.meta())
    for row, flags in manual:
        yield DecodedSource(
            name=INDEX,
            sha256=manual_identity(row),
            parsed=ParsedFile(
                source_format="manual",
                activities=[_manual_activity(row, flags)],
                decoder="strava_csv",
            ),
            metas=(row.meta(),),
        )


def manual_identity(row: StravaRow) -> str:
    """A stable 64-hex identity for a row without a file (the same in every later archive)."""
    start = "" if row.start_utc is None else row.start_utc.isoformat()
    key = f"strava-manual:{row.activity_id or row.line}:{start}"
    return hashlib.sha256(key.encode()).hexdigest()
