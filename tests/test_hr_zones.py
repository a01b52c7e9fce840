"""Time in heart-rate zones per activity, and the weekly share of running time in easy zones.

Zones are %HRmax bands with lower edges 50/60/70/80/90 % (``edwards_zone_floor_fractions``),
each including its lower edge; below 50 % is in no zone, 100 % and over is zone 5. With the
roster HRmax of 200 used here the edges are 100, 120, 140, 160 and 180 bpm. Every expected value
is counted by hand in the comments, never computed by the code under test.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaError
from polars.testing import assert_frame_equal

from schemas.activity_metrics import HR_ZONE_COLUMNS, ActivityMetrics
from schemas.errors import ConfigError
from schemas.weekly_adherence import WeeklyAdherence
from transform.adherence import AdherenceConfig, build_weekly_adherence
from transform.config import Thresholds
from transform.load_config import LoadConfig
from transform.trimp import activity_metrics, hr_load

MONDAY = date(2026, 3, 2)
"""Monday of ISO week 10 of 2026: every activity below falls in this week."""


def _samples(
    hr: list[int | None], *, elapsed: list[float] | None = None, activity: str = "a1"
) -> pl.DataFrame:
    """Samples of client ``c1``, 1 s apart unless ``elapsed`` says otherwise."""
    n = len(hr)
    return pl.DataFrame(
        {
            "activity_id": [activity] * n,
            "client_id": ["c1"] * n,
            "timestamp": [None] * n,
            "elapsed_s": elapsed if elapsed is not None else [float(i) for i in range(n)],
            "hr_bpm": hr,
        },
        schema={
            "activity_id": pl.String,
            "client_id": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "elapsed_s": pl.Float64,
            "hr_bpm": pl.Int16,
        },
    )


def _roster(*, client: str = "c1") -> pl.DataFrame:
    return pl.DataFrame(
        {"client_id": [client], "sex": ["f"], "hr_rest": [60.0], "hr_max": [200.0]},
        schema_overrides={"hr_rest": pl.Float64},
    ).with_columns(lthr=pl.lit(None, dtype=pl.Float64))


def _zone_seconds(frame: pl.DataFrame) -> list[float | None]:
    return list(frame.select(HR_ZONE_COLUMNS).row(0))


# --- per activity -------------------------------------------------------------------


def test_seconds_per_zone_at_known_heart_rates() -> None:
    # 1 s apart, HRmax 200; each sample weighs the 1 s to the next, the last sample 0 s.
    #   5 x  90 bpm = 45 %            -> no zone       5 s (valid HR, in hr_time_s)
    #   1 x null, 1 x 250 bpm         -> invalid HR    2 s (neither hr_time_s nor a zone)
    #  10 x 100 bpm = 50 % exactly    -> zone 1       10 s (lower edge included)
    #  20 x 119 bpm = 59.5 %          -> zone 1       20 s      zone 1 = 30 s
    #  30 x 120 bpm = 60 % exactly    -> zone 2       30 s
    #  40 x 150 bpm = 75 %            -> zone 3       40 s
    #  50 x 170 bpm = 85 %            -> zone 4       50 s
    #   6 x 190 bpm = 95 %            -> zone 5        6 s
    #   7 x 210 bpm = 105 % (>= 100)  -> zone 5        7 s      zone 5 = 13 s
    #   1 x 210 bpm, the last sample  ->               0 s
    # 171 samples -> 170 s sampled; hr_time = 170 - 2 invalid = 168 = 163 in zones + 5 below.
    hr: list[int | None] = [90, 90, 90, 90, 90, None, 250]
    for bpm, count in ((100, 10), (119, 20), (120, 30), (150, 40), (170, 50), (190, 6), (210, 8)):
        hr += [bpm] * count
    out = hr_load(_samples(hr), _roster())
    assert out["sampled_time_s"][0] == 170.0
    assert out["hr_time_s"][0] == 168.0
    assert _zone_seconds(out) == [30.0, 30.0, 40.0, 50.0, 13.0]
    # Edwards TRIMP weighs the same minutes 1..5: (30*1 + 30*2 + 40*3 + 50*4 + 13*5) / 60
    # = (30 + 60 + 120 + 200 + 65) / 60 = 475 / 60 = 7.916667
    assert out["trimp_edwards"][0] == pytest.approx(7.916667, abs=1e-6)


def test_an_edge_heart_rate_is_in_the_upper_zone_with_any_number_of_clients() -> None:
    # Regression: the quotient HR / HRmax came out as 0.7999999999999999 for 152 / 190 when the
    # client was computed alone (Polars divides by a one-value column through its reciprocal),
    # so exactly 80 % fell in zone 3 when a run rebuilt one client and in zone 4 when it
    # rebuilt several. 61 samples 1 s apart at 152 bpm = 80 % of 190: 60 s in zone 4.
    # With an LTHR each, so that hrTSS (which divided by the one-value reference TRIMP) is not
    # null and is compared too.
    roster = _roster().with_columns(hr_max=pl.lit(190.0), lthr=pl.lit(171.0))
    other = _roster(client="c2").with_columns(hr_max=pl.lit(185.0), lthr=pl.lit(166.0))
    # Two more runs whose values depend on the operation in the last bit: at 151 bpm,
    # (151 - 60) / 130 and (151 - 60) * (1 / 130) differ (the reserve fraction, Banister TRIMP);
    # at 148 bpm for 60 s, TRIMP / reference TRIMP and TRIMP * (1 / reference) do (hrTSS).
    mine = pl.concat(
        [
            _samples([152] * 61),
            _samples([151] * 31, activity="a2"),
            _samples([148] * 61, activity="a3"),
        ]
    )
    theirs = _samples([150] * 11, activity="b1").with_columns(client_id=pl.lit("c2"))
    alone = hr_load(mine, roster)
    together = hr_load(pl.concat([mine, theirs]), pl.concat([roster, other])).filter(
        pl.col("client_id") == "c1"
    )
    assert _zone_seconds(alone) == [0.0, 0.0, 0.0, 60.0, 0.0]
    assert alone["hrtss"].is_not_null().all()
    assert_frame_equal(alone, together, check_exact=True)  # TRIMP and hrTSS to the last bit


def test_a_pause_counts_at_most_the_gap_cap() -> None:
    # HR 130 = 65 % of 200 -> zone 2 throughout. Samples at 0, 1, 2, 100, 101 s:
    # 1 + 1 + (98 capped at max_sample_gap_s 10) + 1 + 0 = 13 s in zone 2.
    samples = _samples([130] * 5, elapsed=[0.0, 1.0, 2.0, 100.0, 101.0])
    assert _zone_seconds(hr_load(samples, _roster())) == [0.0, 13.0, 0.0, 0.0, 0.0]
    # A clinic's tighter cap of 5 s: 1 + 1 + 5 + 1 + 0 = 8 s.
    tight = hr_load(samples, _roster(), config=LoadConfig(max_sample_gap_s=5.0))
    assert _zone_seconds(tight) == [0.0, 8.0, 0.0, 0.0, 0.0]


def test_zone_edges_come_from_the_config() -> None:
    # Floors moved to 55/65/75/85/95 %: HR 120 = 60 % is now zone 1 (55-65 %), 10 s of it.
    config = LoadConfig(edwards_zone_floor_fractions=(0.55, 0.65, 0.75, 0.85, 0.95))
    out = hr_load(_samples([120] * 11), _roster(), config=config)
    assert _zone_seconds(out) == [10.0, 0.0, 0.0, 0.0, 0.0]


def test_no_valid_heart_rate_gives_null_zones() -> None:
    # null, 0 and 255 bpm are all outside 30-240 bpm: no valid HR time at all.
    out = hr_load(_samples([None, 0, None, 255]), _roster())
    assert _zone_seconds(out) == [None] * 5
    assert out["hr_time_s"][0] == 0.0


def test_client_without_roster_hrmax_gives_null_zones() -> None:
    out = hr_load(_samples([150] * 10), _roster(client="someone_else"))
    assert _zone_seconds(out) == [None] * 5


def test_all_below_zone_one_gives_zeros_not_nulls() -> None:
    # HR 80 = 40 % of 200: 9 s of valid HR, none of it in a zone.
    out = hr_load(_samples([80] * 10), _roster())
    assert out["hr_time_s"][0] == 9.0
    assert _zone_seconds(out) == [0.0] * 5


def test_activity_metrics_carries_the_zones_and_validates() -> None:
    activities = pl.DataFrame(
        {
            "activity_id": ["a1", "a2"],
            "client_id": ["c1", "c1"],
            "sport": ["running", "running"],
            "local_date": [MONDAY, MONDAY],
            "duration_s": [600.0, 600.0],
            "moving_time_s": [600.0, 600.0],
            "distance_m": [2000.0, 2000.0],
        }
    )
    roster = _roster()
    # a1: 61 samples at 170 bpm = 85 % -> 60 s in zone 4; a2 has no samples at all.
    out = activity_metrics(activities, roster, hr_loads=hr_load(_samples([170] * 61), roster))
    rows = {r["activity_id"]: r for r in ActivityMetrics.validate(out).iter_rows(named=True)}
    assert [rows["a1"][c] for c in HR_ZONE_COLUMNS] == [0.0, 0.0, 0.0, 60.0, 0.0]
    assert [rows["a2"][c] for c in HR_ZONE_COLUMNS] == [None] * 5


def test_schema_refuses_zones_longer_than_the_hr_time() -> None:
    # 61 s in zones but only 60 s of valid HR: impossible, the model's check must say so.
    roster = _roster()
    activities = pl.DataFrame(
        {
            "activity_id": ["a1"],
            "client_id": ["c1"],
            "sport": ["running"],
            "local_date": [MONDAY],
            "duration_s": [60.0],
            "moving_time_s": [60.0],
            "distance_m": [200.0],
        }
    )
    out = activity_metrics(activities, roster, hr_loads=hr_load(_samples([170] * 61), roster))
    broken = out.with_columns(hr_zone1_s=pl.lit(1.0))
    with pytest.raises(SchemaError, match="hr_zones_within_hr_time"):
        ActivityMetrics.validate(broken)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(min_value=0, max_value=255)), max_size=60))
def test_property_zones_never_exceed_hr_time(hr: list[int | None]) -> None:
    out = hr_load(_samples(hr), _roster())
    for row in out.iter_rows(named=True):
        zones = [row[c] for c in HR_ZONE_COLUMNS]
        if row["hr_time_s"] > 0:
            assert all(z is not None and z >= 0 for z in zones)
            assert sum(z for z in zones if z is not None) <= row["hr_time_s"] + 1e-9
        else:
            assert zones == [None] * 5


# --- per week -----------------------------------------------------------------------

ACTIVITY_SCHEMA: dict[str, Any] = {
    "activity_id": pl.String,
    "client_id": pl.String,
    "sport": pl.String,
    "local_date": pl.Date,
    "moving_time_s": pl.Float64,
    "duration_s": pl.Float64,
}


def _acts(rows: list[tuple[str, str, date, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(a, "c1", sport, day, moving, moving) for a, sport, day, moving in rows],
        schema=ACTIVITY_SCHEMA,
        orient="row",
    )


def _zones(
    rows: list[tuple[str, float | None, float | None, float | None, float | None, float | None]],
) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"activity_id": pl.String, **dict.fromkeys(HR_ZONE_COLUMNS, pl.Float64)},
        orient="row",
    )


def _plan(session_type: str = "easy") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "client_id": ["c1"],
            "week_start": [MONDAY],
            "sessions": [2],
            "minutes": [60.0],
            "session_type": [session_type],
        }
    )


NO_JOURNAL = pl.DataFrame(schema={"client_id": pl.String, "local_date": pl.Date})


def _easy_share(
    activities: pl.DataFrame,
    zones: pl.DataFrame | None,
    *,
    plan: pl.DataFrame | None = None,
    config: AdherenceConfig | None = None,
) -> float | None:
    out = build_weekly_adherence(
        activities,
        NO_JOURNAL,
        _plan() if plan is None else plan,
        zones=zones,
        config=config or AdherenceConfig(),
    )
    WeeklyAdherence.validate(out)
    assert out.height == 1
    share: float | None = out["easy_share"][0]
    return share


def test_one_easy_and_one_hard_run_of_equal_length_give_half() -> None:
    # easy: 1800 s all in zone 2; hard: 1800 s all in zone 4. Easy = 1800 / 3600 = 0.5.
    activities = _acts(
        [("easy", "running", MONDAY, 1800.0), ("hard", "running", MONDAY + timedelta(2), 1800.0)]
    )
    zones = _zones([("easy", 0, 1800, 0, 0, 0), ("hard", 0, 0, 0, 1800, 0)])
    assert _easy_share(activities, zones) == 0.5


def test_easy_share_from_samples_through_hr_load() -> None:
    # The same week from raw samples, HRmax 200, 1 s apart: 601 samples = 600 s each.
    # easy: 130 bpm = 65 % -> zone 2; hard: 170 bpm = 85 % -> zone 4. 600 / 1200 = 0.5.
    samples = pl.concat(
        [_samples([130] * 601, activity="easy"), _samples([170] * 601, activity="hard")]
    )
    activities = _acts(
        [("easy", "running", MONDAY, 600.0), ("hard", "running", MONDAY + timedelta(2), 600.0)]
    )
    roster = _roster()
    metrics = activity_metrics(
        activities.with_columns(distance_m=pl.lit(2000.0)),
        roster,
        hr_loads=hr_load(samples, roster),
    )
    assert _easy_share(activities, metrics) == 0.5


def test_counting_rules_for_the_easy_share() -> None:
    # Counted runs with zone time: r1 (z1 100, z2 200, z3 100) and r2 (z4 200, z5 200).
    # r3: counted run without HR (zones null) -> adds nothing to either part.
    # short: a 599 s run, under min_session_s 600 -> not counted, its zone-2 time is left out.
    # walk: walking in an easy week is not a session -> left out.
    # Easy = (100 + 200) / (100 + 200 + 100 + 200 + 200) = 300 / 800 = 0.375.
    activities = _acts(
        [
            ("r1", "running", MONDAY, 1200.0),
            ("r2", "running", MONDAY + timedelta(1), 1200.0),
            ("r3", "running", MONDAY + timedelta(2), 1200.0),
            ("short", "running", MONDAY + timedelta(3), 599.0),
            ("walk", "walking", MONDAY + timedelta(4), 1200.0),
        ]
    )
    zones = _zones(
        [
            ("r1", 100, 200, 100, 0, 0),
            ("r2", 0, 0, 0, 200, 200),
            ("r3", None, None, None, None, None),
            ("short", 0, 599, 0, 0, 0),
            ("walk", 0, 1200, 0, 0, 0),
        ]
    )
    assert _easy_share(activities, zones) == 0.375


def test_walks_counted_in_a_run_walk_week_are_not_running_time() -> None:
    # The walk counts as a session in a run_walk week, but easy_share is about runs:
    # only r1 (z2 300, z4 100) -> 300 / 400 = 0.75, not (300 + 1200) / 1600.
    activities = _acts(
        [("r1", "running", MONDAY, 1200.0), ("walk", "walking", MONDAY + timedelta(1), 1200.0)]
    )
    zones = _zones([("r1", 0, 300, 0, 100, 0), ("walk", 0, 1200, 0, 0, 0)])
    plan = _plan("run_walk")
    out = build_weekly_adherence(activities, NO_JOURNAL, plan, zones=zones)
    assert out["completed_sessions"][0] == 2
    assert _easy_share(activities, zones, plan=plan) == 0.75


def test_easy_share_is_null_without_hr_time_in_zones() -> None:
    activities = _acts([("r1", "running", MONDAY, 1200.0), ("r2", "running", MONDAY, 1200.0)])
    # r1 has no HR at all, r2 only HR below 50 % HRmax (zeros in every zone): 0 / 0 -> null.
    no_hr = _zones([("r1", None, None, None, None, None), ("r2", 0, 0, 0, 0, 0)])
    assert _easy_share(activities, no_hr) is None
    # Zone rows missing for the activities, and no zone frame at all: null too.
    assert _easy_share(activities, _zones([])) is None
    assert _easy_share(activities, None) is None


def test_week_without_counted_runs_has_null_easy_share() -> None:
    # Only a 300 s run (too short): the planned week is red and has no easy share.
    activities = _acts([("r1", "running", MONDAY, 300.0)])
    out = build_weekly_adherence(
        activities, NO_JOURNAL, _plan(), zones=_zones([("r1", 0, 300, 0, 0, 0)])
    )
    assert out.select("completed_sessions", "band", "easy_share").row(0) == (0, "red", None)


def test_easy_zones_threshold_is_configurable() -> None:
    # Zones 1-3 easy: r1 (z2 200, z3 200, z4 100) -> 400 / 500 = 0.8 (default 1-2: 200/500 = 0.4).
    activities = _acts([("r1", "running", MONDAY, 1200.0)])
    zones = _zones([("r1", 0, 200, 200, 100, 0)])
    assert _easy_share(activities, zones) == 0.4
    assert _easy_share(activities, zones, config=AdherenceConfig(easy_zones=3)) == 0.8
    from_file = Thresholds.from_mapping({"adherence": {"easy_zones": 3}}).adherence
    assert _easy_share(activities, zones, config=from_file) == 0.8


@pytest.mark.parametrize("easy_zones", [0, 6])
def test_easy_zones_outside_the_five_zones_is_refused(easy_zones: int) -> None:
    with pytest.raises(ValueError, match="easy_zones"):
        AdherenceConfig(easy_zones=easy_zones)
    with pytest.raises(ConfigError, match="easy_zones"):
        Thresholds.from_mapping({"adherence": {"easy_zones": easy_zones}})


def test_duplicate_zone_rows_are_refused_not_double_counted() -> None:
    activities = _acts([("r1", "running", MONDAY, 1200.0)])
    twice = _zones([("r1", 0, 600, 0, 0, 0), ("r1", 0, 600, 0, 0, 0)])
    with pytest.raises(pl.exceptions.ComputeError, match="m:1"):
        build_weekly_adherence(activities, NO_JOURNAL, _plan(), zones=twice)
