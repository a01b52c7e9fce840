"""GPX reader (gpxpy): one activity per track, sensor values from the common extensions.

Heart rate, cadence, temperature, power, speed and distance are read from any extension element
whose local name appears in :data:`EXTENSION_FIELDS`, whatever its namespace: Garmin's
TrackPointExtension v1 and v2 (``gpxtpx:hr``, ``cad``, ``atemp``, ``wtemp``, ``speed``), Garmin's
power extension (``pwr:PowerInWatts``), Garmin's GpxExtensions v3 (``gpxx:Temperature``), Cluetrust's
``gpxdata`` (``hr``, ``cadence``, ``temp``, ``power``, and ``distance``, read in that namespace
only), Apple Health's bare ``<speed>``,
and the namespace-less vendor elements real exports hold (Holux ``<bpm>``/``<rpm>``, Strava's
``<cadence>``/``<power>``). In GPX 1.1 they stand inside the point's ``<extensions>``; GPX 1.0 has no
``<extensions>`` element of its own, and exporters put them either in one anyway or directly in the
point in their own namespace: both are read. The first readable value of a column wins; heart rate
is rounded half up to whole beats (gpxdata writes decimals), never truncated.

Distance: the file's own (``gpxdata:distance``) where it carries one, else measured from the
positions with the GPS jitter filtered out (:func:`ingest.geo.track_distance_m`: time smoothing and
a displacement threshold). Speed: the file's own where it carries one, else distance step over
time step, never negative (:func:`ingest.geo.derived_speed_mps`).

Routes and waypoint-only files are not activities (:class:`NotAnActivity`); a track without any
time stamps is a planned route, also not an activity, and so is a track whose points all carry one
instant (:func:`ingest.summaries.one_instant`: no time axis). The sport comes from the track's ``<type>``
when present, else it is inferred from the median moving speed and flagged ``sport_inferred``.
"""

from __future__ import annotations

import datetime as dt
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

import gpxpy
import gpxpy.gpx
import polars as pl

from ingest.frames import SAMPLE_COLUMNS, ParsedActivity, ParsedFile, frame_from_rows
from ingest.geo import derived_speed_mps, track_distance_m
from ingest.sports import infer_sport, normalise_sport
from ingest.summaries import one_instant
from ingest.xml_safety import UNDECLARED_PREFIX_URI, clean_xml_bytes, local_name, parse_safe
from schemas.errors import CorruptFile, NotAnActivity

__all__ = ["read_gpx"]

EXTENSION_FIELDS: dict[str, str] = {
    "hr": "hr_bpm",  # Garmin TrackPointExtension v1/v2, Cluetrust gpxdata
    "heartrate": "hr_bpm",
    "heart_rate": "hr_bpm",
    "bpm": "hr_bpm",  # Holux (no namespace)
    "cad": "cadence_rpm",  # Garmin TrackPointExtension v1/v2
    "cadence": "cadence_rpm",  # Cluetrust gpxdata, Strava (no namespace)
    "rpm": "cadence_rpm",  # Holux (no namespace)
    "atemp": "temperature_c",  # Garmin TrackPointExtension v1/v2
    "wtemp": "temperature_c",
    "temp": "temperature_c",  # Cluetrust gpxdata
    "temperature": "temperature_c",  # Garmin GpxExtensions v3
    "power": "power_w",  # Cluetrust gpxdata, Strava (no namespace)
    "powerinwatts": "power_w",  # Garmin PowerExtension v1
    "watts": "power_w",
    "speed": "speed_mps",  # Garmin TrackPointExtension v2, Apple Health, Holux
    "distance": "distance_m",  # Cluetrust gpxdata: cumulative metres
}
"""Extension element local name (lower case) -> sample column."""

GPXDATA_NS = "http://www.cluetrust.com/XML/GPXDATA/1/0"
"""Cluetrust's GPX data extension (Movescount, OpenTracks)."""

ONLY_IN_NAMESPACES: dict[str, tuple[str, ...]] = {
    "distance": (GPXDATA_NS, UNDECLARED_PREFIX_URI + "gpxdata"),
}
"""Local names read only in these namespaces: ``gpxdata:distance`` is documented as the cumulative
distance; another vendor's ``distance`` may be a step or a lap distance."""

WHOLE_COLUMNS = frozenset({"hr_bpm"})
"""Columns stored as whole numbers: values are rounded half up, never truncated."""


