"""Streaming GPX reader: the same result as :func:`ingest.gpx.read_gpx`, several times faster.

:func:`~ingest.gpx.read_gpx` parses every document twice (defusedxml's pure-Python expat callbacks
to check it, then gpxpy, which builds one Python object per track point). This module parses it
once, as a stream (:class:`xml.etree.ElementTree.XMLPullParser`, each track point cleared from the
tree as soon as it is read, so the tree does not grow with the track), collects the columns in
lists and builds each activity's frame once. Times in the common ``2024-03-02T07:00:00.5Z`` shape
are parsed vectorised by Polars; any other text goes, value by value, through gpxpy's own time
converter.

XML hardening
    Entity declarations and external references can only come from a document type declaration,
    and that can only stand in the prolog, before the root element. A UTF-8 document whose prolog
    is recognised as holding none (an XML declaration, white space, comments and processing
    instructions, then the root element) is parsed by the C-accelerated expat parser: nothing in
    it can declare an entity or name an external resource. Every other document is parsed with
    defusedxml's parser, which refuses declarations and references exactly as
    :func:`ingest.xml_safety.parse_safe`. When either parse fails, :func:`parse_safe` is run to
    raise the very same :class:`~ingest.errors.UnsafeInput` (``xml_entities``) or
    :class:`~ingest.errors.CorruptFile` (``gpx_malformed``) as the gpxpy reader; only on that
    error path is a document read twice.

gpxpy stays the reference
    Which fields gpxpy checks, and how, is read off its own field declarations
    (``GPXTrackPoint.gpx_10_fields`` / ``gpx_11_fields``, ``GPXTrack``), and waypoints, routes and
    metadata are read by gpxpy's own field code on the small part of the tree that holds them. As
    in gpxpy, a document whose ``version`` is not ``"1.1"`` is read with the GPX 1.0 fields (no
    track ``<type>``, no point ``<extensions>``). A document the stream cannot vouch for raises
    :class:`StreamRefused` with a reason from :data:`REFUSAL_REASONS`; :func:`read_gpx_auto` then
    reads it with gpxpy and says why in :attr:`~ingest.frames.ParsedFile.warnings`. In particular
    every document gpxpy would reject (``gpx_invalid``) is refused here, so that gpxpy raises its
    own error.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import defusedxml
import defusedxml.ElementTree as SafeET
import gpxpy.gpx
import gpxpy.gpxfield
import polars as pl

from ingest.errors import MindmilesError, NotAnActivity
from ingest.frames import SAMPLE_COLUMNS, ParsedActivity, ParsedFile
from ingest.geo import cumulative_distance_m
from ingest.gpx import EXTENSION_FIELDS, TRACK_JOIN_GAP, _what_instead, read_gpx
from ingest.sports import infer_sport, normalise_sport
from ingest.xml_safety import clean_xml_bytes, local_name, parse_safe

__all__ = ["DECODER_NAME", "REFUSAL_REASONS", "StreamRefused", "read_gpx_auto", "read_gpx_fast"]

logger = logging.getLogger(__name__)

DECODER_NAME = "gpx-stream"
""":attr:`ParsedFile.decoder` of a file the streaming reader decoded."""

REFUSAL_REASONS: Mapping[str, str] = {
    "not_utf8": "the document is not UTF-8 (gpxpy reads its bytes as UTF-8 with replacements)",
    "prolog": "a prolog the streaming reader does not recognise (e.g. an internal DTD subset)",
    "not_gpx": "the root element is not a gpx element in the document's default namespace",
    "namespace": "namespaces are declared in a way gpxpy reads differently",
    "invalid_field": "a field gpxpy rejects (a position or number that is not one, an unknown fix)",
    "time_offset": "a time whose offset cannot be converted to UTC",
    "parsers_disagree": "the streaming parser failed where the reference parser did not",
}
"""Reason code -> plain words, for each way the streaming reader hands a file to gpxpy."""


class StreamRefused(MindmilesError):
    """The streaming reader cannot vouch for this GPX document; read it with gpxpy instead.

    Internal to the GPX readers: :func:`read_gpx_auto` catches it. It is not an
    :class:`~ingest.errors.IngestError` because the file may well be fine for gpxpy.

    Parameters
    ----------
    reason
        A key of :data:`REFUSAL_REASONS`.
    detail
        Where and what (element names, counts); never file contents.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REFUSAL_REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        self.reason = reason
        self.detail = detail
        super().__init__(REFUSAL_REASONS[reason] + (f" ({detail})" if detail else ""))


