"""Streaming GPX reader: the same result as :func:`ingest.gpx.read_gpx`, several times faster.

:func:`~ingest.gpx.read_gpx` parses every document twice (defusedxml's pure-Python expat callbacks
to check it, then gpxpy, which builds one Python object per track point). This module parses it
once, as a stream (:class:`xml.etree.ElementTree.XMLPullParser` on ``end`` events; each track
point is cleared as soon as it is read and each segment when it ends, so what stays of the tree is
an emptied element per point of the current segment), collects the columns in lists and builds
each activity's frame once. Times in the common ``2024-03-02T07:00:00.5Z`` shape
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
    raise the very same :class:`~schemas.errors.UnsafeInput` (``xml_entities``) or
    :class:`~schemas.errors.CorruptFile` (``gpx_malformed``) as the gpxpy reader; only on that
    error path is a document read twice.

gpxpy stays the reference
    Which fields gpxpy checks, and how, is read off its own field declarations
    (``GPXTrackPoint.gpx_10_fields`` / ``gpx_11_fields``, ``GPXTrack``), and waypoints, routes and
    metadata are read by gpxpy's own field code on the small part of the tree that holds them. As
    in gpxpy, a document whose ``version`` is not ``"1.1"`` is read with the GPX 1.0 fields (no
    track ``<type>``); its points' extension values are read as :func:`ingest.gpx.read_gpx` reads
    them (:func:`ingest.gpx.extension_roots`), since gpxpy keeps none for GPX 1.0. A document the
    stream cannot vouch for raises :class:`StreamRefused` with a reason from
    :data:`REFUSAL_REASONS`; :func:`read_gpx_auto` then reads it with gpxpy and says why in
    :attr:`~ingest.frames.ParsedFile.warnings`. In particular every document gpxpy would reject
    (``gpx_invalid``) is refused here, so that gpxpy raises its own error.
"""

from __future__ import annotations

import datetime as dt
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

from ingest.frames import SAMPLE_COLUMNS, UTC_US, ParsedActivity, ParsedFile, read_with_fallback
from ingest.gpx import (
    EXTENSION_FIELDS,
    TRACK_JOIN_GAP,
    _skip_warnings,
    _what_instead,
    extension_column,
    extension_roots,
    finish_samples,
    read_gpx,
    sensor_value,
)
from ingest.sports import infer_sport, normalise_sport
from ingest.summaries import one_instant
from ingest.xml_safety import clean_xml_bytes, declare_unbound_prefixes, local_name, parse_safe
from schemas.errors import CorruptFile, NotAnActivity, ReaderRefused

__all__ = ["DECODER_NAME", "REFUSAL_REASONS", "StreamRefused", "read_gpx_auto", "read_gpx_fast"]


DECODER_NAME = "gpx-stream"
""":attr:`ParsedFile.decoder` of a file the streaming reader decoded."""

REFUSAL_REASONS: Mapping[str, str] = {
    "not_utf8": "the document is not UTF-8 (gpxpy reads its bytes as UTF-8 with replacements)",
    "prolog": "a prolog the streaming reader does not recognise (e.g. an internal DTD subset)",
    "not_gpx": "the root element is not a gpx element in the document's default namespace",
    "namespace": "namespaces are declared in a way gpxpy reads differently",
    "invalid_field": "a field gpxpy rejects (a position or number that is not one, an unknown fix)",
    "time_offset": "a time whose offset cannot be converted to UTC",
    "structure": "a track, segment or point outside gpx/trk/trkseg/trkpt, where gpxpy reads none",
    "parsers_disagree": "the streaming parser and the reference parser read the document apart",
}
"""Reason code -> plain words, for each way the streaming reader hands a file to gpxpy."""


