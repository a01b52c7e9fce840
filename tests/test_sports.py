"""Sport: the file's own evidence first, then the creator application and the data (speed *and*
cadence); a guess is flagged ``sport_inferred``, disagreeing evidence gives ``unknown``; weekly
adherence never counts ``unknown`` and counts inferred sports as documented.

Files are built with the project's GPX writer at speeds and cadences chosen here; the expected
sports follow from the published ranges (running 140-210 steps/min or 70-105 per leg, cycling
50-120 rpm) and from what the file says, never from the code under test.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from ingest.exports.model import SourceMeta, apply_source_meta
from ingest.parse import parse_file
from synthetic.gpx_writer import TrackPoint, encode_gpx
from transform.adherence import AdherenceConfig, build_weekly_adherence

T0 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
METRES_PER_DEGREE = 6_371_008.8 * math.pi / 180


def track(
    kmh: float,
    cadence: int | None,
    *,
    activity_type: str | None = None,
    creator: str = "mindmiles synthetic",
    seconds: int = 660,
    start: dt.datetime = T0,
) -> bytes:
    """A GPX track heading north at a steady ``kmh``, one point a second."""
    step = kmh / 3.6 / METRES_PER_DEGREE
    points = [
        TrackPoint(
            time=start + dt.timedelta(seconds=i),
            lat=51.0 + i * step,
            lon=-0.1,
            hr=130,
            cad=cadence,
        )
        for i in range(seconds)
    ]
    return encode_gpx(points, activity_type=activity_type, creator=creator)


def sport_of(data: bytes) -> tuple[str, bool]:
    result = parse_file(data, client_id="c")
    assert result.outcome == "ingested", result.reason_message
    assert result.activities is not None
    row = result.activities.row(0, named=True)
    return row["sport"], "sport_inferred" in row["quality_flags"].split(",")


@pytest.mark.parametrize(
    ("kmh", "cadence", "creator", "expected"),
    [
        # The ride: no type, 20 km/h, cadence 85: was "running" (speed band up to 23.4).
        (20.0, 85, "mindmiles synthetic", "cycling"),
        (20.0, None, "mindmiles synthetic", "cycling"),
        (10.0, 85, "mindmiles synthetic", "running"),  # per-leg running cadence
        (10.0, 170, "mindmiles synthetic", "running"),  # steps per minute
        (4.5, 110, "mindmiles synthetic", "walking"),
        (25.0, 170, "mindmiles synthetic", "unknown"),  # cycling speed, running cadence
        (12.0, None, "Garmin Edge 530", "cycling"),  # a bike computer recorded it
        (12.0, 170, "Garmin Edge 530", "unknown"),  # bike computer, running cadence
    ],
)
def test_a_track_without_type_gets_its_sport_from_speed_and_cadence(
    kmh: float, cadence: int | None, creator: str, expected: str
) -> None:
    assert sport_of(track(kmh, cadence, creator=creator)) == (expected, True)


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("Ride", "cycling"),  # Strava
        ("1", "cycling"),  # Strava's numeric code
        ("9", "running"),
        ("road_biking", "cycling"),  # Garmin Connect
        ("Mountain Biking", "cycling"),
        ("TrailRun", "running"),
        ("touringbicycle", "cycling"),  # Komoot
        ("jogging", "running"),
        ("running", "running"),
    ],
)
def test_the_files_own_type_wins_over_the_data(spelling: str, expected: str) -> None:
    # Every track runs at 10 km/h with a running cadence: the named type decides regardless.
    assert sport_of(track(10.0, 170, activity_type=spelling)) == (expected, False)


def _week(activities: list[tuple[str, str]], config: AdherenceConfig) -> tuple[int, float]:
    frame = pl.DataFrame(
        {
            "client_id": ["c"] * len(activities),
            "sport": [sport for sport, _ in activities],
            "quality_flags": [flags for _, flags in activities],
            "local_date": [dt.date(2026, 3, 3)] * len(activities),
            "moving_time_s": [1200.0] * len(activities),
            "duration_s": [1200.0] * len(activities),
        }
    )
    journal = pl.DataFrame(
        {"client_id": ["c"], "local_date": [dt.date(2026, 3, 3)]},
    )
    plans = pl.DataFrame(
        {
            "client_id": ["c"],
            "week_start": [dt.date(2026, 3, 2)],
            "sessions": [3],
            "minutes": [60.0],
            "session_type": ["easy"],
        }
    )
    row = build_weekly_adherence(frame, journal, plans, config=config).row(0, named=True)
    return row["completed_sessions"], row["completed_minutes"]


def test_weekly_adherence_counts_inferred_runs_and_never_unknown() -> None:
    week = [
        ("running", ""),  # named by the file
        ("running", "sport_inferred"),
        ("unknown", "sport_inferred"),
        ("cycling", "sport_inferred"),
    ]
    assert _week(week, AdherenceConfig()) == (2, 40.0)
    assert _week(week, AdherenceConfig(count_inferred_sports=False)) == (1, 20.0)


def test_a_ride_without_type_no_longer_counts_as_a_run_in_adherence() -> None:
    # The symptom end to end: two rides at 19-22 km/h without a type became runs.
    rides = [
        parse_file(track(kmh, 85, start=T0 + dt.timedelta(hours=h)), client_id="c")
        for h, kmh in ((0, 19.0), (3, 22.0))
    ]
    run = parse_file(track(10.0, 85, start=T0 + dt.timedelta(hours=6)), client_id="c")
    frames = [r.activities for r in (*rides, run) if r.activities is not None]
    activities = pl.concat(frames).with_columns(local_date=pl.lit(dt.date(2026, 3, 2)))
    assert activities["sport"].to_list() == ["cycling", "cycling", "running"]
    journal = pl.DataFrame({"client_id": ["c"], "local_date": [dt.date(2026, 3, 2)]})
    plans = pl.DataFrame(
        {
            "client_id": ["c"],
            "week_start": [dt.date(2026, 3, 2)],
            "sessions": [3],
            "minutes": [33.0],
            "session_type": ["easy"],
        }
    )
    row = build_weekly_adherence(activities, journal, plans).row(0, named=True)
    assert row["completed_sessions"] == 1
    # 660 points a second apart: 659 gaps, less the first (its point has no speed yet) and the
    # last: the smoothed track's end is pulled in, and its last two points lie within the 3 m a
    # GPS step needs to count (ingest/geo.py), so they read as standing.
    assert row["completed_minutes"] == pytest.approx(657 / 60)


def test_an_exports_own_type_replaces_an_inferred_sport() -> None:
    # A Strava export's activities.csv names the type the GPX itself lacks: it is the file's own
    # evidence, so it replaces a guess (and an unknown) but never a sport the file named.
    frame = pl.DataFrame(
        {
            "sport": ["running", "unknown", "running"],
            "quality_flags": ["sport_inferred", "sport_inferred", ""],
            "source_kind": ["file"] * 3,
            "source_type": [None] * 3,
            "perceived_exertion": [None] * 3,
        },
        schema_overrides={"source_type": pl.String, "perceived_exertion": pl.Float64},
    )
    stamped = apply_source_meta(frame, SourceMeta("strava", source_type="Ride"))
    assert stamped["sport"].to_list() == ["cycling", "cycling", "running"]
    assert stamped["quality_flags"].to_list() == ["", "", ""]
