"""Garmin Connect exports: the full-account (GDPR) export and the one-activity "export original".

Evidence: ``FORMATS.md`` section 2. A full export nests ``UploadedFiles_0-_Part<N>.zip`` under
``DI_CONNECT/DI-Connect-Uploaded-Files/`` (older exports: ``DI-Connect-Fitness-Uploaded-Files/`` or
``DI-Connect-Fitness/``); most of their thousands of FIT members are not workouts (monitoring,
sleep, HRV status, segment lists...). Each FIT member is judged by its ``file_id.type``, read from
the first messages without decoding the file; only activity files go on to the FIT reader.
Monitoring files are scanned for Garmin's daily resting heart rate (message
``monitoring_hr_data``, number 211, field 1 ``current_day_resting_heart_rate``; field 0 is a 7-day
rolling average and is not used). The JSON summaries under ``DI-Connect-Fitness/`` are not read:
the FIT files are the richer source of the same activities.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
import struct
from collections.abc import Iterator
from typing import Any

import fitparse
from fitparse.utils import FitParseError

from ingest.archive import ArchiveLimits, iter_zip
from ingest.exports.detect import GARMIN_ORIGINAL
from ingest.exports.model import (
    ExportItem,
    MemberFile,
    SkippedMember,
    SourceMeta,
    WellnessReading,
)
from ingest.exports.zipview import CheckedZip

log = logging.getLogger(__name__)

__all__ = [
    "FIT_FILE_TYPES",
    "fit_file_type",
    "iter_garmin_full",
    "iter_garmin_original",
    "read_resting_hr",
]

FIT_FILE_TYPES: dict[int, str] = {
    # FIT SDK 21.x ``File`` enum
    1: "device",
    2: "settings",
    3: "sport",
    4: "activity",
    5: "workout",
    6: "course",
    7: "schedules",
    9: "weight",
    10: "totals",
    11: "goals",
    14: "blood_pressure",
    15: "monitoring_a",
    20: "activity_summary",
    28: "monitoring_daily",
    32: "monitoring_b",
    34: "segment",
    35: "segment_list",
    40: "exd_configuration",
    # not in the public SDK; reported in Garmin full exports (FORMATS.md 2.2) [R]
    68: "hrv_status",
}
"""FIT ``file_id.type`` number -> name; other numbers are named ``fit_type_<n>``."""

ACTIVITY_TYPE = 4
MONITORING_KINDS = frozenset({"monitoring_a", "monitoring_b", "monitoring_daily"})
"""File types that may hold ``monitoring_hr_data``."""

UPLOADED_PARTS = re.compile(r"^DI_CONNECT/.*UploadedFiles.*\.zip$", re.IGNORECASE)
"""The nested zips of uploaded originals (any of the folder names Garmin has used)."""
ACTIVITY_SUFFIXES = (".fit", ".gpx", ".tcx")

MONITORING_HR_MESG = 211
RESTING_HR_FIELDS = ("current_day_resting_heart_rate", "unknown_1")
TIMESTAMP_FIELDS = ("timestamp", "unknown_253")
RESTING_HR_RANGE = (25, 150)
"""Resting heart rates outside this band (bpm) are device sentinels, not readings."""
FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
FILE_ID_SCAN_RECORDS = 8
"""How many records from the start of a FIT file are examined for ``file_id``."""

_BASE_SIZES = {0: 1, 1: 1, 2: 1, 7: 1, 10: 1, 13: 1}


def _is_fit(data: bytes) -> bool:
    return len(data) >= 12 and data[0] in (12, 14) and data[8:12] == b".FIT"


def fit_file_type(data: bytes) -> int | None:
    """The ``file_id.type`` of a FIT file, read from its first records without a decoder.

    Returns ``None`` when the file is not FIT or ``file_id`` is not among its first
    :data:`FILE_ID_SCAN_RECORDS` records (the FIT protocol requires it first).

    Examples
    --------
    >>> fit_file_type(b"not a fit file") is None
    True
    """
    if not _is_fit(data):
        return None
    pos = data[0]
    layouts: dict[int, tuple[int, str, list[tuple[int, int]]]] = {}
    for _ in range(FILE_ID_SCAN_RECORDS):
        if pos >= len(data):
            return None
        header = data[pos]
        pos += 1
        if header & 0x80:  # compressed-timestamp data message: file_id never uses it
            return None
        local = header & 0x0F
        if header & 0x40:  # definition message
            if pos + 5 > len(data):
                return None
            endian = ">" if data[pos + 1] == 1 else "<"
            (global_num,) = struct.unpack_from(endian + "H", data, pos + 2)
            n_fields = data[pos + 4]
            pos += 5
            fields = [(data[pos + 3 * i], data[pos + 3 * i + 1]) for i in range(n_fields)]
            pos += 3 * n_fields
            if header & 0x20 and pos < len(data):  # developer fields
                pos += 1 + 3 * data[pos]
            layouts[local] = (global_num, endian, fields)
            continue
        if local not in layouts:
            return None
        global_num, _endian, fields = layouts[local]
        offset = pos
        for number, size in fields:
            if global_num == 0 and number == 0:
                return data[offset] if offset < len(data) else None
            offset += size
        pos = offset
    return None


def _first(values: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if values.get(name) is not None:
            return values[name]
    return None


def read_resting_hr(
    data: bytes, *, source: str = "garmin_monitoring"
) -> tuple[WellnessReading, ...]:
    """Daily resting heart rates in a Garmin monitoring FIT file (``monitoring_hr_data``).

    Error policy: resting heart rate is a by-product of a file that is skipped either way, so a
    damaged file yields the readings decoded before the damage and a warning is logged. Values
    outside :data:`RESTING_HR_RANGE` and messages without a timestamp are ignored.
    """
    readings: list[WellnessReading] = []
    try:
        fit = fitparse.FitFile(io.BytesIO(data), check_crc=False)
        for message in fit.get_messages():
            if message.mesg_num != MONITORING_HR_MESG:
                continue
            values = message.get_values()
            bpm = _first(values, RESTING_HR_FIELDS)
            when = _first(values, TIMESTAMP_FIELDS)
            if isinstance(when, int):
                when = FIT_EPOCH + dt.timedelta(seconds=when)
            elif isinstance(when, dt.datetime):
                when = when.replace(tzinfo=dt.UTC)
            low, high = RESTING_HR_RANGE
            if isinstance(when, dt.datetime) and isinstance(bpm, int) and low <= bpm <= high:
                readings.append(WellnessReading(when, bpm, source))
    except (FitParseError, struct.error, ValueError) as exc:
        log.warning("monitoring file damaged after %d readings: %s", len(readings), exc)
    return tuple(readings)


def _classify(name: str, data: bytes, meta: SourceMeta) -> ExportItem:
    """An activity file to decode, or a non-activity FIT to count (with its resting HR)."""
    file_type = fit_file_type(data)
    if file_type is None or file_type == ACTIVITY_TYPE:
        return MemberFile(name=name, data=data, meta=meta)
    kind = FIT_FILE_TYPES.get(file_type, f"fit_type_{file_type}")
    wellness = read_resting_hr(data) if kind in MONITORING_KINDS else ()
    return SkippedMember(
        name=name,
        sha256=hashlib.sha256(data).hexdigest(),
        detected_format="fit",
        kind=kind,
        wellness=wellness,
    )


def iter_garmin_full(checked: CheckedZip) -> Iterator[ExportItem]:
    """Yield the activity files and the non-activity FIT files of a Garmin full-account export.

    Nested ``UploadedFiles_*.zip`` are opened with :func:`ingest.archive.iter_zip` within the
    archive's limits (one nesting level deeper than the export itself); loose FIT/GPX/TCX files
    under ``DI_CONNECT/`` are taken too.

    Raises
    ------
    CorruptFile, UnsafeInput
        A damaged nested zip or a limit crossed.
    """
    meta = SourceMeta(source_kind="garmin")
    limits: ArchiveLimits = checked.limits
    for name in checked.names:
        if UPLOADED_PARTS.match(name):
            for member in iter_zip(checked.read(name), limits):
                yield _classify(f"{name}/{member.name}", member.data, meta)
        elif name.startswith("DI_CONNECT/") and name.lower().endswith(ACTIVITY_SUFFIXES):
            yield _classify(name, checked.read(name), meta)


def iter_garmin_original(checked: CheckedZip) -> Iterator[ExportItem]:
    """Yield the one activity of a Garmin Connect "export original" zip (``<id>_ACTIVITY.fit``)."""
    for name in checked.names:
        match = GARMIN_ORIGINAL.match(name)
        if match:
            meta = SourceMeta(source_kind="garmin", source_activity_id=match.group(1))
            yield _classify(name, checked.read(name), meta)
