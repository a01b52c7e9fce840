"""Tests of the synthetic data generator (synthetic).

Expected values are the literals put in, read back through independent readers (fitparse,
gpxpy, csv, gzip), never values recomputed with the encoder's own arithmetic.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import fitparse
import gpxpy
import numpy as np
import pytest
from fitparse.records import Crc
from fitparse.utils import FitCRCError, FitEOFError, FitParseError

from synthetic.clinic import ClinicManifest, make_clinic
from synthetic.fit_writer import (
    FitEncodeError,
    FitMessage,
    FitMessageColumns,
    encode_fit,
)
from synthetic.gpx_writer import TrackPoint, encode_gpx
from synthetic.run_model import simulate_run, write_run_fit, write_run_gpx

T0 = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)
DEG_PER_SEMICIRCLE = 180.0 / 2**31
TPX = "{http://www.garmin.com/xmlschemas/TrackPointExtension/v1}"

RECORDS: list[dict[str, Any]] = [
    {
        "timestamp": T0,
        "position_lat": 51.4613,
        "position_long": -0.1156,
        "distance": 0.0,
        "enhanced_speed": 2.5,
        "enhanced_altitude": 35.2,
        "heart_rate": 96,
        "cadence": 82,
    },
    {
        "timestamp": T0 + timedelta(seconds=1),
        "position_lat": 51.46132,
        "position_long": -0.11557,
        "distance": 2.53,
        "enhanced_speed": 2.875,
        "enhanced_altitude": 35.4,
        "heart_rate": 97,
        "cadence": 85,
    },
    {
        "timestamp": T0 + timedelta(seconds=2),
        "position_lat": -33.8688,
        "position_long": 151.2093,
        "distance": 1234.56,
        "enhanced_speed": 3.001,
        "enhanced_altitude": -12.6,
        "heart_rate": 181,
        "cadence": 91,
    },
]
# field -> absolute tolerance on read-back (half the FIT resolution, or exact)
TOLERANCE = {"distance": 0.005, "enhanced_speed": 0.0005, "enhanced_altitude": 0.1}


def activity_messages() -> list[FitMessage]:
    end = T0 + timedelta(seconds=2)
    return [
        FitMessage(
            "file_id",
            {
                "type": "activity",
                "manufacturer": "garmin",
                "garmin_product": "fenix5",
                "serial_number": 3951220117,
                "time_created": T0,
            },
        ),
        FitMessage(
            "device_info",
            {
                "timestamp": T0,
                "device_index": "creator",
                "manufacturer": "garmin",
                "garmin_product": "fenix5",
                "serial_number": 3951220117,
                "software_version": 12.3,
            },
        ),
        FitMessage(
            "event",
            {"timestamp": T0, "event": "timer", "event_type": "start", "timer_trigger": "manual"},
        ),
        *(FitMessage("record", r) for r in RECORDS),
        FitMessage("hrv", {"time": [0.512, 0.498, 0.505, None, None]}),
        FitMessage(
            "lap",
            {
                "timestamp": end,
                "start_time": T0,
                "total_elapsed_time": 2.0,
                "total_distance": 1234.56,
                "sport": "running",
                "avg_running_cadence": 86,
                "lap_trigger": "session_end",
            },
        ),
        FitMessage("event", {"timestamp": end, "event": "timer", "event_type": "stop_all"}),
        FitMessage(
            "session",
            {
                "timestamp": end,
                "start_time": T0,
                "sport": "running",
                "sub_sport": "street",
                "total_elapsed_time": 2.0,
                "total_distance": 1234.56,
                "enhanced_avg_speed": 2.792,
                "avg_heart_rate": 125,
                "max_heart_rate": 181,
                "avg_running_cadence": 86,
                "num_laps": 1,
            },
        ),
        FitMessage(
            "activity",
            {
                "timestamp": end,
                "num_sessions": 1,
                "type": "manual",
                "event": "activity",
                "event_type": "stop",
                "local_timestamp": datetime(2026, 3, 2, 7, 15, 2),
            },
        ),
    ]


def parse_fit(data: bytes) -> list[Any]:
    return list(fitparse.FitFile(io.BytesIO(data), check_crc=True).get_messages())


def by_name(messages: list[Any], name: str) -> list[dict[str, Any]]:
    return [m.get_values() for m in messages if m.name == name]


# --------------------------------------------------------------------------- FIT encoder


@pytest.mark.parametrize("big_endian", [False, True])
def test_fit_round_trip_reads_back_every_value(big_endian: bool) -> None:
    messages = parse_fit(encode_fit(activity_messages(), big_endian=big_endian))

    assert [m.name for m in messages if m.type == "data"] == [
        "file_id",
        "device_info",
        "event",
        "record",
        "record",
        "record",
        "hrv",
        "lap",
        "event",
        "session",
        "activity",
    ]
    (file_id,) = by_name(messages, "file_id")
    assert file_id == {
        "type": "activity",
        "manufacturer": "garmin",
        "garmin_product": "fenix5",
        "serial_number": 3951220117,
        "time_created": datetime(2026, 3, 2, 7, 15),
    }
    assert by_name(messages, "device_info")[0]["software_version"] == pytest.approx(12.3)
    start, stop = by_name(messages, "event")
    assert (start["event"], start["event_type"], start["timer_trigger"]) == (
        "timer",
        "start",
        "manual",
    )
    assert stop["event_type"] == "stop_all"

    for written, read in zip(RECORDS, by_name(messages, "record"), strict=True):
        assert read["timestamp"] == written["timestamp"].replace(tzinfo=None)
        for key in ("position_lat", "position_long"):
            assert read[key] * DEG_PER_SEMICIRCLE == pytest.approx(written[key], abs=1e-7)
        for key, tol in TOLERANCE.items():
            assert read[key] == pytest.approx(written[key], abs=tol)
        assert (read["heart_rate"], read["cadence"]) == (written["heart_rate"], written["cadence"])

    assert by_name(messages, "hrv")[0]["time"] == (0.512, 0.498, 0.505, None, None)
    (lap,) = by_name(messages, "lap")
    assert (lap["avg_running_cadence"], lap["lap_trigger"]) == (86, "session_end")
    (session,) = by_name(messages, "session")
    assert session["sport"] == "running"
    assert session["sub_sport"] == "street"
    assert session["total_distance"] == pytest.approx(1234.56, abs=0.005)
    assert session["enhanced_avg_speed"] == pytest.approx(2.792, abs=0.0005)
    assert (session["avg_heart_rate"], session["max_heart_rate"]) == (125, 181)
    (activity,) = by_name(messages, "activity")
    assert activity["local_timestamp"] == datetime(2026, 3, 2, 7, 15, 2)
    assert activity["type"] == "manual"


@pytest.mark.parametrize("product_name", ["a", "ab"], ids=["odd", "even"])
def test_fit_header_and_crcs_match_fitparse(product_name: str) -> None:
    data = encode_fit([*activity_messages(), FitMessage("file_id", {"product_name": product_name})])

    assert data[0] == 14
    assert data[8:12] == b".FIT"
    assert int.from_bytes(data[4:8], "little") == len(data) - 14 - 2
    assert int.from_bytes(data[12:14], "little") == Crc.calculate(data[:12])
    assert int.from_bytes(data[-2:], "little") == Crc.calculate(data[:-2])


@pytest.mark.parametrize("n_records", [1, 64, 700])
def test_fit_file_crc_matches_fitparse_for_any_size(n_records: int) -> None:
    records = FitMessageColumns(
        "record",
        {"heart_rate": np.arange(n_records) % 100 + 60, "cadence": np.full(n_records, 85)},
    )
    data = encode_fit([records])

    assert int.from_bytes(data[-2:], "little") == Crc.calculate(data[:-2])


def test_fit_corrupted_byte_fails_crc_check() -> None:
    data = bytearray(encode_fit(activity_messages()))
    data[-10] ^= 0x01

    with pytest.raises(FitCRCError):
        parse_fit(bytes(data))


def test_truncated_fit_makes_fitparse_raise() -> None:
    full = encode_fit(activity_messages())
    cut = encode_fit(activity_messages(), truncate_at=0.6)

    assert cut == full[: int(len(full) * 0.6)]
    with pytest.raises(FitEOFError):
        parse_fit(cut)


def test_device_relative_clock_writes_small_timestamps() -> None:
    origin = T0 - timedelta(seconds=1000)
    messages = parse_fit(encode_fit(activity_messages(), device_clock_origin=origin))

    assert [r["timestamp"] for r in by_name(messages, "record")] == [1000, 1001, 1002]
    assert by_name(messages, "file_id")[0]["time_created"] == 1000


def test_device_relative_clock_refuses_an_origin_after_the_data() -> None:
    with pytest.raises(FitEncodeError):
        encode_fit(activity_messages(), device_clock_origin=T0 + timedelta(days=1))


def test_fit_columns_encode_like_scalar_messages() -> None:
    columns = FitMessageColumns(
        "record",
        {
            "timestamp": np.array(
                ["2026-03-02T07:15:00", "2026-03-02T07:15:01", "2026-03-02T07:15:02"],
                dtype="datetime64[s]",
            ),
            "position_lat": np.array([r["position_lat"] for r in RECORDS]),
            "position_long": np.array([r["position_long"] for r in RECORDS]),
            "distance": np.array([r["distance"] for r in RECORDS]),
            "enhanced_speed": np.array([r["enhanced_speed"] for r in RECORDS]),
            "enhanced_altitude": np.array([r["enhanced_altitude"] for r in RECORDS]),
            "heart_rate": np.array([r["heart_rate"] for r in RECORDS]),
            "cadence": np.array([r["cadence"] for r in RECORDS]),
        },
    )
    hrv = FitMessageColumns("hrv", {"time": np.array([[0.512, 0.498, 0.505, np.nan, np.nan]])})
    scalar = [FitMessage("record", r) for r in RECORDS]
    scalar.append(FitMessage("hrv", {"time": [0.512, 0.498, 0.505, None, None]}))

    assert encode_fit([columns, hrv]) == encode_fit(scalar)


@pytest.mark.parametrize(
    "message",
    [
        FitMessage("recrod", {"heart_rate": 120}),
        FitMessage("record", {"heart_rat": 120}),
        FitMessage("session", {"sport": "parkour"}),
        FitMessage("record", {"heart_rate": 300}),
        FitMessage("record", {"timestamp": datetime(2026, 3, 2, 7, 15)}),
    ],
    ids=["unknown-message", "unknown-field", "unknown-enum", "out-of-range", "naive-time"],
)
def test_fit_encoder_refuses_what_the_profile_cannot_hold(message: FitMessage) -> None:
    with pytest.raises(FitEncodeError):
        encode_fit([message])


# --------------------------------------------------------------------------- GPX writer


def test_gpx_round_trips_through_gpxpy_with_heart_rate() -> None:
    points = [
        TrackPoint(T0, 51.4613, -0.1156, 35.2, hr=96, cad=82),
        TrackPoint(T0 + timedelta(seconds=1), 51.46132, -0.11557, 35.4, hr=97, cad=85),
        TrackPoint(T0 + timedelta(seconds=2), 51.46135, -0.11553, None, hr=None, cad=None),
    ]

    gpx = gpxpy.parse(encode_gpx(points, name="Morning <Run> & co").decode("utf-8"))

    (track,) = gpx.tracks
    assert track.name == "Morning <Run> & co"
    read = track.segments[0].points
    assert [(p.latitude, p.longitude, p.elevation) for p in read] == [
        (51.4613, -0.1156, 35.2),
        (51.46132, -0.11557, 35.4),
        (51.46135, -0.11553, None),
    ]
    assert [p.time for p in read] == [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]

    def extension(point: Any, tag: str) -> str | None:
        found = [child.text for ext in point.extensions for child in ext if child.tag == tag]
        return found[0] if found else None

    assert [extension(p, f"{TPX}hr") for p in read] == ["96", "97", None]
    assert [extension(p, f"{TPX}cad") for p in read] == ["82", "85", None]


# --------------------------------------------------------------------------- run model


@pytest.fixture(scope="module")
def easy_run() -> Any:
    return simulate_run(
        T0,
        duration_s=1800,
        intensity="easy",
        hr_rest=58,
        hr_max=186,
        home=(51.4613, -0.1156),
        seed=11,
    )


def test_simulate_run_is_seeded_and_plausible(easy_run: Any) -> None:
    again = simulate_run(
        T0,
        duration_s=1800,
        intensity="easy",
        hr_rest=58,
        hr_max=186,
        home=(51.4613, -0.1156),
        seed=11,
    )
    other = simulate_run(
        T0,
        duration_s=1800,
        intensity="easy",
        hr_rest=58,
        hr_max=186,
        home=(51.4613, -0.1156),
        seed=12,
    )

    assert np.array_equal(easy_run.heart_rate, again.heart_rate)
    assert np.array_equal(easy_run.lat, again.lat)
    assert not np.array_equal(easy_run.heart_rate, other.heart_rate)
    assert easy_run.n_samples == 1800
    assert easy_run.timestamps[:2] == [T0, T0 + timedelta(seconds=1)]
    assert np.all(np.diff(easy_run.distance) >= 0)
    assert 3500 < easy_run.distance[-1] < 6500  # 30 min at an easy pace
    assert easy_run.heart_rate.min() >= 58
    assert easy_run.heart_rate.max() <= 186
    assert 80 <= np.median(easy_run.cadence) <= 92  # rpm, one leg
    # starts and ends at home (within ~50 m)
    for i in (0, -1):
        assert abs(easy_run.lat[i] - 51.4613) < 0.0005
        assert abs(easy_run.lon[i] + 0.1156) < 0.0007
    full_laps = easy_run.laps[:-1]
    assert len(full_laps) == int(easy_run.distance[-1] // 1000)
    assert easy_run.rr_s.sum() == pytest.approx(1800, abs=2)


def test_run_walk_has_walking_cadence_and_lower_heart_rate(easy_run: Any) -> None:
    run_walk = simulate_run(
        T0,
        duration_s=1800,
        intensity="run_walk",
        hr_rest=58,
        hr_max=186,
        home=(51.4613, -0.1156),
        seed=11,
    )

    assert run_walk.cadence.min() < 65 < 80 < run_walk.cadence.max()
    assert run_walk.heart_rate.mean() < easy_run.heart_rate.mean()


def test_write_run_fit_round_trips_samples_and_device(easy_run: Any) -> None:
    data = write_run_fit(
        easy_run,
        product="fr935",
        serial_number=3870004512,
        with_hrv=True,
        utc_offset=timedelta(hours=1),
    )
    messages = parse_fit(data)

    records = by_name(messages, "record")
    assert len(records) == easy_run.n_samples
    assert [r["heart_rate"] for r in records] == easy_run.heart_rate.tolist()
    assert [r["cadence"] for r in records] == easy_run.cadence.tolist()
    assert records[-1]["timestamp"] == datetime(2026, 3, 2, 7, 44, 59)
    (file_id,) = by_name(messages, "file_id")
    assert (file_id["garmin_product"], file_id["serial_number"]) == ("fr935", 3870004512)
    rr = [v for m in by_name(messages, "hrv") for v in m["time"] if v is not None]
    assert rr == pytest.approx(easy_run.rr_s.tolist(), abs=0.0005)
    assert len(by_name(messages, "lap")) == len(easy_run.laps)
    (session,) = by_name(messages, "session")
    assert session["sport"] == "running"
    assert session["num_laps"] == len(easy_run.laps)
    (activity,) = by_name(messages, "activity")
    assert activity["local_timestamp"] == datetime(2026, 3, 2, 8, 44, 59)


def test_write_run_gpx_reads_back_every_sample(easy_run: Any) -> None:
    gpx = gpxpy.parse(write_run_gpx(easy_run, creator="Apple Watch").decode("utf-8"))

    points = gpx.tracks[0].segments[0].points
    assert gpx.creator == "Apple Watch"
    assert len(points) == easy_run.n_samples
    assert points[-1].time == T0 + timedelta(seconds=1799)


# --------------------------------------------------------------------------- clinic

TEMPLATE_HEADER = "timestamp,kind,mood,anxiety,stress,energy,sleep_hours,sleep_quality,rpe,notes"
DAYLIO_HEADER = "full_date,date,weekday,time,mood,activities,note_title,note"
FILE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-\d{4}\.(fit|fit\.gz|gpx)$")


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> ClinicManifest:
    return make_clinic(tmp_path_factory.mktemp("clinic_a"), seed=7)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def read_csv(path: Path, encoding: str = "utf-8") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle))


def test_make_clinic_is_byte_identical_for_a_seed(clinic: ClinicManifest, tmp_path: Path) -> None:
    second = make_clinic(tmp_path / "clinic_b", seed=7)

    assert tree(second.root) == tree(clinic.root)
    assert second.runs == clinic.runs


def test_make_clinic_writes_the_inbox_layout(clinic: ClinicManifest) -> None:
    root = clinic.root
    assert clinic.clients == ("C001", "C002", "C003", "C004", "C005")
    assert clinic.personas == {
        "C001": "steady",
        "C002": "dropout",
        "C003": "improver",
        "C004": "overreacher",
        "C005": "gpx_adherent",
    }
    assert (root / "roster.csv").read_text().splitlines()[0] == (
        "client_code,sex,birth_year,hr_rest,hr_max,timezone,lthr"
    )
    roster = read_csv(root / "roster.csv")
    assert [r["client_code"] for r in roster] == list(clinic.clients)
    assert {r["timezone"] for r in roster} == {"Europe/London", "Europe/Berlin", "America/New_York"}
    assert "" in {r["lthr"] for r in roster}

    on_disk: Counter[str] = Counter()
    for code in clinic.clients:
        names = sorted(p.name for p in (root / code).iterdir())
        journal = {"C003": "journal_daylio.csv", "C005": "journal_daylio.csv"}.get(
            code, "journal.csv"
        )
        assert journal in names
        assert "plan.csv" in names
        activity = [n for n in names if n not in (journal, "plan.csv")]
        assert all(FILE_NAME.match(n) for n in activity), activity
        on_disk.update(n.split(".", 1)[1] for n in activity)
    assert {k: on_disk[k] for k in ("fit", "fit.gz", "gpx")} == {
        k: clinic.files_by_kind[k] for k in ("fit", "fit.gz", "gpx")
    }
    assert clinic.files_by_kind["journal_template"] == 3
    assert clinic.files_by_kind["journal_daylio"] == 2
    assert clinic.activity_files == clinic.run_count + clinic.duplicate_files
    assert clinic.duplicate_files == 1
    assert clinic.faulty_files == {}


def test_clinic_fit_files_are_valid_and_carry_a_serial(clinic: ClinicManifest) -> None:
    gz = next(clinic.root.glob("C00[1-4]/*.fit.gz"))
    messages = parse_fit(gzip.decompress(gz.read_bytes()))
    assert by_name(messages, "file_id")[0]["serial_number"] is not None
    assert by_name(messages, "session")[0]["sport"] == "running"


def test_clinic_personas_show_in_the_runs(clinic: ClinicManifest) -> None:
    def week(run_start: datetime) -> int:
        return (run_start.date() - date(2026, 2, 23)).days // 7

    per_week: dict[str, Counter[int]] = {c: Counter() for c in clinic.clients}
    km_per_week: dict[str, Counter[int]] = {c: Counter() for c in clinic.clients}
    for run in clinic.runs:
        per_week[run.client_code][week(run.start_utc)] += 1
        km_per_week[run.client_code][week(run.start_utc)] += run.distance_m / 1000

    assert sum(per_week["C002"][w] for w in range(5, 12)) <= 5  # stops from week 6
    assert sum(per_week["C002"][w] for w in range(5)) >= 12
    assert sum(per_week["C003"][w] for w in range(4)) < sum(
        per_week["C003"][w] for w in range(8, 12)
    )
    assert all(per_week["C004"][w] == 7 for w in range(8, 12))  # no rest days
    km = km_per_week["C004"]
    assert all(km[w + 1] > 1.3 * km[w] for w in range(7, 11))
    c005 = [f for r in clinic.runs if r.client_code == "C005" for f in r.files]
    assert 1 <= sum(f.endswith(".fit") for f in c005) <= 3 < sum(f.endswith(".gpx") for f in c005)


def test_clinic_template_journal(clinic: ClinicManifest) -> None:
    path = clinic.root / "C001" / "journal.csv"
    assert path.read_text().splitlines()[0] == TEMPLATE_HEADER
    rows = read_csv(path)
    assert {r["kind"] for r in rows} == {"pre_run", "post_run", "daily"}
    assert Counter(r["kind"] for r in rows)["post_run"] == clinic.runs_by_client["C001"]
    assert all(r["rpe"] == "" for r in rows if r["kind"] != "post_run")
    assert all(1 <= int(r["mood"]) <= 10 for r in rows)
    offsets = {r["timestamp"][:10]: r["timestamp"][-6:] for r in rows}
    # Europe/London changes to BST on 29 March 2026
    assert {o for d, o in offsets.items() if d < "2026-03-29"} == {"+00:00"}
    assert {o for d, o in offsets.items() if d > "2026-03-29"} == {"+01:00"}
    assert any(r["notes"] == "" for r in rows)
    assert any("," in r["notes"] for r in rows)


def test_clinic_daylio_journal(clinic: ClinicManifest) -> None:
    raw = (clinic.root / "C003" / "journal_daylio.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + DAYLIO_HEADER.encode() + b"\n")
    rows = read_csv(clinic.root / "C003" / "journal_daylio.csv", encoding="utf-8-sig")
    assert {r["mood"] for r in rows} <= {"rad", "good", "meh", "bad", "awful"}
    assert all(re.fullmatch(r"(1[0-2]|[1-9]):[0-5]\d (am|pm)", r["time"]) for r in rows)
    dates = [r["full_date"] for r in rows]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert (
        sum(r["activities"].startswith("running") for r in rows) == (clinic.runs_by_client["C003"])
    )
    second_line = raw.decode("utf-8-sig").splitlines()[1]
    assert re.fullmatch(r'[^",]+,[^",]+,[^",]+,[^",]+,[^",]+,"[^"]*","[^"]*",".*"', second_line)


def test_clinic_plan(clinic: ClinicManifest) -> None:
    path = clinic.root / "C004" / "plan.csv"
    assert path.read_text().splitlines()[0] == "week_start,sessions,minutes,session_type,notes"
    rows = read_csv(path)
    assert len(rows) == 12
    assert all(date.fromisoformat(r["week_start"]).weekday() == 0 for r in rows)
    minutes = [int(r["minutes"]) for r in rows]
    assert max(b / a for a, b in pairwise(minutes)) < 1.3  # gentle


def test_make_clinic_with_faults(tmp_path: Path) -> None:
    manifest = make_clinic(tmp_path, weeks=1, with_faults=True)

    assert sorted(manifest.faulty_files.values()) == [
        "clock_not_set",
        "not_fit",
        "partial_copy",
        "truncated",
    ]
    files = {fault: tmp_path / name for name, fault in manifest.faulty_files.items()}
    with pytest.raises(FitParseError):
        parse_fit(files["truncated"].read_bytes())
    clock = parse_fit(files["clock_not_set"].read_bytes())
    assert all(r["timestamp"] < 0x10000000 for r in by_name(clock, "record"))
    assert files["partial_copy"].name.endswith(".fit.part")
    assert files["not_fit"].read_bytes()[8:12] != b".FIT"