# -- what gpxpy checks, read off its field declarations -------------------------------------------

GPX_11 = "1.1"
"""The only ``version`` attribute value for which gpxpy uses its GPX 1.1 fields."""

Check = Callable[[str], object]
"""Converts an element's text as gpxpy does; raises where gpxpy raises ``GPXException``."""


def _field_check(gpx_field: gpxpy.gpxfield.GPXField) -> Check:
    """The conversion and ``possible`` test of ``GPXField.from_xml`` for a present text."""
    converter = gpx_field.type_converter
    possible = tuple(gpx_field.possible or ())

    def check(text: str) -> object:
        value: object = text if converter is None else converter.from_string(text)
        if possible and value not in possible:
            raise ValueError(f"{gpx_field.tag}: not one of the possible values")
        return value

    return check


def _checked_fields(fields: list[Any]) -> dict[str, Check]:
    """Tag -> check, for the child-element fields gpxpy converts and can reject.

    Container markers (``'link:@link'`` ... ``'/link'``) open fields of a child element; gpxpy
    checks nothing there today, and this reader would not see it, hence the error at import.
    """
    checks: dict[str, Check] = {}
    level = 0
    for gpx_field in fields:
        if isinstance(gpx_field, str):
            level += -1 if gpx_field.startswith("/") else 1
            continue
        if not isinstance(gpx_field, gpxpy.gpxfield.GPXField):
            continue  # lists of child objects and extensions: read elsewhere, never rejected
        rejects = bool(gpx_field.type_converter or gpx_field.possible or gpx_field.mandatory)
        if gpx_field.attribute is not None:
            if rejects and gpx_field.attribute not in ("lat", "lon"):
                raise RuntimeError(f"gpxpy checks attribute {gpx_field.attribute!r}: not handled")
            continue
        if level:
            if rejects:
                raise RuntimeError(f"gpxpy checks nested field {gpx_field.tag!r}: not handled")
            continue
        if rejects and gpx_field.type_converter is not gpxpy.gpxfield.TIME_TYPE:
            checks.setdefault(str(gpx_field.tag), _field_check(gpx_field))
    return checks


def _require_float_fields(fields: list[Any], names: tuple[str, ...]) -> None:
    """The point fields this reader converts with ``float(text.strip())`` must be gpxpy floats."""
    declared = {f.name: f for f in fields if isinstance(f, gpxpy.gpxfield.GPXField)}
    for name in names:
        if declared[name].type_converter is not gpxpy.gpxfield.FLOAT_TYPE:
            raise RuntimeError(f"gpxpy no longer reads {name} as a float")


_POINT = gpxpy.gpx.GPXTrackPoint
_require_float_fields(_POINT.gpx_10_fields, ("latitude", "longitude", "elevation"))
_require_float_fields(_POINT.gpx_11_fields, ("latitude", "longitude", "elevation"))
POINT_CHECKS: Mapping[bool, dict[str, Check]] = {
    is_11: {
        tag: check
        for tag, check in _checked_fields(
            _POINT.gpx_11_fields if is_11 else _POINT.gpx_10_fields
        ).items()
        if tag != "ele"
    }
    for is_11 in (False, True)
}
"""GPX 1.1? -> track point child tag -> gpxpy's check (``ele`` and ``time`` are read directly)."""
TRACK_CHECKS: Mapping[bool, dict[str, Check]] = {
    is_11: _checked_fields(
        gpxpy.gpx.GPXTrack.gpx_11_fields if is_11 else gpxpy.gpx.GPXTrack.gpx_10_fields
    )
    for is_11 in (False, True)
}
"""GPX 1.1? -> track child tag -> gpxpy's check (``<number>``)."""

