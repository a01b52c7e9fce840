"""Every real-device file of ``../shared/corpus``, file by file, through ``parse_file``.

Expected values come from ``catalog.csv`` (counts and first/last timestamps read by a decoder other
than ours), from the error policy decided for the corpus defects, or from literals counted by hand in
the files themselves (``grep -c '<trkpt'``, ``grep -c '<Trackpoint>'``, the tracks' ``<time>``
ranges); never from running the code under test.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import zipfile
from typing import Any

import polars as pl
import pytest

from tests.conftest import (
    ADDED_FILES,
    CORPUS_FILES,
    catalog_params,
    catalog_rows,
    corpus_bytes,
    require_corpus,
)

pytestmark = pytest.mark.corpus

NOT_ACTIVITIES = {
    "fitparse__Settings.fit",
    "gpxpy__route.gpx",
    "gpxpy__unicode_with_bom.gpx",
    "togeojson__wpt.gpx",
}
"""Valid files that hold no workout: outcome ``skipped``, reason ``not_an_activity``."""

CLOCK_NOT_SET = {"fitparse__compressed-speed-distance.fit", "fitparse__antfs-dump.63.fit"}
"""Device-relative timestamps: the catalog's first_ts/last_ts are seconds since power-on."""

WAREHOUSE_SPORTS = ("running", "walking", "hiking", "cycling", "swimming", "rowing", "transition")
"""Sports the ``activities`` schema names; any other FIT sport is stored as ``other``."""

XML_ACTIVITIES: dict[str, int] = {
    # 8 <trk>: one empty, then 7 timed tracks, each starting 3 to 15 min after the previous one
    # ended (14:23:59-15:05:08, 15:11:36, 15:24:25, 15:38:49, 15:58:31, 16:04:51, 16:05:37-16:23:49):
    # all within 1 h, so one outing.
    "gpxpy__cerknicko-jezero.gpx": 1,
    # Same tracks without <time>, except 5 points of the last track: one timed outing.
    "gpxpy__cerknicko-without-times.gpx": 1,
    "gpxpy__track-with-empty-segment.gpx": 1,
    "sweatpy__activity_5039744860.gpx": 1,
    "togeojson__apple_watch_route.gpx": 1,
    "togeojson__missing_hr.gpx": 1,
    # 3 tracks on 12, 13 and 14 July 2008, about a day apart: three outings.
    "togeojson__multitrackgpx.gpx": 3,
    "togeojson__run.gpx": 1,
    "togeojson__run_gpxtpx.gpx": 1,
    # Each TCX holds a single <Activity>.
    "sweatpy__3173437224.tcx": 1,
    "sweatpy__activity_5039744860.tcx": 1,
    "tcxparser__no_hr.tcx": 1,
    "tcxparser__sup_activity_1.tcx": 1,
    "tcxparser__test.tcx": 1,
    "togeojson__garmin_connect.tcx": 1,
    "togeojson__tour_hr.tcx": 1,
}
"""Activities per GPX/TCX file (the catalog has no count for these formats)."""

XML_SAMPLES: dict[str, int] = {
    # grep -o '<trkpt' | wc -l  /  grep -o '<Trackpoint>' | wc -l: one sample per timed point.
    "gpxpy__cerknicko-jezero.gpx": 296,
    "gpxpy__track-with-empty-segment.gpx": 9,
    "sweatpy__activity_5039744860.gpx": 96,  # = records of the same ride's FIT in the catalog
    "togeojson__apple_watch_route.gpx": 44,
    "togeojson__missing_hr.gpx": 16,
    "togeojson__multitrackgpx.gpx": 38 + 65 + 14,
    "togeojson__run.gpx": 206,
    "togeojson__run_gpxtpx.gpx": 42,
    "sweatpy__3173437224.tcx": 3507,
    "tcxparser__no_hr.tcx": 384,
    "tcxparser__sup_activity_1.tcx": 111,
    "tcxparser__test.tcx": 384,
    "togeojson__garmin_connect.tcx": 317,
    "togeojson__tour_hr.tcx": 465,
}
"""Samples per GPX/TCX file, counted in the files by hand."""


# -- catalog helpers ------------------------------------------------------------------------------


def real_time(text: str) -> dt.datetime | None:
    """A catalog timestamp as an aware UTC datetime; ``None`` for device-relative seconds."""
    if not text or text.isdigit():
        return None
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def is_real_world_defect(row: dict[str, str]) -> bool:
    return row["malformed"].startswith("REAL-WORLD")


def is_container(row: dict[str, str]) -> bool:
    return row["format"] in ("GZ", "ZIP")


