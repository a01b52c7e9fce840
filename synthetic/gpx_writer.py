"""Write GPX tracks with sensor values in the extension shapes real exporters use.

The default is GPX 1.1 with Garmin TrackPointExtension v1 heart rate and cadence (what the demo
writes). The keyword options reproduce other exporters' shapes for the readers' tests: TPX v2,
Cluetrust ``gpxdata`` (decimal heart rates, Movescount/Suunto), Garmin's power extension
(``pwr:PowerInWatts``), and GPX 1.0, whose points carry extension elements directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

__all__ = [
    "EXTENSION_NAMESPACES",
    "GPX_10_NS",
    "GPX_NS",
    "PWR_NS",
    "TPX_NS",
    "ExtensionStyle",
    "TrackPoint",
    "encode_gpx",
]

GPX_NS = "http://www.topografix.com/GPX/1/1"
GPX_10_NS = "http://www.topografix.com/GPX/1/0"
TPX_NS = "http://www.garmin.com/xmlschemas/TrackPointExtension/v1"
PWR_NS = "http://www.garmin.com/xmlschemas/PowerExtension/v1"
_SCHEMA_LOCATION = (
    f"{GPX_NS} http://www.topografix.com/GPX/1/1/gpx.xsd "
    f"{TPX_NS} http://www8.garmin.com/xmlschemas/TrackPointExtensionv1.xsd"
)

ExtensionStyle = Literal["gpxtpx", "gpxtpx-v2", "gpxdata"]
"""How sensor values are written: Garmin TrackPointExtension v1 or v2, or Cluetrust gpxdata."""

EXTENSION_NAMESPACES: dict[str, tuple[str, str]] = {
    "gpxtpx": ("gpxtpx", TPX_NS),
    "gpxtpx-v2": ("gpxtpx", "http://www.garmin.com/xmlschemas/TrackPointExtension/v2"),
    "gpxdata": ("gpxdata", "http://www.cluetrust.com/XML/GPXDATA/1/0"),
}
"""Extension style -> (prefix, namespace URI)."""

_TAGS: dict[str, dict[str, str]] = {
    "gpxtpx": {"hr": "hr", "cad": "cad", "temp": "atemp"},
    "gpxtpx-v2": {"hr": "hr", "cad": "cad", "temp": "atemp"},
    "gpxdata": {"hr": "hr", "cad": "cadence", "temp": "temp"},
}
"""Extension style -> TrackPoint field -> element name."""


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One GPX track point.

    Parameters
    ----------
    time
        Timezone-aware instant; written in UTC with a ``Z`` suffix.
    lat, lon
        Position in degrees (WGS 84).
    ele
        Elevation in metres, or ``None``.
    hr
        Heart rate in bpm (``gpxtpx:hr``), or ``None``; ``gpxdata`` writes it with decimals.
    cad
        Cadence in rpm, one leg (``gpxtpx:cad``), or ``None``.
    power
        Power in watts (``pwr:PowerInWatts``), or ``None``.
    temp
        Temperature in degrees Celsius (``gpxtpx:atemp``, ``gpxdata:temp``), or ``None``.
    """

    time: datetime
    lat: float
    lon: float
    ele: float | None = None
    hr: float | None = None
    cad: int | None = None
    power: int | None = None
    temp: float | None = None


def _utc(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("GPX times must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _extensions(point: TrackPoint, style: ExtensionStyle, *, gpx_10: bool) -> str:
    prefix = EXTENSION_NAMESPACES[style][0]
    values = [
        (tag, value)
        for field, tag in _TAGS[style].items()
        if (value := getattr(point, field)) is not None
    ]
    children = [f"<{prefix}:{tag}>{value}</{prefix}:{tag}>" for tag, value in values]
    if style.startswith("gpxtpx") and children:
        children = [
            f"<{prefix}:TrackPointExtension>{''.join(children)}</{prefix}:TrackPointExtension>"
        ]
    if point.power is not None:
        children.append(f"<pwr:PowerInWatts>{point.power}</pwr:PowerInWatts>")
    if not children:
        return ""
    # GPX 1.0 has no <extensions>: elements of other namespaces stand in the point itself
    return "".join(children) if gpx_10 else "<extensions>" + "".join(children) + "</extensions>"


def _trkpt(point: TrackPoint, style: ExtensionStyle, *, gpx_10: bool) -> str:
    ele = "" if point.ele is None else f"<ele>{point.ele:.1f}</ele>"
    return (
        f'      <trkpt lat="{point.lat:.7f}" lon="{point.lon:.7f}">{ele}'
        f"<time>{_utc(point.time)}</time>{_extensions(point, style, gpx_10=gpx_10)}</trkpt>\n"
    )


def encode_gpx(
    points: Sequence[TrackPoint],
    *,
    name: str | None = None,
    activity_type: str | None = "running",
    creator: str = "mindmiles synthetic",
    extensions: ExtensionStyle = "gpxtpx",
    version: Literal["1.1", "1.0"] = "1.1",
) -> bytes:
    """Encode one track as a GPX 1.1 (or 1.0) document.

    Parameters
    ----------
    points
        Track points in time order; written as one ``<trkseg>``.
    name
        Track name (``<trk><name>``), or ``None`` for none.
    activity_type
        ``<trk><type>`` text, or ``None`` for none.
    creator
        The ``creator`` attribute of ``<gpx>``.
    extensions
        How heart rate, cadence and temperature are written (:data:`ExtensionStyle`); power is
        always Garmin's ``pwr:PowerInWatts``.
    version
        ``"1.0"`` writes the GPX 1.0 namespace, no ``<metadata>`` (1.0 has none; its ``<time>``
        stands in ``<gpx>``), no ``<type>``, and the extension elements directly in each point.

    Returns
    -------
    bytes
        UTF-8 XML with an XML declaration; ``<metadata><time>`` is the first point's time.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> xml = encode_gpx([TrackPoint(datetime(2026, 3, 2, 7, 15, tzinfo=UTC), 51.5, -0.12, hr=120)])
    >>> b"<gpxtpx:hr>120</gpxtpx:hr>" in xml
    True
    """
    gpx_10 = version == "1.0"
    first_time = _utc(points[0].time) if points else None
    if gpx_10:
        metadata = f"  <time>{first_time}</time>\n" if first_time else ""
    else:
        metadata = f"  <metadata><time>{first_time}</time></metadata>\n" if first_time else ""
    trk_head = "".join(
        f"    <{tag}>{escape(text)}</{tag}>\n"
        for tag, text in (("name", name), ("type", None if gpx_10 else activity_type))
        if text is not None
    )
    prefix, uri = EXTENSION_NAMESPACES[extensions]
    namespaces = f'xmlns="{GPX_10_NS if gpx_10 else GPX_NS}" xmlns:{prefix}="{uri}"'
    if any(point.power is not None for point in points):
        namespaces += f' xmlns:pwr="{PWR_NS}"'
    schema = "" if gpx_10 else f' xsi:schemaLocation="{_SCHEMA_LOCATION}"'
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<gpx version="{version}" creator={quoteattr(creator)} {namespaces} '
        f'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"{schema}>\n',
        metadata,
        "  <trk>\n",
        trk_head,
        "    <trkseg>\n",
        *(_trkpt(point, extensions, gpx_10=gpx_10) for point in points),
        "    </trkseg>\n",
        "  </trk>\n",
        "</gpx>\n",
    ]
    return "".join(parts).encode("utf-8")