# -- the prolog and gpxpy's namespace stripping -----------------------------------------------------

_WS = "[ \t\r\n]"
PROLOG = re.compile(
    rf"(?P<decl><\?xml{_WS}[^>]*\?>)?+"
    rf"(?P<misc>(?:{_WS}|<!--.*?-->|<\?.*?\?>|<!DOCTYPE{_WS}[^>\[]*>)*+)"
    r"(?=<[^!?/])",
    re.DOTALL,
)
"""What may stand before the root element: XML declaration, white space, comments, processing
instructions, and a document type declaration without internal subset (possessive, so that a
prolog it does not recognise costs one linear pass)."""
ENCODING = re.compile(rf"{_WS}encoding{_WS}*={_WS}*([\"'])(?P<name>[^\"']*)\1")
"""The encoding pseudo-attribute of the XML declaration."""
ROOT_ATTRIBUTE = re.compile(
    rf"(?P<space>{_WS}+)(?P<name>[^ \t\r\n=/>]+){_WS}*={_WS}*(?:\"[^\"]*\"|'[^']*')"
)
"""One attribute of the root start tag (``space`` before ``name``)."""
GPXPY_XMLNS = re.compile(r"""\sxmlns=(['"])[^'"]+\1""")
"""The text gpxpy deletes, first occurrence only, to drop the default namespace
(``gpxpy.parser.GPXParser.parse``)."""

# -- times ------------------------------------------------------------------------------------------

COMMON_TIME = (
    r"^(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z?$"
)
"""Times parsed vectorised: UTC (``Z``) or naive (read as UTC, as gpxpy does), at most six
fractional digits (gpxpy keeps six), years 1900-2099; a calendar-invalid date among them (30 Feb)
comes out null and is handed to gpxpy like every other text."""
COMMON_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f"


def _gpxpy_time(text: str) -> dt.datetime | None:
    """One time text read by gpxpy's converter (``None`` where gpxpy gives none), in UTC."""
    when: dt.datetime | None = gpxpy.gpxfield.TIME_TYPE.from_string(text)
    if when is None:
        return None
    try:
        return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    except (ValueError, OverflowError) as exc:
        raise StreamRefused("time_offset", type(exc).__name__) from exc


def parse_times(texts: list[str | None]) -> pl.Series:
    """Parse ``<time>`` texts as gpxpy does, into ``Datetime("us", "UTC")``.

    Parameters
    ----------
    texts
        Each point's ``<time>`` text (``None`` when absent or empty).

    Returns
    -------
    pl.Series
        ``timestamp``; null where gpxpy gives no time (absent, empty or unreadable text).

    Raises
    ------
    StreamRefused
        A time whose offset cannot be converted to UTC (``time_offset``).

    Examples
    --------
    >>> parse_times(["2024-03-02T07:00:00.5Z", "2024-03-02 09:00:00+02:00", "noon", None]).to_list()
    [datetime.datetime(2024, 3, 2, 7, 0, 0, 500000, tzinfo=zoneinfo.ZoneInfo(key='UTC')), \
datetime.datetime(2024, 3, 2, 7, 0, tzinfo=zoneinfo.ZoneInfo(key='UTC')), None, None]
    """
    raw = pl.Series("timestamp", texts, dtype=pl.String)
    parsed = (
        raw.str.strip_suffix("Z")
        .str.strptime(pl.Datetime("us"), COMMON_TIME_FORMAT, strict=False)
        .dt.replace_time_zone("UTC")
    )
    odd = raw.is_not_null() & (
        ~raw.str.contains(COMMON_TIME).fill_null(value=False) | parsed.is_null()
    )
    if odd.any():
        positions = odd.arg_true()
        parsed = parsed.scatter(positions, [_gpxpy_time(raw[i]) for i in positions.to_list()])
    return parsed