class StreamRefused(ReaderRefused):
    """The streaming reader cannot vouch for this GPX document; read it with gpxpy instead.

    :func:`read_gpx_auto` catches it. Reasons: :data:`REFUSAL_REASONS`.
    """

    reasons = REFUSAL_REASONS


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
ROOT_NAME = re.compile(r"<(?P<name>[^ \t\r\n/>]+)")
"""The root element's name, as written (``gpx``, or ``g:gpx`` with a prefix)."""
ROOT_ATTRIBUTE = re.compile(
    rf"{_WS}+(?P<name>[^ \t\r\n=/>]+){_WS}*={_WS}*(?P<value>\"[^\"]*\"|'[^']*')"
)
"""One attribute of the root start tag."""
ROOT_TAG_END = re.compile(rf"{_WS}*/?>")
RAW_VALUE_CHANGES = re.compile(r"[&\t\r\n]")
"""What makes an attribute's parsed value differ from its text (references, normalised space)."""
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
    if not texts:
        return pl.Series("timestamp", [], dtype=UTC_US)
    raw = pl.col("timestamp")
    parsed = (
        raw.str.strip_suffix("Z")
        .str.strptime(pl.Datetime("us"), COMMON_TIME_FORMAT, strict=False)
        .dt.replace_time_zone("UTC")
    )
    odd = raw.is_not_null() & (
        ~raw.str.contains(COMMON_TIME).fill_null(value=False) | parsed.is_null()
    )
    texts_frame = pl.LazyFrame({"timestamp": texts}, schema={"timestamp": pl.String})
    times_frame, odd_frame = pl.collect_all(
        [texts_frame.select(parsed), texts_frame.select(odd=odd.arg_true())]
    )
    times = times_frame["timestamp"]
    positions: list[int] = odd_frame["odd"].to_list()
    if positions:
        values = [None if texts[i] is None else _gpxpy_time(str(texts[i])) for i in positions]
        times = times.scatter(positions, values)
    return times


# -- the prolog -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Prolog:
    """What the text before the stream tells: how to parse, and the root start tag's attributes.

    ``refusal`` is raised once expat has read the prolog, so that a declaration is refused first.
    """

    defused: bool
    namespace: str = ""  # "{uri}" of the default namespace declared on the root, "" for none
    version: str | None = None
    refusal: StreamRefused | None = None


def _read_prolog(clean: bytes) -> _Prolog:
    """Decode the document, find its root start tag, and refuse what gpxpy would read differently.

    gpxpy decodes the bytes as UTF-8 (replacing what is not), then deletes the first
    ``xmlns="..."`` text wherever it stands (in a comment, in a value): the stream only vouches for
    documents where that text is the root's own default namespace declaration, or is absent.
    """
    try:
        text = clean.decode("utf-8")
    except UnicodeDecodeError:
        return _Prolog(defused=True, refusal=StreamRefused("not_utf8"))
    match = PROLOG.match(text)
    if match is None or (match.group("decl") is None and text.startswith("<?xml")):
        return _Prolog(defused=True, refusal=StreamRefused("prolog"))
    defused = "<!DOCTYPE" in match.group("misc")
    encoding = ENCODING.search(match.group("decl") or "")
    if encoding is not None and encoding.group("name").lower() not in ("utf-8", "utf8"):
        return _Prolog(defused=True, refusal=StreamRefused("not_utf8", "declared"))
    name = ROOT_NAME.match(text, match.end())
    if name is None or name.group("name") != "gpx":
        return _Prolog(defused=defused, refusal=StreamRefused("not_gpx", "root start tag"))
    attributes: dict[str, tuple[str, int, int]] = {}  # name -> (text of the value, start, end)
    position = name.end()
    while (attribute := ROOT_ATTRIBUTE.match(text, position)) is not None:
        value = attribute.group("value")[1:-1]
        attributes[attribute.group("name")] = (value, attribute.start("name"), attribute.end())
        position = attribute.end()
    if ROOT_TAG_END.match(text, position) is None:
        return _Prolog(defused=defused, refusal=StreamRefused("prolog", "root start tag"))
    if any(RAW_VALUE_CHANGES.search(attributes.get(a, ("",))[0]) for a in ("xmlns", "version")):
        return _Prolog(defused=defused, refusal=StreamRefused("namespace", "escaped attribute"))
    first = GPXPY_XMLNS.search(text)
    xmlns = attributes.get("xmlns")
    if xmlns is None:
        if first is not None:
            return _Prolog(defused=defused, refusal=StreamRefused("namespace", "xmlns text"))
        namespace = ""
    elif first is None or first.span() != (xmlns[1] - 1, xmlns[2]):
        return _Prolog(defused=defused, refusal=StreamRefused("namespace", "root xmlns"))
    else:
        namespace = "{" + xmlns[0] + "}"
    version = attributes["version"][0] if "version" in attributes else None
    return _Prolog(defused=defused, namespace=namespace, version=version)


# -- the stream -------------------------------------------------------------------------------------

SENSOR_COLUMNS = tuple(dict.fromkeys(EXTENSION_FIELDS.values()))
"""Sample columns that extension elements fill."""
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
    sensors: dict[str, dict[int, float]] = field(
        default_factory=lambda: {column: {} for column in SENSOR_COLUMNS}
    )  # column -> point index -> value (sparse, and no object per point for the GC to track)