def extension_column(tag: str) -> str | None:
    """The sample column an extension element (``{uri}name`` tag) fills, or ``None``.

    Examples
    --------
    >>> extension_column("{http://www.garmin.com/xmlschemas/PowerExtension/v1}PowerInWatts")
    'power_w'
    >>> extension_column("{urn:example}distance") is None
    True
    """
    name = local_name(tag).lower()
    column = EXTENSION_FIELDS.get(name)
    namespaces = ONLY_IN_NAMESPACES.get(name)
    if column is None or namespaces is None:
        return column
    namespace = tag[1 : tag.index("}")] if tag.startswith("{") else ""
    return column if namespace in namespaces else None


def sensor_value(column: str, text: str) -> float | None:
    """An extension element's text as a ``column`` value; ``None`` when it is not a finite number.

    Examples
    --------
    >>> sensor_value("hr_bpm", " 141.5 "), sensor_value("hr_bpm", "141.49"), sensor_value("power_w", "nan")
    (142.0, 141.0, None)
    """
    try:
        value = float(text.strip())
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return float(math.floor(value + 0.5)) if column in WHOLE_COLUMNS else value


def extension_roots(point: ET.Element, namespace: str) -> list[ET.Element]:
    """The elements of a ``<trkpt>`` that hold its extension values.

    ``<extensions>`` (GPX 1.1's, and written by exporters into 1.0 files though 1.0 has none), and
    every child in another namespace (GPX 1.0's own extension point), in either version.

    Parameters
    ----------
    point
        The ``<trkpt>`` element (tags in ElementTree's ``{uri}name`` form).
    namespace
        ``"{uri}"`` of the document's GPX namespace, ``""`` for none.
    """
    extensions = namespace + "extensions"
    return [
        child
        for child in point
        if child.tag == extensions
        or (
            isinstance(child.tag, str)
            and child.tag.startswith("{")
            and not child.tag.startswith(namespace or "\0")
        )
    ]


TRACK_JOIN_GAP = dt.timedelta(hours=1)
"""Consecutive tracks closer than this in time are one outing."""


def _extension_values(elements: Iterable[Any]) -> dict[str, float]:
    values: dict[str, float] = {}
    for root in elements:
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue  # a comment or processing instruction
            column = extension_column(element.tag)
            if column is None or column in values or element.text is None:
                continue
            value = sensor_value(column, element.text)
            if value is not None:
                values[column] = value
    return values


def _utc(when: dt.datetime | None) -> dt.datetime | None:
    if when is None:
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    try:
        return when.astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:  # gpxpy accepts offsets of a day or more
        raise CorruptFile(
            "gpx_invalid",
            "This GPX file could not be read: it holds an impossible time.",
            detail=type(exc).__name__,
        ) from exc


def _gpx_10_extensions(root: ET.Element) -> list[list[list[ET.Element]]]:
    """Per track, per point (segments in order), the extension roots of a GPX 1.0 document.

    gpxpy keeps no extensions of GPX 1.0 points; they are read from the checked tree, walking
    ``gpx/trk/trkseg/trkpt`` as gpxpy walks it (direct children in the document's namespace).
    """
    tag = str(root.tag)
    namespace = tag[: tag.index("}") + 1] if tag.startswith("{") else ""
    return [
        [
            extension_roots(point, namespace)
            for segment in track
            if segment.tag == namespace + "trkseg"
            for point in segment
            if point.tag == namespace + "trkpt"
        ]
        for track in root
        if track.tag == namespace + "trk"
    ]


def _track_rows(
    track: gpxpy.gpx.GPXTrack, extensions: list[list[ET.Element]] | None
) -> list[dict[str, Any]]:
    """One row per point; ``extensions`` per point replaces gpxpy's (GPX 1.0) when given."""
    points = [point for segment in track.segments for point in segment.points]
    if extensions is not None and len(extensions) != len(points):
        extensions = None  # the walk disagrees with gpxpy's: read no 1.0 extensions
    rows = []
    for i, point in enumerate(points):
        row: dict[str, Any] = {
            "timestamp": _utc(point.time),
            "lat_deg": point.latitude,
            "lon_deg": point.longitude,
            "altitude_m": point.elevation,
        }
        row.update(_extension_values(point.extensions if extensions is None else extensions[i]))
        rows.append(row)
    return rows