def is_fit_activity(row: dict[str, str]) -> bool:
    """FIT activity files whose catalog counts hold for a correct decoder.

    Real-world defects lose data by policy and are checked one by one below; the QUIRK files (clock
    never set, a developer_data_id without application_id) decode completely.
    """
    return (
        row["format"] == "FIT" and row["file_type"] == "activity" and not is_real_world_defect(row)
    )


def has_real_dates(row: dict[str, str]) -> bool:
    return (
        not is_container(row)
        and not is_real_world_defect(row)
        and real_time(row["first_ts"]) is not None
        and real_time(row["last_ts"]) is not None
    )


def all_samples(result: Any) -> pl.DataFrame:
    frames = [item.samples for item in result.walk() if item.samples is not None]
    return pl.concat(frames)


def all_activities(result: Any) -> pl.DataFrame:
    frames = [item.activities for item in result.walk() if item.activities is not None]
    return pl.concat(frames)


def flags_of(result: Any) -> set[str]:
    flags: set[str] = set()
    for text in all_activities(result)["quality_flags"].to_list():
        flags |= {flag for flag in text.split(",") if flag}
    return flags


def expected_sport(catalog_sport: str) -> str:
    """``running/generic`` -> ``running``; FIT sports outside the schema's list -> ``other``."""
    sport = catalog_sport.split("/")[0]
    return sport if sport in WAREHOUSE_SPORTS else "other"


# -- every file --------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", catalog_params())
def test_every_file_reaches_its_expected_outcome(row: dict[str, str], parsed_corpus: Any) -> None:
    result = parsed_corpus(row["name"])
    if row["name"] in NOT_ACTIVITIES:
        assert result.outcome == "skipped"
        assert result.reason_code == "not_an_activity"
        assert result.reason_message
        assert result.activities is None
        assert result.samples is None
    else:
        assert result.outcome == "ingested", (result.reason_code, result.detail)
        assert all_activities(result).height >= 1
        assert all_samples(result).height >= 1


def test_catalog_lists_every_file_in_the_corpus() -> None:
    require_corpus()
    names = {row["name"] for row in catalog_rows()}
    assert names == {path.name for path in CORPUS_FILES.iterdir()}
    assert NOT_ACTIVITIES | CLOCK_NOT_SET | set(XML_ACTIVITIES) <= names


# -- FIT: counts and timestamps ----------------------------------------------------------------------


@pytest.mark.parametrize("row", catalog_params(is_fit_activity))
def test_fit_counts_equal_the_catalog(row: dict[str, str], parsed_corpus: Any) -> None:
    """Samples = records, activities = sessions, laps = laps, RR intervals = rr_intervals.

    Chained files (``n_headers`` > 1) are included: every FIT header's messages are read.
    """
    result = parsed_corpus(row["name"])
    assert result.outcome == "ingested"
    assert result.samples.height == int(row["records"])
    assert result.activities.height == int(row["sessions"])
    assert result.laps.height == int(row["laps"])
    assert result.hrv.height == int(row["rr_intervals"])
    assert result.activities["n_samples"].sum() == int(row["records"])


@pytest.mark.parametrize(
    "row", catalog_params(lambda row: is_fit_activity(row) and int(row["sessions"] or 0) > 1)
)
def test_multi_session_fit_gives_one_activity_per_session_in_order(
    row: dict[str, str], parsed_corpus: Any
) -> None:
    result = parsed_corpus(row["name"])
    activities = result.activities.sort("start_utc")
    expected = [expected_sport(sport) for sport in row["sports"].split("|")]
    assert activities["sport"].to_list() == expected
    starts, ends = activities["start_utc"].to_list(), activities["end_utc"].to_list()
    assert starts[0] == real_time(row["first_ts"])
    assert ends[-1] == real_time(row["last_ts"])
    # Sessions follow one another without overlapping.
    assert all(end < start for end, start in zip(ends, starts[1:], strict=False))


@pytest.mark.parametrize("row", catalog_params(has_real_dates))
def test_first_and_last_sample_times_equal_the_catalog(
    row: dict[str, str], parsed_corpus: Any
) -> None:
    result = parsed_corpus(row["name"])
    times = all_samples(result)["timestamp"].drop_nulls()
    assert times.min() == real_time(row["first_ts"])
    assert times.max() == real_time(row["last_ts"])
    activities = all_activities(result)
    assert activities["start_utc"].min() == real_time(row["first_ts"])
    assert activities["end_utc"].max() == real_time(row["last_ts"])


# -- GPX and TCX -------------------------------------------------------------------------------------


