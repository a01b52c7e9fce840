"""Whole-account exports through ``run_ingest``: one activity per run, whatever the order.

Inputs come from the export tests' builders: the five runs of ``tests.test_exports_strava`` as a
Garmin full export (FIT, among monitoring files with resting heart rate) and as a Strava archive
(``.fit.gz`` of the same FIT bytes, ``.gpx``, ``.gpx.gz``, ``.tcx``, ``.tcx.gz``), and the Apple
Health export of ``tests.test_exports_apple`` whose first workout is the same run as the first FIT.
Expected values are the literals and simulator arrays of those builders.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.cli import main
from pipelines.run import RunSummary, run_ingest
from pipelines.settings import Settings
from tests.test_exports_apple import PLAIN_START, WALK_START, apple_zip, health_xml
from tests.test_exports_garmin import RESTING_HR, garmin_full_export
from tests.test_exports_strava import (
    GERMAN_CSV,
    MANUAL_START,
    STARTS,
    english_csv,
    five_run_files,
    runs,
    strava_zip,
)
from tests.test_run import CLIENT, assert_absent, drop, settings_for
from warehouse.store import TableStore

ROSTER = f"client_code,sex,birth_year,hr_rest,hr_max,timezone,lthr\n{CLIENT},f,1990,55,188,Europe/Berlin,\n"
ACTIVITY_TABLES = ("activities", "samples", "laps", "hrv", "daily_wellness")
RICHER = "fit/garmin kept over {}/strava: richer format"


def strava_five() -> bytes:
    """The Strava archive of exactly the five runs (no manual rows)."""
    return strava_zip(english_csv(with_manual=False), five_run_files())


def ingest(settings: Settings, files: dict[str, bytes]) -> RunSummary:
    (settings.inbox / "roster.csv").parent.mkdir(parents=True, exist_ok=True)
    (settings.inbox / "roster.csv").write_text(ROSTER)
    drop(settings, files)
    return run_ingest(settings)


def tables(settings: Settings) -> dict[str, pl.DataFrame]:
    store = TableStore(settings.warehouse)
    return {name: store.read(name) for name in (*ACTIVITY_TABLES, "files")}


def assert_five_runs(found: dict[str, pl.DataFrame]) -> None:
    activities = found["activities"].sort("start_utc")
    assert activities.height == 5
    assert activities["start_utc"].to_list() == list(STARTS)
    assert activities["source_format"].to_list() == ["fit"] * 5
    assert activities["source_kind"].to_list() == ["garmin"] * 5
    # FIT stores distance in centimetres
    assert activities["distance_m"].to_list() == pytest.approx(
        [float(r.distance[-1]) for r in runs()], abs=0.01
    )
    # run 0 reached Strava as the same FIT bytes (.fit.gz): one activity, nothing to choose
    assert activities["kept_reason"].to_list() == [
        None,
        RICHER.format("gpx"),
        RICHER.format("gpx"),
        RICHER.format("tcx"),
        RICHER.format("tcx"),
    ]
    # Strava's perceived exertion survives on the kept FIT copy (runs 0 and 2 had one)
    assert activities["perceived_exertion"].to_list() == [6.0, None, 4.0, None, None]
    assert found["samples"]["activity_id"].n_unique() == 5


@pytest.mark.parametrize("first", ["garmin", "strava"])
def test_garmin_and_strava_in_either_order_give_the_same_five_runs(
    tmp_path: Path, first: str
) -> None:
    exports = {
        "garmin": ("4f0c1e_1.zip", garmin_full_export()),
        "strava": ("export_67079323.zip", strava_five()),
    }
    second = "strava" if first == "garmin" else "garmin"
    a = settings_for(tmp_path / "a")
    one = ingest(a, dict([exports[first]]))
    two = ingest(a, dict([exports[second]]))
    assert (one.activities_found, two.activities_found) == (5, 5)
    assert one.duplicates_merged + two.duplicates_merged == 5
    assert one.non_activity_files + two.non_activity_files == 6
    b = settings_for(tmp_path / "b")
    both = ingest(b, dict([exports["garmin"], exports["strava"]]))
    assert (both.activities_found, both.duplicates_merged, both.non_activity_files) == (10, 5, 6)
    found_a, found_b = tables(a), tables(b)
    assert_five_runs(found_a)
    for name in ACTIVITY_TABLES:
        assert_frame_equal(
            found_a[name].sort(found_a[name].columns[:3]),
            found_b[name].sort(found_b[name].columns[:3]),
            check_row_order=False,
        )


def test_the_ledger_says_which_copy_was_kept_and_counts_non_activity_files(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ingest(settings, {"4f0c1e_1.zip": garmin_full_export(), "export_67079323.zip": strava_five()})
    files = tables(settings)["files"]
    skipped = files.filter(pl.col("reason_code") == "not_an_activity")
    assert skipped.height == 6
    assert (
        sorted(m for m in skipped["reason_message"].to_list() if "monitoring_b" in m)
        == ["This is a watch monitoring_b file, not a workout; nothing to take in."] * 2
    )
    duplicates = files.filter(pl.col("outcome") == "duplicate")
    kept_ids = set(tables(settings)["activities"]["activity_id"].to_list())
    assert duplicates.height >= 5
    assert {i for ids in duplicates["duplicate_of"].to_list() for i in ids} == kept_ids
    assert any("richer format" in (m or "") for m in duplicates["reason_message"].to_list())
    assert "quarantined" not in files["outcome"].to_list()


def test_resting_heart_rate_reaches_daily_wellness(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ingest(settings, {"4f0c1e_1.zip": garmin_full_export()})
    wellness = tables(settings)["daily_wellness"].sort("date")
    # roster timezone Europe/Berlin (UTC+1 in March): 23:30 UTC on 5 March is 6 March
    assert wellness.select("date", "resting_hr_bpm", "source").rows() == [
        (dt.date(2025, 3, 3), 52, "garmin_monitoring"),
        (dt.date(2025, 3, 4), 55, "garmin_monitoring"),
        (dt.date(2025, 3, 6), 58, "garmin_monitoring"),
    ]
    assert [t for t, _ in RESTING_HR] == wellness["measured_utc"].to_list()


def test_manual_entries_and_a_german_archive(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ingest(
        settings,
        {
            "export_1.zip": strava_zip(english_csv(), five_run_files()),
            "export_2.zip": strava_zip(GERMAN_CSV, {}),
        },
    )
    activities = tables(settings)["activities"]
    manual = activities.filter(pl.col("source_format") == "manual").sort("start_utc")
    assert manual.select(
        "start_utc", "duration_s", "distance_m", "n_samples", "source_type"
    ).rows() == [
        (
            dt.datetime(2022, 12, 9, 15, 24, 49, tzinfo=dt.UTC),
            3000.0,
            pytest.approx(9440.0),
            0,
            "Lauf",
        ),
        (MANUAL_START, 1800.0, 5000.0, 0, "Run"),
        (dt.datetime(2025, 3, 16, 20, 0, tzinfo=dt.UTC), 2400.0, pytest.approx(3100.0), 0, "Walk"),
    ]
    # localised activity types are kept as written; only the English ones are mapped to a sport
    assert manual["sport"].to_list() == ["other", "running", "walking"]
    assert manual["perceived_exertion"].to_list() == [None, 7.0, None]
    strava_files = activities.filter(pl.col("source_format") != "manual")
    assert sorted(strava_files["source_format"].to_list()) == ["fit", "gpx", "gpx", "tcx", "tcx"]
    assert set(strava_files["source_kind"].to_list()) == {"strava"}


def test_apple_copy_of_a_garmin_run_is_merged_and_other_workouts_kept(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    summary = ingest(
        settings, {"eksport.zip": apple_zip(health_xml()), "4f0c1e_1.zip": garmin_full_export()}
    )
    assert (summary.activities_found, summary.duplicates_merged) == (8, 1)
    activities = tables(settings)["activities"].sort("start_utc")
    assert activities.height == 7
    first = activities.row(0, named=True)
    assert (first["start_utc"], first["source_format"], first["kept_reason"]) == (
        STARTS[0],
        "fit",
        "fit/garmin kept over apple_health/apple: richer format",
    )
    apple = activities.filter(pl.col("source_kind") == "apple")
    assert apple.select("start_utc", "sport", "distance_m").rows() == [
        (PLAIN_START, "running", pytest.approx(4988.9664)),
        (WALK_START, "walking", pytest.approx(2750.0)),
    ]


def test_free_text_names_ids_and_logins_never_reach_the_warehouse(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    ingest(
        settings,
        {
            "export_1.zip": strava_zip(english_csv(), five_run_files()),
            "4f0c1e_1.zip": garmin_full_export(),
            "eksport.zip": apple_zip(health_xml()),
        },
    )
    assert_absent(
        settings.warehouse,
        [
            CLIENT,
            "Elm Street",
            "Treadmill at the gym",
            "13001",
            "14001",
            "client@example.org",
            "Kari",
        ],
    )


def test_cli_json_summary_counts_exports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for(tmp_path)
    (settings.inbox / CLIENT).mkdir(parents=True)
    (settings.inbox / "roster.csv").write_text(ROSTER)
    drop(settings, {"4f0c1e_1.zip": garmin_full_export(), "export_67079323.zip": strava_five()})
    monkeypatch.setenv("MINDMILES_SECRET", "cli-secret-of-16-bytes")
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    out = io.StringIO()
    argv = [
        "ingest",
        "--inbox",
        str(settings.inbox),
        "--warehouse",
        str(settings.warehouse),
        "--json",
        "--settle-seconds",
        "0",
        "--engine",
        "local",
    ]
    assert main(argv, out=out) == 0
    summary = json.loads(out.getvalue())
    assert (
        summary["activities_found"],
        summary["duplicates_merged"],
        summary["non_activity_files"],
    ) == (10, 5, 6)
    assert summary["activities"] == 5
