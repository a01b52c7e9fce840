"""Garmin Connect exports built here as Garmin builds them (FORMATS.md 2).

The full export nests ``UploadedFiles_0-_Part<N>.zip`` under ``DI_CONNECT/``; the parts hold the
five runs of ``tests.test_exports_strava`` as FIT files among monitoring (with resting heart
rate), settings, HRV-status and undocumented FIT files. Non-activity files are built byte by byte
here (:func:`fit_file`), independently of the project's FIT encoder and of fitparse.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
from collections.abc import Sequence
from functools import cache

import polars as pl
import pytest

from ingest.archive import ArchiveLimits
from ingest.exports import (
    MemberFile,
    SkippedMember,
    WellnessReading,
    detect_export,
    iter_export,
    open_checked_zip,
)
from ingest.exports.garmin import fit_file_type, read_resting_hr
from ingest.exports.wellness import daily_wellness_frame
from schemas.errors import UnsafeInput
from tests.conftest import corpus_bytes
from tests.test_exports_strava import fit_bytes

LIMITS = ArchiveLimits()
FIT_EPOCH = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
LOGIN = "client@example.org"

Field = tuple[int, str, int, int]
"""(field number, struct format, FIT base type, raw value)."""


def _crc(data: bytes) -> int:
    """FIT CRC-16 (the nibble table of the FIT protocol document)."""
    table = (
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401,
        0xA001, 0x6C00, 0x7800, 0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    )  # fmt: skip
    crc = 0
    for byte in data:
        tmp = table[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ table[byte & 0xF]
        tmp = table[crc & 0xF]
        crc = (crc >> 4) & 0x0FFF
        crc = crc ^ tmp ^ table[(byte >> 4) & 0xF]
    return crc


def fit_file(messages: Sequence[tuple[int, Sequence[Field]]]) -> bytes:
    """A FIT file from (global message number, fields) pairs, little-endian, with both CRCs."""
    body = b""
    layouts: dict[tuple[object, ...], int] = {}
    for number, fields in messages:
        key = (number, tuple((n, f, b) for n, f, b, _ in fields))
        if key not in layouts:
            layouts[key] = local = len(layouts) % 16
            body += bytes([0x40 | local]) + struct.pack("<BBHB", 0, 0, number, len(fields))
            body += b"".join(
                struct.pack("<BBB", n, struct.calcsize("<" + f), b) for n, f, b, _ in fields
            )
        body += bytes([layouts[key]]) + b"".join(struct.pack("<" + f, v) for _, f, _, v in fields)
    head = struct.pack("<BBHI4s", 14, 0x20, 2080, len(body), b".FIT")
    head += struct.pack("<H", _crc(head))
    return head + body + struct.pack("<H", _crc(head + body))


def fit_seconds(when: dt.datetime) -> int:
    return int((when - FIT_EPOCH).total_seconds())


def file_id(file_type: int) -> tuple[int, list[Field]]:
    """``file_id`` with ``type`` (enum, field 0) and ``manufacturer`` garmin (uint16, field 1)."""
    return (0, [(0, "B", 0x00, file_type), (1, "H", 0x84, 1)])


RESTING_HR = (
    (dt.datetime(2025, 3, 3, 22, 0, tzinfo=dt.UTC), 52),
    (dt.datetime(2025, 3, 4, 22, 0, tzinfo=dt.UTC), 55),
    (dt.datetime(2025, 3, 5, 23, 30, tzinfo=dt.UTC), 58),
)
"""(timestamp, current_day_resting_heart_rate) written into the monitoring files."""


def monitoring_file(readings: Sequence[tuple[dt.datetime, int]]) -> bytes:
    """A monitoring_b file (type 32) with ``monitoring_hr_data`` (211): 253 time, 0 7-day, 1 day."""
    return fit_file(
        [
            file_id(32),
            *[
                (211, [(253, "I", 0x86, fit_seconds(t)), (0, "B", 0x02, 49), (1, "B", 0x02, bpm)])
                for t, bpm in readings
            ],
        ]
    )


NON_ACTIVITY = {
    "monitoring_b": monitoring_file(RESTING_HR[:2]),
    "monitoring_b_2": monitoring_file(RESTING_HR[2:]),
    "settings": fit_file([file_id(2)]),
    "hrv_status": fit_file([file_id(68)]),
    "fit_type_44": fit_file([file_id(44)]),
    "segment_list": fit_file([file_id(35)]),
}
"""Non-activity FIT members by the kind they must be counted as."""


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@cache
def garmin_full_export() -> bytes:
    """``<uuid>_1.zip`` with two nested parts: three runs + non-activities, two runs + the rest."""
    kinds = list(NON_ACTIVITY)
    part1 = {f"{LOGIN}_{9000 + i}.fit": fit_bytes(i) for i in range(3)}
    part1 |= {f"{LOGIN}_{9100 + j}.fit": NON_ACTIVITY[k] for j, k in enumerate(kinds[:3])}
    part2 = {f"{LOGIN}_{9000 + i}.fit": fit_bytes(i) for i in range(3, 5)}
    part2 |= {f"{LOGIN}_{9200 + j}.fit": NON_ACTIVITY[k] for j, k in enumerate(kinds[3:])}
    uploaded = "DI_CONNECT/DI-Connect-Uploaded-Files"
    return zip_bytes(
        {
            "customer_data/customer.json": b'{"email": "client@example.org"}',
            "DI_CONNECT/DI-Connect-User/user_profile.json": b"{}",
            "DI_CONNECT/DI-Connect-Fitness/client_0_summarizedActivities.json": (
                b'[{"summarizedActivitiesExport": []}]'
            ),
            f"{uploaded}/UploadedFiles_0-_Part1.zip": zip_bytes(part1),
            f"{uploaded}/UploadedFiles_0-_Part2.zip": zip_bytes(part2),
        }
    )


def test_the_full_export_is_recognised_by_its_folders() -> None:
    assert detect_export(open_checked_zip(garmin_full_export(), LIMITS)) == "garmin_full"


def test_fit_file_type_is_read_without_decoding() -> None:
    assert fit_file_type(fit_bytes(0)) == 4
    assert {k: fit_file_type(v) for k, v in NON_ACTIVITY.items()} == {
        "monitoring_b": 32,
        "monitoring_b_2": 32,
        "settings": 2,
        "hrv_status": 68,
        "fit_type_44": 44,
        "segment_list": 35,
    }
    assert fit_file_type(b"<gpx/>") is None


def test_activities_are_taken_and_everything_else_counted() -> None:
    items = list(iter_export(open_checked_zip(garmin_full_export(), LIMITS), "garmin_full"))
    files = [i for i in items if isinstance(i, MemberFile)]
    skipped = [i for i in items if isinstance(i, SkippedMember)]
    assert [f.data for f in files] == [fit_bytes(i) for i in range(5)]
    assert {f.meta.source_kind for f in files} == {"garmin"}
    assert all(
        f.name.startswith("DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part")
        for f in files
    )
    kinds = sorted(s.kind for s in skipped)
    assert kinds == sorted(
        ["monitoring_b", "monitoring_b", "settings", "hrv_status", "fit_type_44", "segment_list"]
    )
    readings = [r for s in skipped for r in s.wellness]
    assert [(r.measured_utc, r.resting_hr_bpm) for r in readings] == list(RESTING_HR)


def test_resting_hr_uses_the_day_value_not_the_seven_day_average() -> None:
    (reading,) = read_resting_hr(monitoring_file([RESTING_HR[0]]))
    assert reading == WellnessReading(RESTING_HR[0][0], 52, "garmin_monitoring")


def test_a_cut_monitoring_file_keeps_the_readings_before_the_cut() -> None:
    data = monitoring_file(RESTING_HR)
    # each monitoring_hr_data message is 7 bytes (header, uint32, 2 x uint8), the CRC 2: cutting 8
    # bytes leaves the third message incomplete
    assert [r.resting_hr_bpm for r in read_resting_hr(data[: len(data) - 8])] == [52, 55]


def test_daily_wellness_dates_follow_the_roster_timezone() -> None:
    readings = [
        ("c1", "a" * 64, WellnessReading(t, bpm, "garmin_monitoring")) for t, bpm in RESTING_HR
    ]
    readings.append(("c1", "b" * 64, WellnessReading(RESTING_HR[0][0], 52, "garmin_monitoring")))
    frame = daily_wellness_frame(
        readings, pl.DataFrame({"client_id": ["c1"], "timezone": ["Europe/Berlin"]})
    )
    # 22:00 UTC is 23:00 in Berlin (same day); 23:30 UTC is 00:30 the next day
    assert frame.select("date", "resting_hr_bpm").rows() == [
        (dt.date(2025, 3, 3), 52),
        (dt.date(2025, 3, 4), 55),
        (dt.date(2025, 3, 6), 58),
    ]


def test_nested_part_bomb_is_stopped() -> None:
    bomb = zip_bytes({"a.fit": b"\x00" * (16 << 20)})
    export = zip_bytes({"DI_CONNECT/DI-Connect-Uploaded-Files/UploadedFiles_0-_Part1.zip": bomb})
    with pytest.raises(UnsafeInput) as caught:
        list(iter_export(open_checked_zip(export, LIMITS), "garmin_full"))
    assert caught.value.reason_code == "archive_too_large"


@pytest.mark.corpus
def test_export_original_zip_from_the_corpus() -> None:
    data = corpus_bytes("goldencheetah__GarminFR955v18.zip")
    checked = open_checked_zip(data, LIMITS)
    assert detect_export(checked) == "garmin_original"
    (item,) = iter_export(checked, "garmin_original")
    assert isinstance(item, MemberFile)
    assert (item.name, item.meta.source_kind, item.meta.source_activity_id) == (
        "14211916346_ACTIVITY.fit",
        "garmin",
        "14211916346",
    )
    assert fit_file_type(item.data) == 4
