"""Samples of five FIT files against per-record values written by a tool other than fitparse.

``../shared/corpus/reference/fitparse__<name>-records.csv`` holds, per record: timestamp (a local-time
string such as ``Sun Sep 25 06:00:22 PDT 2011``), heart rate, cadence, speed, distance, position in
semicircles, altitude and temperature. The compressed-speed-distance file's CSV has raw device-relative
seconds and its own headers, and omits the file's first record, which carries a timestamp only.
Where a value is invalid in the file the reference repeats the previous record's value (see
:data:`COLUMNS`).

Cadence: our ``cadence_rpm`` is FIT ``cadence`` + ``fractional_cadence`` (profile: uint8, scale 128,
rpm), while the reference tool writes the integer ``cadence`` field alone. For the devices that never
write a fraction (Edge 500, Edge 820, FR70) the comparison is exact; for the fenix 5 files (running
dynamics, which record half steps) the integer part must equal the CSV exactly and the rest must be a
fraction the field can encode (a multiple of 1/128 below 2).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CORPUS_REFERENCE, CORPUS_SKIP_REASON, corpus_present

pytestmark = pytest.mark.corpus

REFERENCES = (
    "garmin-edge-500-activity",
    "garmin-edge-820-bike",
    "garmin-fenix-5-run",
    "garmin-fenix-5-walk",
    "compressed-speed-distance",
)
CADENCE_WITH_FRACTION = {"garmin-fenix-5-run", "garmin-fenix-5-walk"}
"""Devices with running dynamics, whose records carry fractional_cadence."""

TZ_ABBREVIATIONS = {
    "PDT": dt.timedelta(hours=-7),
    "PST": dt.timedelta(hours=-8),
    "UTC": dt.timedelta(0),
}
"""The zone names that occur in the reference CSVs (only PDT does)."""

RELATIVE_ORIGIN = 17217864
"""compressed-speed-distance: the catalog's first_ts, the time of the record the CSV omits."""

SEMICIRCLES_PER_DEGREE = 2**31 / 180

COLUMNS = {
    "hr_bpm": "heart_rate",
    "cadence_rpm": "cadence",
    "speed_mps": "speed",
    "distance_m": "distance",
    "lat_deg": "position_lat",
    "lon_deg": "position_long",
    "altitude_m": "altitude",
    "temperature_c": "temperature",
}
"""Sample column -> reference CSV column.

Where a field is invalid in the file (0xFF cadence, 0x7FFFFFFF position) we store null; the reference
tool instead repeats the previous record's value (the Edge 500 file has 121 such cadences and 9 such
positions). A null of ours is therefore accepted only where the reference repeats the row before.
"""


def params() -> list[Any]:
    if not corpus_present():
        return [
            pytest.param(
                None, id="corpus-absent", marks=pytest.mark.skip(reason=CORPUS_SKIP_REASON)
            )
        ]
    return [pytest.param(name, id=name) for name in REFERENCES]


def reference_rows(name: str) -> list[dict[str, str]]:
    path: Path = CORPUS_REFERENCE / f"fitparse__{name}-records.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames is not None
        reader.fieldnames = [field.strip() for field in reader.fieldnames]
        return list(reader)


def local_time(text: str) -> dt.datetime:
    """``Sun Sep 25 06:00:22 PDT 2011`` -> aware UTC datetime."""
    weekday, month, day, clock, zone, year = text.split()
    naive = dt.datetime.strptime(f"{weekday} {month} {day} {clock} {year}", "%a %b %d %H:%M:%S %Y")
    return naive.replace(tzinfo=dt.timezone(TZ_ABBREVIATIONS[zone])).astimezone(dt.UTC)


def number(text: str) -> float | None:
    return None if text in ("", "null") else float(text)


def semicircles(degrees: float | None) -> int | None:
    return None if degrees is None else round(degrees * SEMICIRCLES_PER_DEGREE)


def check_cadence(name: str, ours: float | None, reference: float | None, where: str) -> None:
    if reference is None:
        assert ours is None, where
        return
    assert ours is not None, where
    if name not in CADENCE_WITH_FRACTION:
        assert ours == reference, where
        return
    assert math.floor(ours) == reference, where
    fraction = ours - reference
    assert 0.0 <= fraction < 2.0, where
    assert (fraction * 128).is_integer(), where


def test_local_time_parser() -> None:
    assert local_time("Sun Sep 25 06:00:22 PDT 2011") == dt.datetime(
        2011, 9, 25, 13, 0, 22, tzinfo=dt.UTC
    )


@pytest.mark.parametrize("name", params())
def test_samples_equal_the_reference_records(name: str, parsed_corpus: Any) -> None:
    result = parsed_corpus(f"fitparse__{name}.fit")
    assert result.outcome == "ingested"
    samples = result.samples.to_dicts()
    rows = reference_rows(name)
    if name == "compressed-speed-distance":
        samples = _check_and_drop_timestamp_only_first_record(samples)
    assert len(samples) == len(rows)
    for index, (ours, ref) in enumerate(zip(samples, rows, strict=True)):
        where = f"{name} record {index}: ours={ours} reference={ref}"
        if name == "compressed-speed-distance":
            assert ours["timestamp"] is None, where
            assert ours["elapsed_s"] == float(int(ref["Timestamp"]) - RELATIVE_ORIGIN), where
            assert ours["hr_bpm"] == number(ref["Heart Rate [bpm]"]), where
            assert ours["speed_mps"] == pytest.approx(number(ref["Speed [m/s]"]), abs=1e-9), where
            assert ours["distance_m"] == pytest.approx(number(ref["Distance [m]"]), abs=1e-9), where
            check_cadence(name, ours["cadence_rpm"], number(ref["Cadence [rpm]"]), where)
            continue
        assert ours["timestamp"] == local_time(ref["timestamp"]), where
        previous = rows[index - 1] if index else None
        for column, field in COLUMNS.items():
            if ours[column] is None and previous is not None and ref[field] == previous[field]:
                continue  # invalid in the file: null for us, carried forward by the reference tool
            if column == "cadence_rpm":
                check_cadence(name, ours[column], number(ref[field]), where)
            elif column in ("lat_deg", "lon_deg"):
                assert semicircles(ours[column]) == int(ref[field]), where
            elif column == "altitude_m":
                assert ours[column] == pytest.approx(number(ref[field]), abs=1e-6), where
            else:
                assert ours[column] == pytest.approx(number(ref[field]), abs=1e-9), where


def _check_and_drop_timestamp_only_first_record(
    samples: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """The FR70 file's first record holds a timestamp only (catalog: 755 records, CSV: 754 rows)."""
    first, rest = samples[0], samples[1:]
    assert first["elapsed_s"] == 0.0
    values = {
        k: v for k, v in first.items() if k not in ("elapsed_s", "activity_id", "client_id", "year")
    }
    assert all(v is None for v in values.values()), first
    return rest


def test_fenix_walk_cadence_adds_the_half_step(parsed_corpus: Any) -> None:
    """Guard for the relaxed cadence check: the fraction really is added.

    The walk's first record is ``cadence`` 53 (reference CSV) with ``fractional_cadence`` 0.5 (the raw
    field, 64/128, as the file stores it): 53.5 rpm.
    """
    if not corpus_present():
        pytest.skip(CORPUS_SKIP_REASON)
    samples = parsed_corpus("fitparse__garmin-fenix-5-walk.fit").samples
    assert reference_rows("garmin-fenix-5-walk")[0]["cadence"] == "53"
    assert samples["cadence_rpm"][0] == 53.5