# -- the stream -------------------------------------------------------------------------------------

CHUNK_BYTES = 1 << 16
"""Bytes fed to the parser at a time (larger chunks leave more of the tree alive between reads)."""


@dataclass(slots=True)
class _Track:
    """Columns of one ``<trk>``, all its segments in order."""

    kind: str | None = None  # <type> text, as gpxpy gives it (GPX 1.1 only)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    ele: list[float | None] = field(default_factory=list)
    times: list[str | None] = field(default_factory=list)
    sensors: list[dict[str, float] | None] = field(default_factory=list)


@dataclass(slots=True)
class _Document:
    """What the stream collected from one document."""

    root: ET.Element
    namespace: str  # "{uri}" of the default namespace, "" for none
    tracks: list[_Track]


def _expat(*, defused: bool) -> ET.XMLParser:
    if defused:
        parser: ET.XMLParser = SafeET.DefusedXMLParser(target=ET.TreeBuilder(), forbid_dtd=False)
        return parser
    return ET.XMLParser(target=ET.TreeBuilder())


def _event_batches(parser: ET.XMLPullParser[Any], data: bytes) -> Iterator[Iterator[Any]]:
    view = memoryview(data)
    for offset in range(0, len(view), CHUNK_BYTES):
        parser.feed(view[offset : offset + CHUNK_BYTES])
        yield parser.read_events()
    parser.close()
    yield parser.read_events()


def _stream(data: bytes, *, defused: bool, refusal: StreamRefused | None) -> _Document:
    """Parse ``data`` once, collecting every track's columns and checking what gpxpy checks.

    One loop over the parser's events, kept inline for speed. ``refusal`` is raised at the root
    element's start: by then expat has read the whole prolog (and refused any declaration).
    """
    parser = ET.XMLPullParser(("start", "end", "start-ns"), _parser=_expat(defused=defused))
    declared: list[tuple[str, str, int]] = []  # (prefix, uri, depth of the declaring element)
    root: ET.Element | None = None
    namespace = ""
    tags: dict[str, str] = {}
    point_checks: dict[str, Check] = {}
    track_checks: dict[str, Check] = {}
    sensor_columns: dict[str, str] = {}  # tag -> sample column ("" for none)
    is_11 = False
    tracks: list[_Track] = []
    track = _Track()
    segment: ET.Element | None = None
    depth = 0
    in_track = in_segment = False
    trkpt = ele_tag = time_tag = ext_tag = ""
    for events in _event_batches(parser, data):
        for event, item in events:
            if event == "end":
                if depth == 4:
                    if in_segment and item.tag == trkpt:
                        attrib = item.attrib
                        lat_text, lon_text = attrib.get("lat"), attrib.get("lon")
                        if lat_text is None or lon_text is None:
                            raise StreamRefused("invalid_field", "a track point without lat/lon")
                        try:
                            track.lat.append(float(lat_text.strip()))
                            track.lon.append(float(lon_text.strip()))
                        except ValueError as exc:
                            raise StreamRefused("invalid_field", "trkpt lat/lon") from exc
                        known = 0
                        child = item.find(ele_tag)
                        if child is None or child.text is None:
                            track.ele.append(None)
                        else:
                            try:
                                track.ele.append(float(child.text.strip()))
                            except ValueError as exc:
                                raise StreamRefused("invalid_field", "trkpt ele") from exc
                        known += child is not None
                        child = item.find(time_tag)
                        track.times.append(None if child is None else child.text)
                        known += child is not None
                        values: dict[str, float] | None = None
                        if is_11:
                            child = item.find(ext_tag)
                            if child is not None:
                                known += 1
                                values = {}
                                for node in child.iter():
                                    column = sensor_columns.get(node.tag)
                                    if column is None:
                                        name = local_name(node.tag).lower()
                                        column = sensor_columns[node.tag] = (
                                            EXTENSION_FIELDS.get(name) or ""
                                        )
                                    if not column or column in values or node.text is None:
                                        continue
                                    try:
                                        values[column] = float(node.text.strip())
                                    except ValueError:
                                        continue
                        track.sensors.append(values)
                        if len(item) > known:
                            _check_children(item, point_checks, "trkpt")
                        item.clear()
                        if segment is not None:
                            segment.clear()
                elif depth == 3:
                    in_segment, segment = False, None
                elif depth == 2:
                    if in_track:
                        _check_children(item, track_checks, "trk")
                        if is_11:
                            kind = item.find(tags["type"])
                            track.kind = None if kind is None else kind.text
                        tracks.append(track)
                        track = _Track()
                        in_track = False
                        if root is not None:
                            root.remove(item)
                elif depth == 1:
                    root = item
                depth -= 1
            elif event == "start":
                depth += 1
                if depth == 4:
                    continue
                if depth == 3:
                    in_segment = in_track and item.tag == tags["trkseg"]
                    segment = item if in_segment else None
                elif depth == 2:
                    in_track = item.tag == tags["trk"]
                elif depth == 1:
                    if refusal is not None:
                        raise refusal
                    root = item
                    namespace = _root_namespace(item, declared)
                    tags = {name: namespace + name for name in ("trk", "trkseg", "type")}
                    trkpt, ele_tag = namespace + "trkpt", namespace + "ele"
                    time_tag, ext_tag = namespace + "time", namespace + "extensions"
                    is_11 = item.get("version") == GPX_11
                    point_checks = {namespace + t: c for t, c in POINT_CHECKS[is_11].items()}
                    track_checks = {namespace + t: c for t, c in TRACK_CHECKS[is_11].items()}
            else:  # start-ns: comes before the start of the element that declares it
                prefix, uri = item
                declared.append((prefix, uri, depth + 1))
                if depth and (not prefix or (namespace and uri == namespace[1:-1])):
                    raise StreamRefused("namespace", f"declared inside the document ({prefix!r})")
    if root is None:  # pragma: no cover - expat raises "no element found" first
        raise StreamRefused("parsers_disagree", "no root element")
    return _Document(root=root, namespace=namespace, tracks=tracks)


