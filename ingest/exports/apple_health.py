r"""Apple Health ``export.zip``: running and walking workouts, their routes and heart rate, streamed.

Evidence: ``FORMATS.md`` section 4 (and 0.4, 0.5). ``export.xml`` (localised name) reaches
gigabytes, so it is never held in memory: it is read straight from the zip member with
``defusedxml.ElementTree.iterparse`` and every top-level element is cleared once used. Memory grows
with the number of running workouts and the heart-rate readings inside them, not with the file.

Two passes over the member, because Apple writes all ``Record`` elements before the ``Workout``
elements and keeping every heart-rate record until the workouts are known would grow with the file:

1. the workouts (type, start, end, duration, distance statistic, route file reference);
2. the heart-rate ``Record`` elements whose start falls inside a kept workout's window (there is no
   link element between them; FORMATS.md 4.4).

Hardening: defusedxml *defaults* (``forbid_dtd=False``): Apple's internal DTD (only ``ELEMENT``
and ``ATTLIST``) is accepted, entity declarations and external references are refused. iOS 16
exports shipped a malformed DTD and stray ``\x0b`` characters: when parsing fails before the first
element, the ``<!DOCTYPE ... ]>`` block is cut from the head, ``\x0b`` removed, and parsing retried.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import io
import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import defusedxml.ElementTree as SafeET
import polars as pl

from ingest.exports.detect import apple_xml_member
from ingest.exports.model import DecodedSource, ExportItem, SourceMeta
from ingest.exports.zipview import CheckedZip
from ingest.frames import SAMPLE_COLUMNS, ParsedActivity, ParsedFile, empty_frame
from ingest.gpx import read_gpx
from ingest.xml_safety import unknown_encoding, unsafe_xml_refused
from schemas.errors import CorruptFile, IngestError

__all__ = [
    "WORKOUT_SPORTS",
    "AppleWorkout",
    "iter_apple_health",
    "read_health_xml",
]

log = logging.getLogger(__name__)

WORKOUT_SPORTS: dict[str, str] = {
    "HKWorkoutActivityTypeRunning": "running",
    "HKWorkoutActivityTypeWalking": "walking",
}
"""Apple workout types taken in -> warehouse sport; other workouts are counted and left out."""

HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
DISTANCE_STATISTICS = ("HKQuantityTypeIdentifierDistanceWalkingRunning",)
LENGTH_UNITS_M: dict[str, float] = {
    "m": 1.0,
    "cm": 0.01,
    "km": 1000.0,
    "mi": 1609.344,
    "yd": 0.9144,
    "ft": 0.3048,
}
"""Apple distance units (they follow the phone's locale) -> metres."""
DURATION_UNITS_S: dict[str, float] = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "hr": 3600.0}
"""Apple duration units -> seconds."""

HEAD_LIMIT = 1 << 20
"""How far into the document the DOCTYPE block is looked for when it must be cut out."""
MAX_ROUTE_BYTES = 64 * 1024 * 1024
"""Largest route GPX read (a two-hour route is ~1 MB)."""


@dataclass
class AppleWorkout:
    """One running or walking workout of the export (times aware, in UTC)."""

    sport: str
    activity_type: str
    start_utc: dt.datetime
    end_utc: dt.datetime
    duration_s: float | None
    distance_m: float | None
    indoor: bool = False
    route_path: str | None = None
    identity: str = ""
    heart_rate: list[tuple[dt.datetime, int]] = field(default_factory=list)


@dataclass
class HealthXml:
    """What :func:`read_health_xml` found."""

    workouts: list[AppleWorkout]
    other_workouts: int
    sha256: str


def _when(text: str | None) -> dt.datetime | None:
    """``2018-09-10 02:28:55 -0700`` -> aware UTC datetime (``None`` when absent or invalid)."""
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except ValueError:
        return None


def _float(text: str | None) -> float | None:
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _scaled(value: str | None, unit: str | None, table: dict[str, float]) -> float | None:
    number = _float(value)
    factor = table.get((unit or "").strip())
    return None if number is None or factor is None else number * factor