@pytest.mark.parametrize("row", catalog_params(lambda row: row["name"] in XML_ACTIVITIES))
def test_gpx_and_tcx_activity_counts(row: dict[str, str], parsed_corpus: Any) -> None:
    result = parsed_corpus(row["name"])
    assert result.outcome == "ingested"
    assert result.activities.height == XML_ACTIVITIES[row["name"]]
    assert set(result.activities["source_format"].to_list()) == {row["format"].lower()}
    if row["name"] in XML_SAMPLES:
        assert result.samples.height == XML_SAMPLES[row["name"]]
    if row["format"] == "TCX":
        assert result.laps.height == int(row["laps"])
        assert result.activities["sport"].to_list() == [
            {"Running": "running", "Biking": "cycling", "Other": "other"}[row["sports"]]
        ]


def test_multitrack_gpx_outings_start_when_their_tracks_start(parsed_corpus: Any) -> None:
    result = parsed_corpus("togeojson__multitrackgpx.gpx")
    starts = result.activities.sort("start_utc")["start_utc"].to_list()
    assert starts == [
        dt.datetime(2008, 7, 12, 9, 58, 23, tzinfo=dt.UTC),
        dt.datetime(2008, 7, 13, 7, 57, 31, tzinfo=dt.UTC),
        dt.datetime(2008, 7, 14, 7, 8, 19, tzinfo=dt.UTC),
    ]


def test_same_ride_as_fit_gpx_and_tcx_spans_the_same_time(parsed_corpus: Any) -> None:
    """sweatpy's cross-format triplet: one Edge 1000 ride exported three ways."""
    spans = set()
    for name in (
        "sweatpy__2020-06-01-16-52-40.fit",
        "sweatpy__activity_5039744860.gpx",
        "sweatpy__activity_5039744860.tcx",
    ):
        activities = parsed_corpus(name).activities
        assert activities["sport"].to_list() == ["cycling"]
        spans.add((activities["start_utc"].item(), activities["end_utc"].item()))
    assert spans == {
        (
            dt.datetime(2020, 6, 1, 14, 52, 40, tzinfo=dt.UTC),
            dt.datetime(2020, 6, 1, 14, 54, 46, tzinfo=dt.UTC),
        )
    }


# -- the real defects, one by one --------------------------------------------------------------------


@pytest.mark.parametrize("row", catalog_params(lambda row: row["name"] in NOT_ACTIVITIES))
def test_files_without_a_workout_are_skipped_with_a_reason(
    row: dict[str, str], parsed_corpus: Any
) -> None:
    result = parsed_corpus(row["name"])
    assert (result.outcome, result.reason_code) == ("skipped", "not_an_activity")
    assert result.reason_message.strip()
    assert result.n_records == 0


def _catalog_row(name: str) -> dict[str, str]:
    require_corpus()
    [row] = [row for row in catalog_rows() if row["name"] == name]
    return row


def test_truncated_fit_is_recovered_with_every_record(parsed_corpus: Any) -> None:
    row = _catalog_row("fitparse__nick.fit")
    result = parsed_corpus(row["name"])
    assert (result.outcome, result.reason_code) == ("ingested", "recovered")
    assert result.reason_message.strip()
    assert result.detail.strip()
    assert result.samples.height == int(row["records"]) == 14391
    assert "recovered" in flags_of(result)
    assert result.activities["recovered"].to_list() == [True]
    # No session message (the file is cut before it): the sport comes from the sport message.
    assert result.activities["sport"].to_list() == ["cycling"]
    times = result.samples["timestamp"]
    assert (times.min(), times.max()) == (real_time(row["first_ts"]), real_time(row["last_ts"]))


def test_undefined_local_message_is_recovered_and_the_2085_record_dropped(
    parsed_corpus: Any,
) -> None:
    row = _catalog_row("fitparse__strava-android-app-201.10-b1218918.fit")
    result = parsed_corpus(row["name"])
    assert (result.outcome, result.reason_code) == ("ingested", "recovered")
    assert result.reason_message.strip()
    assert {"recovered", "implausible_timestamps_dropped"} <= flags_of(result)
    assert result.samples.height == int(row["records"]) - 1 == 472
    times = result.samples["timestamp"]
    assert times.null_count() == 0
    assert times.min() == real_time(row["first_ts"])
    # The garbage record read 2085-12-21 (the catalog's last_ts); everything kept is on the day.
    assert real_time(row["last_ts"]) == dt.datetime(2085, 12, 21, 16, 46, 58, tzinfo=dt.UTC)
    assert times.dt.date().unique().to_list() == [dt.date(2021, 9, 27)]
    assert result.activities["end_utc"].item() < dt.datetime(2021, 9, 28, tzinfo=dt.UTC)