def _root_namespace(root: ET.Element, declared: list[tuple[str, str, int]]) -> str:
    """``"{uri}"`` of the default namespace the root element sits in ("" for none)."""
    defaults = [uri for prefix, uri, _ in declared if not prefix]
    namespace = "{" + defaults[0] + "}" if defaults else ""
    if root.tag != namespace + "gpx":
        raise StreamRefused("not_gpx", "root element " + local_name(str(root.tag)))
    if any(prefix and uri == defaults[0] for prefix, uri, _ in declared if defaults):
        raise StreamRefused("namespace", "a prefix bound to the default namespace")
    return namespace


def _check_children(element: ET.Element, checks: Mapping[str, Check], where: str) -> None:
    """Run gpxpy's checks on the first child of each checked tag (``node.find`` in gpxpy)."""
    seen: set[str] = set()
    for child in element:
        tag = child.tag
        if tag in seen:
            continue
        seen.add(tag)
        check = checks.get(tag)
        if check is None or child.text is None:
            continue
        try:
            check(child.text)
        except Exception as exc:  # gpxpy turns any converter error into GPXException
            raise StreamRefused("invalid_field", f"{where} {local_name(tag)}") from exc


# -- the checks before and after the stream ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prolog:
    """The decoded text, where the root element starts, and how to parse the document."""

    text: str
    root_start: int
    defused: bool
    refusal: StreamRefused | None