@dataclass(slots=True)
class _Document:
    """What the stream collected from one document."""

    root: ET.Element  # without its tracks
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


def _stream(data: bytes, prolog: _Prolog) -> _Document:
    """Parse ``data`` once, collecting every track's columns and checking what gpxpy checks.

    One loop over the parser's ``end`` events, kept inline for speed. Each ``<trkpt>`` is read
    when it ends and cleared; its emptied element stays in its ``<trkseg>`` until the segment
    ends, when the segment is cleared. gpxpy reads only ``gpx/trk/trkseg/trkpt``, each a direct
    child of the one before: the stream counts points since the last segment, segments since the
    last track, and tracks, and refuses the document when an element's direct children do not
    account for them all (a point or a segment anywhere else).
    """
    parser = ET.XMLPullParser(("end", "start-ns"), _parser=_expat(defused=prolog.defused))
    refusal = prolog.refusal
    namespace = prolog.namespace
    uri = namespace[1:-1]
    trkpt, trkseg, trk = namespace + "trkpt", namespace + "trkseg", namespace + "trk"
    ele_tag, time_tag, ext_tag = namespace + "ele", namespace + "time", namespace + "extensions"
    type_tag = namespace + "type"
    is_11 = prolog.version == GPX_11
    point_checks = {namespace + t: c for t, c in POINT_CHECKS[is_11].items()}
    track_checks = {namespace + t: c for t, c in TRACK_CHECKS[is_11].items()}
    sensor_columns: dict[str, str] = {}  # extension tag -> sample column ("" for none)
    tracks: list[_Track] = []
    track = _Track()
    points = segments = defaults = 0  # since the last segment, since the last track; xmlns="..."
    item: Any = None
    for events in _event_batches(parser, data):
        for event, item in events:
            if event == "end":
                tag = item.tag
                if tag == trkpt:
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
                    roots = (
                        ([] if (child := item.find(ext_tag)) is None else [child])
                        if is_11
                        else extension_roots(item, namespace)
                    )
                    if roots:
                        known += is_11
                        index = len(track.times) - 1
                        for node in (node for root_ in roots for node in root_.iter()):
                            column = sensor_columns.get(node.tag)
                            if column is None:
                                column = sensor_columns[node.tag] = (
                                    (extension_column(node.tag) or "")
                                    if isinstance(node.tag, str)
                                    else ""
                                )
                            if not column or node.text is None:
                                continue
                            values = track.sensors[column]
                            if index in values:  # the first readable value wins
                                continue
                            value = sensor_value(column, node.text)
                            if value is not None:
                                values[index] = value
                    if len(item) > known:
                        _check_children(item, point_checks, "trkpt")
                    item.clear()
                    points += 1
                elif tag == trkseg:
                    if len(item.findall(trkpt)) != points:
                        raise StreamRefused("structure", "a trkpt outside gpx/trk/trkseg")
                    item.clear()
                    points = 0
                    segments += 1
                elif tag == trk:
                    if points or len(item.findall(trkseg)) != segments:
                        raise StreamRefused("structure", "a trkseg or trkpt outside gpx/trk")
                    _check_children(item, track_checks, "trk")
                    if is_11:
                        kind = item.find(type_tag)
                        track.kind = None if kind is None else kind.text
                    tracks.append(track)
                    track = _Track()
                    segments = 0
                    item.clear()  # the emptied element stays, to be counted at the end
                elif refusal is not None:  # an element ended: expat has read the prolog
                    raise refusal
            else:  # start-ns: on the root at the earliest, after the prolog
                if refusal is not None:
                    raise refusal
                prefix, declared = item
                if not prefix:
                    defaults += 1
                    if defaults > 1 or declared != uri:
                        raise StreamRefused("namespace", "a default namespace inside the document")
                elif namespace and declared == uri:
                    raise StreamRefused("namespace", "a prefix bound to the default namespace")
    if refusal is not None:
        raise refusal
    root: ET.Element = item  # the last element to end
    if root.tag != namespace + "gpx" or root.get("version") != prolog.version:
        raise StreamRefused("parsers_disagree", "root element")
    if points or segments or len(root.findall(trk)) != len(tracks) or defaults != bool(uri):
        raise StreamRefused("structure", "a trk, trkseg or trkpt outside gpx/trk/trkseg")
    root[:] = [child for child in root if child.tag != trk]
    return _Document(root=root, tracks=tracks)


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
    columns: dict[str, Any] = {name: [None] * n for name in SAMPLE_COLUMNS}
    columns["timestamp"] = pl.concat(outing.times) if len(outing.times) > 1 else outing.times[0]
    columns["lat_deg"] = [v for t in tracks for v in t.lat]
    columns["lon_deg"] = [v for t in tracks for v in t.lon]
    columns["altitude_m"] = [v for t in tracks for v in t.ele]
    for name in SENSOR_COLUMNS:
        if any(t.sensors[name] for t in tracks):
            columns[name] = [t.sensors[name].get(i) for t in tracks for i in range(len(t.lat))]
    return finish_samples(pl.DataFrame(columns, schema=SAMPLE_COLUMNS, strict=False))


