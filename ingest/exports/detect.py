"""Recognise a whole-account export by its content (member names and sniffed heads), never its name.

Evidence for each rule is in ``FORMATS.md`` (sections 1.1, 2.1, 2.4, 4.1):

* **Strava**: ``activities.csv`` at the archive root (a header starting with the Activity ID column
  in any language, or the pre-2019 ``id,date,name``) with an ``activities/`` folder or no file at
  all (manual-only accounts).
* **Garmin full export**: members under ``DI_CONNECT/``.
* **Garmin "export original"**: exactly one activity file named ``<digits>_ACTIVITY.<ext>``.
* **Apple Health**: an ``.xml`` member (localised name) whose head holds ``<!DOCTYPE HealthData`` or
  ``<HealthData``; the DTD pushes the root to ~7.4 KB, so :data:`APPLE_SNIFF_BYTES` reaches further.
"""

from __future__ import annotations

import re

from ingest.exports.zipview import CheckedZip

__all__ = ["APPLE_SNIFF_BYTES", "apple_xml_member", "detect_export"]

APPLE_SNIFF_BYTES = 64 * 1024
"""How far into an XML member the HealthData markers are looked for."""

APPLE_MARKERS = (b"<!DOCTYPE HealthData", b"<HealthData")
"""Openings that name an Apple Health export document."""

STRAVA_INDEX = "activities.csv"
STRAVA_HEADER = re.compile(rb"^(\xef\xbb\xbf)?\s*(\"?[^,\n]*ID\"?,|id,date,name)", re.IGNORECASE)
"""First header cell of ``activities.csv``: ``Activity ID``, ``Aktivitäts-ID``, ... or old ``id``."""

GARMIN_FULL_PREFIX = "DI_CONNECT/"
GARMIN_ORIGINAL = re.compile(r"^(?:.*/)?(\d+)_ACTIVITY\.(fit|gpx|tcx)$", re.IGNORECASE)
"""Member of a Garmin Connect "export original" zip; group 1 is Garmin's activity id."""


def apple_xml_member(checked: CheckedZip) -> str | None:
    """Name of the member that is Apple's main export XML (``export.xml``, ``导出.xml`` ...).

    ``export_cda.xml`` (HL7 CDA, not localised) never matches: its head names ``ClinicalDocument``.
    """
    for name in checked.names:
        if not name.lower().endswith(".xml"):
            continue
        head = checked.read_head(name, APPLE_SNIFF_BYTES)
        if any(marker in head for marker in APPLE_MARKERS):
            return name
    return None


def detect_export(checked: CheckedZip) -> str | None:
    """Name the kind of whole-account export, or ``None`` for an ordinary zip of activity files.

    Parameters
    ----------
    checked
        The archive, opened with :func:`ingest.exports.zipview.open_checked_zip`.

    Returns
    -------
    str or None
        ``"strava"``, ``"garmin_full"``, ``"garmin_original"``, ``"apple_health"`` or ``None``.
    """
    names = checked.names
    if any(name.startswith(GARMIN_FULL_PREFIX) for name in names):
        return "garmin_full"
    if STRAVA_INDEX in names and STRAVA_HEADER.match(checked.read_head(STRAVA_INDEX, 256)):
        return "strava"
    if apple_xml_member(checked) is not None:
        return "apple_health"
    if len(names) == 1 and GARMIN_ORIGINAL.match(names[0]):
        return "garmin_original"
    return None