class _Hashing(io.RawIOBase):
    """Pass bytes through while hashing them."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        self.digest.update(data)
        buffer[: len(data)] = data
        return len(data)


class _DoctypeCut(io.RawIOBase):
    r"""The document without its ``<!DOCTYPE ... ]>`` block and without ``\x0b`` (iOS 16 defects)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self._pending = b""
        self._head_done = False

    def readable(self) -> bool:
        return True

    def _head(self) -> bytes:
        head = b""
        while len(head) < HEAD_LIMIT:
            chunk = self._raw.read(1 << 16)
            if not chunk:
                break
            head += chunk
            start = head.find(b"<!DOCTYPE")
            if start >= 0 and head.find(b"]>", start) >= 0:
                break
        start = head.find(b"<!DOCTYPE")
        end = head.find(b"]>", start) if start >= 0 else -1
        if start >= 0 and end >= 0:
            head = head[:start] + head[end + 2 :]
        return head

    def readinto(self, buffer: Any) -> int:
        if not self._head_done:
            self._pending = self._head()
            self._head_done = True
        while not self._pending:
            chunk = self._raw.read(len(buffer))
            if not chunk:
                return 0
            self._pending = chunk
        self._pending = self._pending.replace(b"\x0b", b"")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _top_level(stream: IO[bytes]) -> Iterator[ET.Element]:
    """Yield each child of the root element when complete; it is cleared once the caller is done."""
    depth = 0
    root: ET.Element | None = None
    for event, element in SafeET.iterparse(stream, events=("start", "end"), forbid_dtd=False):
        if event == "start":
            depth += 1
            if depth == 1:
                root = element
            continue
        depth -= 1
        if depth == 1:
            yield element
            assert root is not None
            root.clear()


def _elements(open_stream: Callable[[], IO[bytes]], *, cut_doctype: bool) -> Iterator[ET.Element]:
    """Top-level elements, with the hardening and error translation of this module."""
    with unsafe_xml_refused("Apple Health export"), open_stream() as raw:
        yield from _top_level(io.BufferedReader(_DoctypeCut(raw)) if cut_doctype else raw)


def _workout(element: ET.Element) -> AppleWorkout | None:
    kind = element.get("workoutActivityType", "")
    sport = WORKOUT_SPORTS.get(kind)
    start, end = _when(element.get("startDate")), _when(element.get("endDate"))
    if sport is None or start is None or end is None or end < start:
        return None
    distance = _scaled(
        element.get("totalDistance"), element.get("totalDistanceUnit"), LENGTH_UNITS_M
    )
    indoor = False
    route = None
    for child in element:
        if child.tag == "WorkoutStatistics" and child.get("type") in DISTANCE_STATISTICS:
            distance = _scaled(child.get("sum"), child.get("unit"), LENGTH_UNITS_M) or distance
        elif child.tag == "MetadataEntry" and child.get("key") == "HKIndoorWorkout":
            indoor = child.get("value") == "1"
        elif child.tag == "WorkoutRoute":
            reference = child.find("FileReference")
            if reference is not None and reference.get("path"):
                route = reference.get("path")
    identity_key = "|".join(
        ["apple-workout", kind, element.get("startDate", ""), element.get("endDate", "")]
    )
    return AppleWorkout(
        sport=sport,
        activity_type=kind,
        start_utc=start,
        end_utc=end,
        duration_s=_scaled(element.get("duration"), element.get("durationUnit"), DURATION_UNITS_S),
        distance_m=distance,
        indoor=indoor,
        route_path=route,
        identity=hashlib.sha256(identity_key.encode()).hexdigest(),
    )


def _collect_heart_rate(elements: Iterator[ET.Element], workouts: list[AppleWorkout]) -> None:
    ordered = sorted(workouts, key=lambda w: w.start_utc)
    starts = [w.start_utc for w in ordered]
    longest = max((w.end_utc - w.start_utc for w in ordered), default=dt.timedelta(0))
    for element in elements:
        if element.tag != "Record" or element.get("type") != HEART_RATE:
            continue
        when = _when(element.get("startDate"))
        value = _float(element.get("value"))
        if when is None or value is None:
            continue
        i = bisect.bisect_right(starts, when) - 1
        while i >= 0 and when - ordered[i].start_utc <= longest:
            if when <= ordered[i].end_utc:
                ordered[i].heart_rate.append((when, round(value)))
            i -= 1


def read_health_xml(open_stream: Callable[[], IO[bytes]]) -> HealthXml:
    """Stream an Apple Health ``export.xml`` twice; return its running/walking workouts with HR.

    Parameters
    ----------
    open_stream
        Opens a fresh binary stream of the document (called once per pass, twice with the iOS 16
        fallback).

    Raises
    ------
    UnsafeInput
        ``xml_entities`` for entity declarations or external references.
    CorruptFile
        ``apple_xml_malformed`` when the document is not well-formed even without its DTD.
    """
    cut = False
    hashing: _Hashing | None = None

    def hashed() -> IO[bytes]:
        nonlocal hashing
        hashing = _Hashing(open_stream())
        return io.BufferedReader(hashing)

    while True:
        workouts: list[AppleWorkout] = []
        others = 0
        seen_any = False
        try:
            for element in _elements(hashed, cut_doctype=cut):
                seen_any = True
                if element.tag == "Workout":
                    workout = _workout(element)
                    if workout is None:
                        others += 1
                    else:
                        workouts.append(workout)
            break
        except LookupError as exc:  # the declaration names an encoding that does not exist
            raise unknown_encoding("Apple Health export", "apple_xml_malformed", exc) from exc
        except ET.ParseError as exc:
            if cut or seen_any:
                raise CorruptFile(
                    "apple_xml_malformed",
                    "This Apple Health export is damaged (its main file is not valid XML) and "
                    "could not be read. Please export it again from the Health app.",
                    detail=str(exc),
                ) from exc
            log.warning("Apple Health DTD unreadable (%s); retrying without it", exc)
            cut = True
    assert hashing is not None
    sha = hashing.digest.hexdigest()
    if workouts:
        try:
            _collect_heart_rate(_elements(open_stream, cut_doctype=cut), workouts)
        except ET.ParseError as exc:
            raise CorruptFile(
                "apple_xml_malformed",
                "This Apple Health export is damaged (its main file is not valid XML) and "
                "could not be read. Please export it again from the Health app.",
                detail=str(exc),
            ) from exc
    log.info("Apple Health: %d running/walking workouts, %d other", len(workouts), others)
    return HealthXml(workouts=workouts, other_workouts=others, sha256=sha)