def test_invalid_field_sizes_are_skipped_and_every_record_kept(parsed_corpus: Any) -> None:
    """Regression (issue 16): fitparse stopped at the first bad definition, 1785 of 11272 records.

    The fields whose size is not a multiple of their base type are read as bytes and counted, as
    fitdecode does; every record is kept.
    """
    row = _catalog_row("fitparse__coros-pace-2-cycling-misaligned-fields.fit")
    result = parsed_corpus(row["name"])
    assert (result.outcome, result.reason_code) == ("ingested", "fields_skipped")
    assert result.reason_message.strip()
    assert "bad field size" in result.detail
    assert flags_of(result) & {"fields_skipped", "recovered"} == {"fields_skipped"}
    assert result.samples.height == int(row["records"]) == 11272
    times = result.samples["timestamp"]
    assert (times.min(), times.max()) == (real_time(row["first_ts"]), real_time(row["last_ts"]))


@pytest.mark.parametrize("row", catalog_params(lambda row: row["name"] in CLOCK_NOT_SET))
def test_clock_never_set_keeps_elapsed_time_and_stores_no_date(
    row: dict[str, str], parsed_corpus: Any
) -> None:
    result = parsed_corpus(row["name"])
    assert result.outcome == "ingested"
    assert result.reason_code == "clock_not_set"
    assert "clock" in (result.reason_message or "")
    assert "clock_not_set" in flags_of(result)
    activities = result.activities
    assert activities["clock_set"].to_list() == [False]
    assert activities["start_utc"].to_list() == [None]
    assert activities["end_utc"].to_list() == [None]
    assert activities["local_date"].to_list() == [None]
    # No 1989/1990 date anywhere (a relative clock read as a date lands there).
    samples, laps = result.samples, result.laps
    year_2000 = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    for column in (samples["timestamp"], laps["start_utc"]):
        assert column.drop_nulls().filter(column.drop_nulls() < year_2000).len() == 0
    assert samples["timestamp"].null_count() == samples.height == int(row["records"])
    # Elapsed time runs on the relative clock: the records span last_ts - first_ts seconds.
    # Its origin is the first record, as for start_utc.
    elapsed = samples["elapsed_s"]
    assert elapsed.null_count() == 0
    assert elapsed.min() == 0.0
    assert elapsed.max() - elapsed.min() == float(int(row["last_ts"]) - int(row["first_ts"]))
    assert elapsed.diff().drop_nulls().min() >= 0.0
    assert activities["duration_s"].item() == float(int(row["last_ts"]) - int(row["first_ts"]))


# -- containers --------------------------------------------------------------------------------------


def test_fit_gz_member_is_ingested(parsed_corpus: Any) -> None:
    name = "goldencheetah__14582164182.fit.gz"
    _catalog_row(name)
    result = parsed_corpus(name)
    inner = gzip.decompress(corpus_bytes(name))
    assert (result.detected_format, result.outcome) == ("gzip", "ingested")
    assert result.activities is None  # the container itself holds no activity
    [member] = result.members
    assert member.sha256 == hashlib.sha256(inner).hexdigest()
    assert (
        member.container_sha256 == result.sha256 == hashlib.sha256(corpus_bytes(name)).hexdigest()
    )
    assert (member.detected_format, member.outcome, member.reason_code) == ("fit", "ingested", None)
    # "Edge 1030 Plus virtual ride"
    assert member.activities["sport"].to_list() == ["cycling"]
    assert member.activities["source_sha256"].to_list() == [member.sha256]
    assert member.samples.height > 0


def test_garmin_export_original_zip_member_is_ingested(parsed_corpus: Any) -> None:
    name = "goldencheetah__GarminFR955v18.zip"
    _catalog_row(name)
    result = parsed_corpus(name)
    with zipfile.ZipFile(io.BytesIO(corpus_bytes(name))) as archive:
        [member_name] = [n for n in archive.namelist() if not n.endswith("/")]
        inner = archive.read(member_name)
    assert member_name.endswith("_ACTIVITY.fit")
    assert (result.detected_format, result.outcome, result.reason_code) == ("zip", "ingested", None)
    [member] = result.members
    assert member.member_name == member_name
    assert member.sha256 == hashlib.sha256(inner).hexdigest()
    assert (member.detected_format, member.outcome) == ("fit", "ingested")
    # "FR955 run, HRV, dev fields"
    assert member.activities["sport"].to_list() == ["running"]
    assert member.hrv.height > 0
    assert member.samples["hr_bpm"].null_count() < member.samples.height