def _read_prolog(clean: bytes) -> _Prolog:
    """Decode the document and find its root element; refuse what gpxpy would read differently."""
    try:
        text = clean.decode("utf-8")
    except UnicodeDecodeError:
        return _Prolog("", 0, defused=True, refusal=StreamRefused("not_utf8"))
    match = PROLOG.match(text)
    if match is None or (match.group("decl") is None and text.startswith("<?xml")):
        return _Prolog(text, 0, defused=True, refusal=StreamRefused("prolog"))
    defused = "<!DOCTYPE" in match.group("misc")
    encoding = ENCODING.search(match.group("decl") or "")
    if encoding is not None and encoding.group("name").lower() not in ("utf-8", "utf8"):
        return _Prolog(text, 0, defused=True, refusal=StreamRefused("not_utf8", "declared"))
    return _Prolog(text, match.end(), defused=defused, refusal=None)


def _check_gpxpy_xmlns(text: str, root_start: int, namespace: str) -> None:
    """Refuse unless gpxpy's text edit removes exactly the root's default namespace declaration.

    gpxpy deletes the first ``xmlns="..."`` in the text, wherever it stands (a comment, a value).
    """
    first = GPXPY_XMLNS.search(text)
    if not namespace:
        if first is not None:
            raise StreamRefused("namespace", "gpxpy would edit an xmlns text")
        return
    position = root_start + 1
    while position < len(text) and text[position] not in " \t\r\n/>":
        position += 1
    while (attribute := ROOT_ATTRIBUTE.match(text, position)) is not None:
        if attribute.group("name") == "xmlns":
            if first is None or first.span() != (attribute.start("name") - 1, attribute.end()):
                raise StreamRefused("namespace", "gpxpy would not remove the default namespace")
            return
        position = attribute.end()
    raise StreamRefused("namespace", "no default namespace attribute in the root start tag")


def _check_rest(root: ET.Element, namespace: str) -> gpxpy.gpx.GPX:
    """Read what is left of the tree (no tracks) with gpxpy's own field code.

    Waypoints, routes, metadata and bounds are few; gpxpy reads them as it would (without the
    default namespace, as after its own text edit) and rejects what it would reject.
    """
    if namespace:
        for element in root.iter():
            if element.tag.startswith(namespace):
                element.tag = element.tag[len(namespace) :]
    document = gpxpy.gpx.GPX()
    node: Any = root  # gpxpy annotates its nodes as str
    version: Any = root.get("version")  # gpxpy passes None when the attribute is absent
    try:
        gpxpy.gpxfield.gpx_fields_from_xml(document, node, version)
    except gpxpy.gpx.GPXException as exc:
        raise StreamRefused("invalid_field", "outside the tracks") from exc
    return document


# -- frames -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Outing:
    """Consecutive tracks joined into one activity (as ``read_gpx`` joins them)."""

    kind: str | None
    end: dt.datetime
    tracks: list[_Track]
    times: list[pl.Series]


def _samples(outing: _Outing) -> pl.DataFrame:
    """The samples frame, column for column as ``ingest.gpx._samples`` builds it from rows."""
    tracks = outing.tracks
    n = sum(len(t.lat) for t in tracks)
    sensors = [row for t in tracks for row in t.sensors]
    columns: dict[str, Any] = {name: [None] * n for name in SAMPLE_COLUMNS}
    columns["timestamp"] = pl.concat(outing.times) if len(outing.times) > 1 else outing.times[0]
    columns["lat_deg"] = [v for t in tracks for v in t.lat]
    columns["lon_deg"] = [v for t in tracks for v in t.lon]
    columns["altitude_m"] = [v for t in tracks for v in t.ele]
    for name in set(EXTENSION_FIELDS.values()):
        if any(row and name in row for row in sensors):
            columns[name] = [row.get(name) if row else None for row in sensors]
    frame = pl.DataFrame(columns, schema=SAMPLE_COLUMNS, strict=False)
    start = frame["timestamp"].drop_nulls().min()
    distance = cumulative_distance_m(pl.col("lat_deg"), pl.col("lon_deg"))
    elapsed = (pl.col("timestamp") - pl.lit(start)).dt.total_microseconds() / 1e6
    frame = frame.with_columns(distance_m=distance, elapsed_s=elapsed)
    derived_speed = (pl.col("distance_m").diff() / pl.col("elapsed_s").diff()).fill_nan(None)
    derived_speed = pl.when(pl.col("elapsed_s").diff() > 0).then(derived_speed)
    return frame.with_columns(speed_mps=pl.coalesce(pl.col("speed_mps"), derived_speed))