def _instant(value: object) -> dt.datetime:
    if not isinstance(value, dt.datetime):  # pragma: no cover - a Datetime column's min/max
        raise TypeError(f"expected a datetime, got {type(value).__name__}")
    return value


def _outings(tracks: list[_Track]) -> tuple[list[_Outing], int, int]:
    """Timed tracks joined as ``read_gpx`` joins them; counts of untimed and one-instant skipped."""
    outings: list[_Outing] = []
    skipped_untimed = skipped_one_instant = 0
    all_times = parse_times([text for track in tracks for text in track.times])  # one Polars call
    offset = 0
    for track in tracks:
        times = all_times.slice(offset, len(track.times))
        offset += len(track.times)
        if times.null_count() == times.len():
            skipped_untimed += bool(track.lat)
            continue
        first, last = _instant(times.min()), _instant(times.max())
        if one_instant(first, last, times.len() - times.null_count()):
            skipped_one_instant += 1
            continue
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
    return outings, skipped_untimed, skipped_one_instant


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
        Routes, waypoints, or tracks without times (or with one time on every point) only.
    StreamRefused
        A document the streaming reader cannot vouch for (see :data:`REFUSAL_REASONS`), among them
        every document gpxpy rejects.
    """
    clean = clean_xml_bytes(data)
    prolog = _read_prolog(clean)
    try:
        document = _stream(clean, prolog)
    except (ET.ParseError, LookupError, defusedxml.DefusedXmlException) as exc:
        parse_safe(data, kind="gpx")  # raises the reference reader's own error
        raise StreamRefused("parsers_disagree", type(exc).__name__) from exc
    gpx = _check_rest(document.root, prolog.namespace)
    outings, skipped_untimed, skipped_one_instant = _outings(document.tracks)
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
        what = _what_instead(gpx, skipped_untimed, skipped_one_instant)
        raise NotAnActivity("not_an_activity", what)
    warnings = _skip_warnings(skipped_untimed, skipped_one_instant)
    return ParsedFile(
        source_format="gpx",
        activities=activities,
        device=gpx.creator or None,
        decoder=DECODER_NAME,
        warnings=warnings,
    )


def read_gpx_auto(data: bytes) -> ParsedFile:
    """Decode a GPX file with the streaming reader, or with gpxpy when the stream refuses it.

    A document that uses a namespace prefix it never declares (not namespace-well-formed, so every
    XML parser refuses it) is read once more with the prefixes declared
    (:func:`ingest.xml_safety.declare_unbound_prefixes`), and the first warning says so.

    Parameters
    ----------
    data
        The file's bytes.

    Returns
    -------
    ParsedFile
        ``decoder`` names the reader used; after a fallback a warning says why
        (``"streaming reader refused: ...; decoded with gpxpy"``).

    Raises
    ------
    UnsafeInput, CorruptFile, NotAnActivity
        As :func:`ingest.gpx.read_gpx`.
    """
    try:
        return _read_either(data)
    except CorruptFile as exc:
        if exc.reason_code != "gpx_malformed" or not (exc.detail or "").startswith(
            "unbound prefix"
        ):
            raise
        repaired, prefixes = declare_unbound_prefixes(data)
        if not prefixes:
            raise
        parsed = _read_either(repaired)
        parsed.warnings.insert(
            0, f"namespace prefix(es) {', '.join(prefixes)} used but never declared; declared"
        )
        return parsed


def _read_either(data: bytes) -> ParsedFile:
    return read_with_fallback(
        data,
        fast=read_gpx_fast,
        reference=read_gpx,
        refused=StreamRefused,
        fast_name="streaming reader",
        reference_name="gpxpy",
    )
