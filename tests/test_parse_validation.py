"""Refuse values, not workouts: impossible values are blanked and counted; only a file with no
readable workout is quarantined; in a multi-workout file one bad workout never takes the others.

Batch validation (one pandera call per table for a batch, culprits found file by file) is
exercised on the way. Expected counts are computed by hand from the files built here, and the
trackpoints are counted with the standard library's ElementTree, not with the reader under test.
"""

from __future__ import annotations

import datetime as dt
from xml.etree import ElementTree as etree

import polars as pl
import pytest

from ingest.parse import parse_file, validate_results
from schemas.activities import Activities
from schemas.base import polars_schema
from tests.test_duplicate_channels import fit_swim

T0 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"


def gpx(hr: int, minute: int, *, year: int = 2026) -> bytes:
    points = "".join(
        f'<trkpt lat="51.5000{i}" lon="-0.12"><time>{year}-03-02T07:{minute:02d}:{i:02d}Z</time>'
        f"<extensions><gpxtpx:TrackPointExtension><gpxtpx:hr>{hr}</gpxtpx:hr>"
        "</gpxtpx:TrackPointExtension></extensions></trkpt>"
        for i in range(5)
    )
    return (
        '<?xml version="1.0"?><gpx version="1.1" creator="t" '
        'xmlns="http://www.topografix.com/GPX/1/1" '
        'xmlns:gpxtpx="http://www.garmin.com/xmlschemas/TrackPointExtension/v1">'
        f"<trk><type>running</type><trkseg>{points}</trkseg></trk></gpx>"
    ).encode()


def tcx_activity(sport: str, start: dt.datetime, distances: list[float], hr: int = 140) -> str:
    """One TCX ``<Activity>`` with a point a second at the given cumulative distances."""
    points = "".join(
        f"<Trackpoint><Time>{(start + dt.timedelta(seconds=i)).isoformat()}</Time>"
        f"<DistanceMeters>{d}</DistanceMeters>"
        f"<HeartRateBpm><Value>{hr}</Value></HeartRateBpm></Trackpoint>"
        for i, d in enumerate(distances)
    )
    return (
        f'<Activity Sport="{sport}"><Id>{start.isoformat()}</Id>'
        f'<Lap StartTime="{start.isoformat()}"><Track>{points}</Track></Lap></Activity>'
    )


def tcx(*activities: str) -> bytes:
    return (
        f'<?xml version="1.0"?><TrainingCenterDatabase xmlns="{TCX_NS}"><Activities>'
        + "".join(activities)
        + "</Activities></TrainingCenterDatabase>"
    ).encode()


def trackpoints_per_activity(data: bytes) -> list[int]:
    """Trackpoints of each ``<Activity>``, counted with ElementTree (the oracle)."""
    root = etree.fromstring(data)
    return [
        len(activity.findall(".//t:Trackpoint", {"t": TCX_NS}))
        for activity in root.iter(f"{{{TCX_NS}}}Activity")
    ]


STEADY = [3.0 * i for i in range(30)]
"""30 points of a run at 3 m/s."""
STEPPING_BACK = [STEADY[i - 1] - 2.5 if i in (7, 15, 23) else d for i, d in enumerate(STEADY)]
"""The same, but at points 7, 15 and 23 the cumulative distance steps back 2.5 m from the point
before: the speed derived there is -2.5 m/s (then 8.5 m/s), three negative speeds in all."""


def test_heart_rate_300_is_blanked_counted_and_the_run_kept() -> None:
    result = parse_file(gpx(300, 5), client_id="c")  # 300 bpm: outside the schema's 20-250
    assert (result.outcome, result.reason_code) == ("ingested", "values_refused")
    assert result.reason_message is not None
    assert "heart rate 5" in result.reason_message
    assert result.samples is not None
    assert result.activities is not None
    assert result.samples.height == 5
    assert result.samples["hr_bpm"].to_list() == [None] * 5
    row = result.activities.row(0, named=True)
    assert (row["values_refused"], row["has_hr"], row["hr_mean_bpm"]) == (5, False, None)
    assert "values_refused" in row["quality_flags"].split(",")