def _instant(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):  # pragma: no cover - a Datetime column's min/max
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value


def _outings(tracks: list[_Track]) -> tuple[list[_Outing], int]:
    """Timed tracks joined as ``read_gpx`` joins them; also the count of untimed ones skipped."""
    outings: list[_Outing] = []
    skipped_untimed = 0
    for track in tracks:
        times = parse_times(track.times)
        if times.null_count() == times.len():
            skipped_untimed += bool(track.lat)
            continue
        first, last = _instant(times.min()), _instant(times.max())
        previous = outings[-1] if outings else None
        if (
            previous is not None
            and dt.timedelta(0) <= first - previous.end <= TRACK_JOIN_GAP
            and previous.kind == track.kind
        ):
            previous.tracks.append(track)
            previous.times.append(times)
            previous.end = max(previous.end, last)
        else:
            outings.append(_Outing(track.kind, last, [track], [times]))
    return outings, skipped_untimed


def read_gpx_fast(data: bytes) -> ParsedFile:
    """Decode a GPX file as :func:`ingest.gpx.read_gpx` does, in one streaming parse.

    Parameters
    ----------
    data
        The file's bytes (a UTF-8 BOM and leading whitespace are tolerated).

    Returns
    -------
    ParsedFile
        As :func:`~ingest.gpx.read_gpx` returns it, but ``decoder="gpx-stream"``.

    Raises
    ------
    UnsafeInput
        The XML declares entities or external references (``xml_entities``).
    CorruptFile
        Not well-formed XML (``gpx_malformed``).
    NotAnActivity
        Routes, waypoints, or tracks without times only.
    StreamRefused
        A document the streaming reader cannot vouch for (see :data:`REFUSAL_REASONS`), among them
        every document gpxpy rejects.
    """
    clean = clean_xml_bytes(data)
    prolog = _read_prolog(clean)
    try:
        document = _stream(clean, defused=prolog.defused, refusal=prolog.refusal)
    except (ET.ParseError, defusedxml.DefusedXmlException) as exc:
        parse_safe(data, kind="gpx")  # raises the reference reader's own error
        raise StreamRefused("parsers_disagree", type(exc).__name__) from exc
    _check_gpxpy_xmlns(prolog.text, prolog.root_start, document.namespace)
    gpx = _check_rest(document.root, document.namespace)
    outings, skipped_untimed = _outings(document.tracks)
    activities: list[ParsedActivity] = []
    for outing in outings:
        samples = _samples(outing)
        flags: set[str] = set()
        sport = normalise_sport(outing.kind)
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
        raise NotAnActivity("not_an_activity", _what_instead(gpx, skipped_untimed))
    warnings = [f"{skipped_untimed} track(s) without times skipped"] if skipped_untimed else []
    return ParsedFile(
        source_format="gpx",
        activities=activities,
        device=gpx.creator or None,
        decoder=DECODER_NAME,
        warnings=warnings,
    )


def read_gpx_auto(data: bytes) -> ParsedFile:
    """Decode a GPX file with the streaming reader, or with gpxpy when the stream refuses it.

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    ParsedFile
        ``decoder`` names the reader used; after a fallback the first warning says why
        (``"streaming reader refused: ...; decoded with gpxpy"``).

    Raises
    ------
    UnsafeInput, CorruptFile, NotAnActivity
        As :func:`ingest.gpx.read_gpx`.
    """
    try:
        return read_gpx_fast(data)
    except StreamRefused as refused:
        logger.info("streaming GPX reader refused a file (%s); using gpxpy", refused.reason)
        parsed = read_gpx(data)
        parsed.warnings.insert(0, f"streaming reader refused: {refused}; decoded with gpxpy")
        return parsed