def finish_samples(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``elapsed_s``, ``distance_m`` (unless the file gave one) and derived ``speed_mps``.

    Shared by both GPX readers and the TCX reader, so that a file's frame does not depend on
    which reader decoded it.
    """
    start = frame["timestamp"].drop_nulls().min()
    elapsed = (pl.col("timestamp") - pl.lit(start)).dt.total_microseconds() / 1e6
    frame = frame.with_columns(elapsed_s=elapsed)
    no_distance = frame["distance_m"].null_count() == frame.height
    if no_distance and frame["lat_deg"].null_count() < frame.height:
        frame = frame.with_columns(
            track_distance_m(frame["lat_deg"], frame["lon_deg"], frame["elapsed_s"])
        )
    return frame.with_columns(speed_mps=pl.coalesce(pl.col("speed_mps"), derived_speed_mps()))


def _samples(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return finish_samples(frame_from_rows(rows, SAMPLE_COLUMNS))


def read_gpx(data: bytes) -> ParsedFile:
    """Decode a GPX file into one activity per timed track.

    Parameters
    ----------
    data
        The file's bytes (a UTF-8 BOM and leading whitespace are tolerated).

    Returns
    -------
    ParsedFile
        ``source_format="gpx"``, ``decoder="gpxpy"``.

    Raises
    ------
    UnsafeInput
        The XML declares entities or external references.
    CorruptFile
        Not well-formed XML, or not a GPX document gpxpy accepts (``gpx_malformed``, ``gpx_invalid``).
    NotAnActivity
        Routes, waypoints, or tracks without times (or with one time on every point) only.
    """
    checked = parse_safe(data, kind="gpx")
    try:
        document = gpxpy.parse(clean_xml_bytes(data).decode("utf-8", errors="replace"))
    except gpxpy.gpx.GPXException as exc:
        raise CorruptFile(
            "gpx_invalid",
            "This GPX file could not be read: it is not a valid GPX document.",
            detail=str(exc),
        ) from exc
    except (ValueError, OverflowError) as exc:  # gpxpy on an impossible value
        raise CorruptFile(
            "gpx_invalid",
            "This GPX file could not be read: it holds an impossible value.",
            detail=type(exc).__name__,
        ) from exc
    outings: list[tuple[str | None, list[dict[str, Any]]]] = []
    skipped_untimed = skipped_one_instant = 0
    extensions_10 = None if document.version == "1.1" else _gpx_10_extensions(checked)
    if extensions_10 is not None and len(extensions_10) != len(document.tracks):
        extensions_10 = None
    for number, track in enumerate(document.tracks):
        rows = _track_rows(track, None if extensions_10 is None else extensions_10[number])
        times = [row["timestamp"] for row in rows if row["timestamp"] is not None]
        if not times:
            skipped_untimed += bool(rows)
            continue
        if one_instant(min(times), max(times), len(times)):
            skipped_one_instant += 1
            continue
        previous = outings[-1] if outings else None
        previous_end = (
            max(r["timestamp"] for r in previous[1] if r["timestamp"] is not None)
            if previous
            else None
        )
        if (
            previous is not None
            and previous_end is not None
            and dt.timedelta(0) <= min(times) - previous_end <= TRACK_JOIN_GAP
            and previous[0] == track.type
        ):
            previous[1].extend(rows)
        else:
            outings.append((track.type, rows))
    activities: list[ParsedActivity] = []
    for track_type, rows in outings:
        samples = _samples(rows)
        flags: set[str] = set()
        sport = normalise_sport(track_type)
        if sport is None:
            sport = infer_sport(samples["speed_mps"])
            flags.add("sport_inferred")
        activities.append(
            ParsedActivity(
                meta={"sport": sport, "sub_sport": None, "start_utc": None, "flags": flags},
                samples=samples,
            )
        )
    if not activities:
        what = _what_instead(document, skipped_untimed, skipped_one_instant)
        raise NotAnActivity("not_an_activity", what)
    return ParsedFile(
        source_format="gpx",
        activities=activities,
        device=document.creator or None,
        decoder="gpxpy",
        warnings=_skip_warnings(skipped_untimed, skipped_one_instant),
    )


def _skip_warnings(untimed: int, frozen: int) -> list[str]:
    """The warnings of a file some of whose tracks were skipped for want of a time axis."""
    return [
        text
        for count, text in (
            (untimed, f"{untimed} track(s) without times skipped"),
            (frozen, f"{frozen} track(s) whose points all carry one time skipped"),
        )
        if count
    ]


def _what_instead(document: gpxpy.gpx.GPX, untimed: int, frozen: int = 0) -> str:
    if untimed:
        return (
            "This GPX file holds a track without times (a planned route), not a recorded workout."
        )
    if frozen:
        return (
            "This GPX file holds a track whose points all carry one and the same time: it has "
            "no timeline, so it is not a recorded workout that can be taken in."
        )
    if document.routes:
        return "This GPX file holds a planned route, not a recorded workout."
    if document.waypoints:
        return "This GPX file holds only waypoints (saved places), not a recorded workout."
    return "This GPX file is empty: it holds no recorded workout."