def test_only_the_file_with_no_readable_workout_is_quarantined() -> None:
    good = parse_file(gpx(140, 1), client_id="c", validate=False)
    blanked = parse_file(gpx(300, 3), client_id="c", validate=False)
    bad = parse_file(gpx(140, 5, year=2150), client_id="c", validate=False)  # dated 2150
    assert good.outcome == blanked.outcome == bad.outcome == "ingested"  # nothing checked yet
    validate_results([good, blanked, bad])
    assert good.outcome == blanked.outcome == "ingested"
    assert good.samples is not None
    assert good.samples["hr_bpm"].to_list() == [140] * 5
    assert bad.outcome == "quarantined"
    assert bad.reason_code == "schema_failed"
    assert bad.activities is None
    assert bad.samples is None
    assert {e["column"] for e in bad.evidence} >= {"start_utc"}


def test_validating_at_parse_time_gives_the_same_outcome() -> None:
    assert parse_file(gpx(140, 5, year=2150), client_id="c").reason_code == "schema_failed"
    assert parse_file(gpx(300, 5), client_id="c").outcome == "ingested"
    assert parse_file(gpx(140, 1), client_id="c").outcome == "ingested"


def test_distance_stepping_back_keeps_all_four_workouts_of_a_multisport_tcx() -> None:
    # The file: 2 runs, 2 rides; the cumulative distance of one steps back, which gave
    # negative derived speeds and quarantined all four workouts (schema_failed).
    data = tcx(
        tcx_activity("Running", T0, STEADY),
        tcx_activity("Biking", T0 + dt.timedelta(hours=1), STEPPING_BACK),
        tcx_activity("Running", T0 + dt.timedelta(hours=2), STEADY),
        tcx_activity("Biking", T0 + dt.timedelta(hours=3), STEADY),
    )
    result = parse_file(data, client_id="c")
    # The TCX reader derives no speed where the distance steps back (null, never negative), so
    # nothing is left for the sample bounds to refuse.
    assert (result.outcome, result.reason_code) == ("ingested", None)
    assert result.activities is not None
    assert result.samples is not None
    assert result.activities["values_refused"].to_list() == [0, 0, 0, 0]
    per_activity = result.samples.group_by("activity_id", maintain_order=True).agg(
        n=pl.len(), no_speed=pl.col("speed_mps").null_count()
    )
    assert per_activity["n"].to_list() == trackpoints_per_activity(data) == [30] * 4
    # the first point of each, plus the three points where the distance steps back
    assert per_activity["no_speed"].to_list() == [1, 4, 1, 1]
    assert result.samples["speed_mps"].min() == pytest.approx(3.0)
    assert result.activities["sport"].to_list() == ["running", "cycling"] * 2


@pytest.mark.parametrize("validate", [True, False])
def test_one_workout_with_impossible_times_does_not_take_the_others(validate: bool) -> None:
    data = tcx(
        tcx_activity("Running", T0, STEADY),
        tcx_activity("Running", dt.datetime(2150, 3, 2, 7, tzinfo=dt.UTC), STEADY),
        tcx_activity("Biking", T0 + dt.timedelta(hours=3), STEADY),
    )
    result = parse_file(data, client_id="c", validate=validate)
    if not validate:
        validate_results([result])
    assert (result.outcome, result.reason_code) == ("ingested", "some_activities_refused")
    assert result.activities is not None
    assert result.samples is not None
    assert result.activities["sport"].to_list() == ["running", "cycling"]
    assert result.samples.height == result.n_records == 60
    assert result.reason_message is not None
    assert "1 of the 3 workouts" in result.reason_message
    assert {e["column"] for e in result.evidence} >= {"start_utc"}


def test_a_file_whose_every_workout_is_impossible_is_still_refused() -> None:
    late = dt.datetime(2150, 3, 2, 7, tzinfo=dt.UTC)
    data = tcx(
        tcx_activity("Running", late, STEADY),
        tcx_activity("Biking", late + dt.timedelta(hours=1), STEADY),
    )
    result = parse_file(data, client_id="c")
    assert (result.outcome, result.reason_code) == ("quarantined", "schema_failed")
    assert result.activities is None