# -- the files added in 2026-12 (issue 16), file by file ---------------------------------------------

ADDED_NOT_ACTIVITIES: dict[str, str] = {
    # Every point carries the same instant, 1901-12-13T20:45:52 (the signed 32-bit epoch minimum):
    # the catalog's first_ts equals its last_ts. No time axis, so no recorded workout (issue 16).
    "gpxpy__Mojstrovka.gpx": "all 184 points carry one instant",
}
"""Added files that hold no workout, as :data:`NOT_ACTIVITIES`: skipped, ``not_an_activity``."""

ADDED_FLAGS: dict[str, set[str]] = {
    # enhanced_altitude declared as 2 x uint32 (8 bytes) in the records: not one number, no value
    # from it; the fitparse reader (the reference, ingest.fit) flags nothing for it, and neither
    # does the fast decoder since it agrees with it (it used to flag fields_skipped here: see the
    # regression test of a record field read as an array in tests/test_fit_fast.py)
    "goldencheetah__FR55-CoreTemp-Walk.fit": set(),
}
"""Decoder flags expected on added files (every other added FIT file decodes without one)."""

DECODER_FLAGS = {"fields_skipped", "recovered", "crc_mismatch", "implausible_timestamps_dropped"}


def test_added_catalog_lists_every_added_file() -> None:
    require_corpus()
    names = {row["name"] for row in catalog_rows(added=True)}
    assert names == {path.name for path in ADDED_FILES.iterdir()}
    assert len(names) == 32
    assert not names & {row["name"] for row in catalog_rows()}
    assert set(ADDED_FLAGS) | set(ADDED_NOT_ACTIVITIES) <= names


@pytest.mark.parametrize("row", catalog_params(added=True))
def test_added_file_reaches_its_catalog_counts(row: dict[str, str], parsed_corpus: Any) -> None:
    """Records (FIT ``record`` messages, timed ``trkpt``/``Trackpoint``), sessions, laps and RR
    intervals equal ``added/catalog.csv``; first and last sample times equal its first_ts/last_ts.
    Files without a workout (:data:`ADDED_NOT_ACTIVITIES`) are skipped instead."""
    result = parsed_corpus(row["name"])
    if row["name"] in ADDED_NOT_ACTIVITIES:
        assert real_time(row["first_ts"]) == real_time(row["last_ts"])  # one instant: no time axis
        assert (result.outcome, result.reason_code) == ("skipped", "not_an_activity")
        assert result.reason_message.strip()
        assert (result.n_records, result.activities) == (0, None)
        return
    assert result.outcome == "ingested", (result.reason_code, result.detail)
    assert result.samples.height == int(row["records"])
    assert result.activities["n_samples"].sum() == int(row["records"])
    if row["laps"]:
        assert result.laps.height == int(row["laps"])
    if row["format"] == "FIT":
        assert result.activities.height == int(row["sessions"])
        assert result.hrv.height == int(row["rr_intervals"])
        assert flags_of(result) & DECODER_FLAGS == ADDED_FLAGS.get(row["name"], set())
    first, last = real_time(row["first_ts"]), real_time(row["last_ts"])
    if first is not None and last is not None:
        times = result.samples["timestamp"].drop_nulls()
        assert (times.min(), times.max()) == (first, last)


def test_27_day_session_keeps_every_record_and_refuses_only_its_duration(
    parsed_corpus: Any,
) -> None:
    # Catalog: 3 records on 2021-06-20, 3696 on 2021-07-18 in one session; total_elapsed_time
    # 2,412,583 s (27.9 days, over the 7-day maximum) against total_timer_time 7373 s.
    name = "sports-lib__27-days-activity.fit"
    [row] = [r for r in catalog_rows(added=True) if r["name"] == name]
    assert "total_timer_time 7373 s" in row["malformed"]
    result = parsed_corpus(name)
    assert (result.outcome, result.reason_code) == ("ingested", "values_refused")
    assert "duration" in result.reason_message
    activity = result.activities.row(0, named=True)
    assert (activity["duration_s"], activity["values_refused"]) == (None, 1)
    assert "values_refused" in activity["quality_flags"].split(",")
    assert (activity["start_utc"], activity["end_utc"]) == (
        real_time(row["first_ts"]),
        real_time(row["last_ts"]),
    )
    # moving time from the records (gaps <= 10 s) stays near the device's timer time, not 27 days
    assert activity["moving_time_s"] == pytest.approx(7373, rel=0.05)
