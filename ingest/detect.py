"""Pick a reader from a file's magic bytes, never from its name."""

from __future__ import annotations

from collections.abc import Callable

from ingest.fit_fast import read_fit_auto
from ingest.frames import ParsedFile
from ingest.gpx_fast import read_gpx_auto
from ingest.tcx import read_tcx
from ingest.xml_safety import clean_xml_bytes
from schemas.errors import UnsupportedFormat

__all__ = ["ACTIVITY_READERS", "CONTAINER_FORMATS", "detect_format", "read_activity_file"]

XML_SNIFF_BYTES = 8192
"""How far into an XML document we look for the root element's name."""

HTML_MARKERS = (b"<!doctype html", b"<html")
"""Openings of a web page (a browser's error page saved under the export's name)."""

XML_ROOTS: dict[bytes, str] = {b"<gpx": "gpx", b"<TrainingCenterDatabase": "tcx"}
"""Root element opening -> format (namespace prefixes are handled by :func:`_xml_format`)."""

ACTIVITY_READERS: dict[str, Callable[[bytes], ParsedFile]] = {
    "fit": read_fit_auto,
    "gpx": read_gpx_auto,
    "tcx": read_tcx,
}
"""Format name -> reader for single-activity formats."""

CONTAINER_FORMATS = frozenset({"gzip", "zip"})
"""Formats that hold other files."""


def _is_fit(data: bytes) -> bool:
    return len(data) >= 12 and data[0] in (12, 14) and data[8:12] == b".FIT"


def _xml_format(data: bytes) -> str | None:
    head = clean_xml_bytes(data[: XML_SNIFF_BYTES + 3])
    if not head.startswith(b"<"):
        return None
    for opening, name in XML_ROOTS.items():
        if opening in head or opening.replace(b"<", b":") in head:
            return name
    return "xml"


def detect_format(data: bytes) -> str:
    r"""Name the format of ``data``: ``fit``, ``gpx``, ``tcx``, ``gzip``, ``zip`` or ``xml``.

    Raises
    ------
    UnsupportedFormat
        Empty input (``empty_file``) or bytes of no known format (``unknown_format``).

    Examples
    --------
    >>> detect_format(b"\x1f\x8b\x08\x00")
    'gzip'
    """
    if not data:
        raise UnsupportedFormat("empty_file", "This file is empty (0 bytes); nothing to take in.")
    if _is_fit(data):
        return "fit"
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if data[:512].lstrip().lower().startswith(HTML_MARKERS):
        raise UnsupportedFormat(
            "html_page",
            "This file is a web page (HTML), not a watch export: the download probably failed. "
            "Please download the export again.",
        )
    xml = _xml_format(data)
    if xml is not None:
        return xml
    raise UnsupportedFormat(
        "unknown_format",
        "This file is not a watch export we can read (FIT, GPX, TCX, or a .gz or .zip of them).",
    )


def read_activity_file(data: bytes, fmt: str) -> ParsedFile:
    """Run the reader for ``fmt`` (as returned by :func:`detect_format`) on ``data``."""
    reader = ACTIVITY_READERS.get(fmt)
    if reader is None:
        raise UnsupportedFormat(
            "unknown_format",
            "This file is not a watch export we can read (FIT, GPX, TCX, or a .gz or .zip of them).",
        )
    return reader(data)