def _route_samples(checked: CheckedZip, folder: str, path: str | None) -> pl.DataFrame | None:
    if path is None:
        return None
    name = folder + path.lstrip("/")
    if name not in checked.infos:
        return None
    parsed = read_gpx(checked.read(name, max_bytes=MAX_ROUTE_BYTES))
    return parsed.activities[0].samples if parsed.activities else None


def _samples(route: pl.DataFrame | None, workout: AppleWorkout) -> pl.DataFrame:
    hr = pl.DataFrame(
        {
            "timestamp": [t for t, _ in workout.heart_rate],
            "hr_bpm": [b for _, b in workout.heart_rate],
        },
        schema={"timestamp": SAMPLE_COLUMNS["timestamp"], "hr_bpm": SAMPLE_COLUMNS["hr_bpm"]},
    ).unique("timestamp", keep="first", maintain_order=True)
    base = empty_frame(SAMPLE_COLUMNS) if route is None else route.select(SAMPLE_COLUMNS.keys())
    base = base.filter(pl.col("timestamp").is_between(workout.start_utc, workout.end_utc)).unique(
        "timestamp", keep="first", maintain_order=True
    )
    merged = base.drop("hr_bpm").join(hr, on="timestamp", how="full", coalesce=True)
    if merged.height:
        # the workout's own start and end bound the samples, so that the activity's start and
        # duration are Apple's even when the first reading comes a minute in
        bounds = pl.DataFrame(
            {"timestamp": [workout.start_utc, workout.end_utc]},
            schema={"timestamp": SAMPLE_COLUMNS["timestamp"]},
        ).join(merged.select("timestamp"), on="timestamp", how="anti")
        merged = pl.concat([merged, bounds], how="diagonal")
    merged = merged.sort("timestamp").with_columns(
        elapsed_s=(pl.col("timestamp") - pl.lit(workout.start_utc)).dt.total_microseconds() / 1e6
    )
    return merged.select(SAMPLE_COLUMNS.keys()).cast(SAMPLE_COLUMNS)  # type: ignore[arg-type]


def _activity(workout: AppleWorkout, route: pl.DataFrame | None, flags: set[str]) -> ParsedActivity:
    meta = {
        "sport": workout.sport,
        "start_utc": workout.start_utc,
        "total_elapsed_s": workout.duration_s,
        "total_timer_s": workout.duration_s,
        "total_distance_m": workout.distance_m,
        "flags": flags | ({"indoor"} if workout.indoor else set()),
    }
    return ParsedActivity(meta=meta, samples=_samples(route, workout))


def iter_apple_health(checked: CheckedZip) -> Iterator[ExportItem]:
    """Yield each running or walking workout of an Apple Health export as a :class:`DecodedSource`.

    Each workout is identified by a hash of its type, start and end (the same in every later
    export of the same phone), and carries its route (followed through ``FileReference``) and the
    heart-rate records inside its time window; when it has any, two empty samples at the workout's
    start and end keep its start time and duration. A route that cannot be read leaves the workout
    without positions, flagged ``route_unreadable``.

    Raises
    ------
    UnsafeInput, CorruptFile
        Hostile or damaged XML, or an archive limit crossed while streaming.
    """
    xml_name = apple_xml_member(checked)
    if xml_name is None:
        return
    folder = xml_name.rsplit("/", 1)[0] + "/" if "/" in xml_name else ""
    health = read_health_xml(lambda: checked.open_stream(xml_name))
    for workout in health.workouts:
        flags: set[str] = set()
        try:
            route = _route_samples(checked, folder, workout.route_path)
        except IngestError as error:
            log.warning("Apple Health route unreadable: %s", error.reason_code)
            route, flags = None, {"route_unreadable"}
        parsed = ParsedFile(
            source_format="apple_health",
            activities=[_activity(workout, route, flags)],
            device=None,
            decoder="apple_health_xml",
        )
        meta = SourceMeta(source_kind="apple", source_type=workout.activity_type)
        yield DecodedSource(name=xml_name, sha256=workout.identity, parsed=parsed, metas=(meta,))