def test_a_track_dated_before_any_plausible_date_is_kept_without_a_date() -> None:
    # A GPS clock never set (or a week rollover) dates the whole track 1980: five points a second
    # apart. The workout is kept as a FIT file with an unset clock is: no date, real durations.
    result = parse_file(gpx(120, 5, year=1980), client_id="c")
    assert (result.outcome, result.reason_code) == ("ingested", "clock_not_set")
    assert result.activities is not None
    assert result.samples is not None
    row = result.activities.row(0, named=True)
    assert row["start_utc"] is None
    assert row["duration_s"] == 4.0  # 07:05:00 to 07:05:04, by hand
    assert "clock_not_set" in row["quality_flags"]
    assert result.samples["timestamp"].null_count() == 5
    assert result.samples["elapsed_s"].to_list() == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_a_workout_spanning_more_than_seven_days_is_kept_without_its_duration() -> None:
    # A watch started, paused 8 days, then run with: 30 points a second apart, 30 more 8 days on
    # (sports-lib's 27-days-activity.fit, in small). Every sample is kept; the 8-day duration
    # (over the schema's 7) is the one impossible value, blanked and counted.
    later = T0 + dt.timedelta(days=8)
    first, second = tcx_activity("Running", T0, STEADY), tcx_activity("Running", later, STEADY)
    track = first.split("<Track>")[1].split("</Track>")[0]
    data = tcx(second.replace("<Track>", f"<Track>{track}"))
    result = parse_file(data, client_id="c")
    assert (result.outcome, result.reason_code) == ("ingested", "values_refused")
    assert result.reason_message is not None
    assert "duration 1" in result.reason_message
    assert result.activities is not None
    assert result.samples is not None
    assert result.samples.height == trackpoints_per_activity(data)[0] == 60
    row = result.activities.row(0, named=True)
    assert (row["duration_s"], row["values_refused"]) == (None, 1)
    assert "values_refused" in row["quality_flags"].split(",")
    assert (row["start_utc"], row["end_utc"]) == (T0, later + dt.timedelta(seconds=29))
    # at most the 58 one-second steps move; the 8-day gap never counts
    assert 0 < row["moving_time_s"] <= 58


def test_a_track_whose_points_share_one_1901_instant_is_skipped_not_refused() -> None:
    # gpxpy's Mojstrovka.gpx: every point at 1901-12-13T20:45:52 (the signed 32-bit epoch minimum),
    # one written with 3 fraction digits instead of 7. No time axis: skipped as an untimed track.
    data = gpx(140, 5, year=1901)
    times = [f"1901-03-02T07:05:0{i}Z" for i in range(5)]
    for i, old in enumerate(times):
        new = "1901-12-13T20:45:52.207Z" if i == 2 else "1901-12-13T20:45:52.2073430Z"
        data = data.replace(old.encode(), new.encode())
    assert data.count(b"1901-12-13T20:45:52.207") == 5
    result = parse_file(data, client_id="c")
    assert (result.outcome, result.reason_code) == ("skipped", "not_an_activity")
    assert result.reason_message is not None
    assert "same time" in result.reason_message
    assert (result.n_records, result.activities, result.samples) == (0, None, None)


def test_a_tcx_whose_trackpoints_share_one_instant_is_skipped() -> None:
    one_instant = tcx_activity("Running", T0, STEADY)
    for i in range(1, len(STEADY)):
        one_instant = one_instant.replace(
            (T0 + dt.timedelta(seconds=i)).isoformat(), T0.isoformat()
        )
    assert one_instant.count(T0.isoformat()) == len(STEADY) + 2  # the points, <Id> and StartTime
    result = parse_file(tcx(one_instant), client_id="c")
    assert (result.outcome, result.reason_code) == ("skipped", "not_an_activity")
    # beside a timed activity, it is skipped alone
    kept = parse_file(tcx(one_instant, tcx_activity("Running", T0, STEADY)), client_id="c")
    assert (kept.outcome, kept.n_records) == ("ingested", 30)


def test_unvalidated_activity_columns_without_any_value_have_the_tables_types() -> None:
    """A FIT swim without heart rate, parsed as a run parses it (validation later, per batch): its
    all-null columns were typed Null, and a copy's heart rate merged into it could not be held
    (the run failed). Every column has the ``activities`` model's type from the start."""
    result = parse_file(fit_swim(), client_id="c", validate=False)
    assert result.activities is not None
    assert result.activities["hr_mean_bpm"].null_count() == 1  # the case: no value at all
    assert result.activities.schema == pl.Schema(polars_schema(Activities))
