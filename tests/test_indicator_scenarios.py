"""Whole scenarios a therapist would recognise, through daily_load and indicators.

Each client runs Monday, Wednesday and Friday (load 40, 4 km) unless the scenario says
otherwise, and journals mood every day. The expected days are worked out by hand in the
comments from the rules in ``transform/indicators.py`` and ``transform/engagement.py`` (and the
defaults of ``LoadConfig``), not from the code.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from schemas.daily_load import DailyLoad
from schemas.indicators import Indicators
from transform.daily_load import daily_load
from transform.indicators import indicators
from transform.load_config import LoadConfig

MONDAY = dt.date(2024, 3, 4)  # day 1 of every scenario
LOAD_FLAGS = {
    "load_spike",
    "high_monotony",
    "distance_jump",
    "no_rest_day",
    "low_tsb",
    "overload_low_wellbeing",
}


def day(n: int) -> dt.date:
    """Day ``n`` (1-based) of the scenario."""
    return MONDAY + dt.timedelta(days=n - 1)


def runs(days: list[int], *, load: float = 40.0, km: float | list[float] = 4.0) -> pl.DataFrame:
    kms = km if isinstance(km, list) else [km] * len(days)
    return pl.DataFrame(
        {
            "activity_id": [f"a{n}" for n in days],
            "client_id": "c1",
            "local_date": [day(n) for n in days],
            "sport": "running",
            "load": load,
            "distance_m": [k * 1000.0 for k in kms],
            "steady_run": False,
            "decoupling_pct": None,
        },
        schema_overrides={"decoupling_pct": pl.Float64, "local_date": pl.Date},
    )


def mon_wed_fri(first_week: int, last_week: int) -> list[int]:
    return [7 * (w - 1) + d for w in range(first_week, last_week + 1) for d in (1, 3, 5)]


def journal(moods: dict[int, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "client_id": "c1",
            "local_date": [day(n) for n in moods],
            "mood": list(moods.values()),
            "mood_scale_max": 10,
            "sleep_hours": None,
        },
        schema_overrides={"mood_scale_max": pl.Int8, "sleep_hours": pl.Float64},
    )


def plan(weeks: int, *, done: dict[int, float]) -> pl.DataFrame:
    """Weekly adherence rows: 3 sessions, 90 planned minutes; ``done`` minutes per week."""
    minutes = [done.get(w, 0.0) for w in range(1, weeks + 1)]
    return pl.DataFrame(
        {
            "client_id": "c1",
            "week_start": [day(7 * (w - 1) + 1) for w in range(1, weeks + 1)],
            "planned_sessions": 3,
            "planned_minutes": 90.0,
            "completed_minutes": minutes,
            "adherence_ratio": [m / 90.0 for m in minutes],
        }
    )


def judge(
    acts: pl.DataFrame,
    moods: dict[int, float],
    end: int,
    weekly: pl.DataFrame | None = None,
    config: LoadConfig | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    config = config or LoadConfig()
    days = DailyLoad.validate(daily_load(acts, journal(moods), end_date=day(end), config=config))
    out = Indicators.validate(indicators(days, acts, weekly_adherence=weekly, config=config))
    return days, out.filter(pl.col("indicator") != "insufficient_data")


def test_dropout_after_six_good_weeks_raises_disengagement_once() -> None:
    # Weeks 1-6: runs Mon/Wed/Fri; the last run is Friday of week 6 = day 40 (12 April).
    # The client keeps journalling to day 70, the plan runs 10 weeks.
    # No run for 10 days first holds on day 50 (22 April, a planned week): raised from there
    # to day 70, one episode of 21 days, ongoing; its peak is day 70, 30 days without a run.
    acts = runs(mon_wed_fri(1, 6))
    weekly = plan(10, done={w: 90.0 for w in range(1, 7)})
    _, raised = judge(acts, dict.fromkeys(range(1, 71), 7.0), 70, weekly)
    episodes = raised.filter(pl.col("indicator") == "disengagement")
    assert episodes.select("local_date", "until_date", "days", "ongoing").rows() == [
        (day(50), day(70), 21, True)
    ]
    assert episodes["value"][0] == 30.0
    assert json.loads(episodes["params_json"][0])["last_run"] == "2024-04-12"
    assert "last run on 2024-04-12" in episodes["explanation"][0]
    assert "not a diagnosis" in episodes["explanation"][0]


def test_two_weeks_under_half_the_plan_raise_disengagement_until_the_next_run() -> None:
    # Weeks 1-4 on plan; weeks 5 and 6 one 20-minute run each (Monday: 20/90 = 22 % < 50 %);
    # week 7: no run Monday to Wednesday (days 43-45), then a run on Thursday (day 46).
    # The rule holds on the days of week 7 before that run: days 43-45 (10 days without a run
    # are never reached: the last run before was day 36). One episode, value the better week
    # (22.2 %).
    acts = runs([*mon_wed_fri(1, 4), 29, 36, 46])
    weekly = plan(8, done={1: 90.0, 2: 90.0, 3: 90.0, 4: 90.0, 5: 20.0, 6: 20.0, 7: 30.0})
    _, raised = judge(acts, dict.fromkeys(range(1, 50), 7.0), 49, weekly)
    episodes = raised.filter(pl.col("indicator") == "disengagement")
    assert episodes.select("local_date", "until_date", "days").rows() == [(day(43), day(45), 3)]
    assert episodes["value"][0] == pytest.approx(100 * 20 / 90)


def test_mood_fall_with_normal_training_raises_low_mood_and_no_load_flag() -> None:
    # Eight steady weeks of running; mood 7 on days 1-35, then 3 on days 36-56.
    # 7-day mean vs threshold max(baseline - 1 SD, 4) (baseline = the 28 days up to the day):
    #   day 37: mean7 = (5*7 + 2*3)/7 = 5.857; baseline 188/28 = 6.714, SD sqrt(29.714/27)
    #           = 1.049 -> 5.665: not low.
    #   day 38: mean7 = 37/7 = 5.286; baseline 184/28 = 6.571, SD sqrt(42.857/27) = 1.260
    #           -> 5.311: low. Days 39-41 stay under (5.003, 4.726, then means under 4), and
    #           from day 42 the mean is 3 <= 4.
    # Low from day 38, so the 10th day in a row is day 47: raised days 47-56, one episode.
    acts = runs(mon_wed_fri(1, 8))
    moods = {n: (7.0 if n <= 35 else 3.0) for n in range(1, 57)}
    _, raised = judge(acts, moods, 56)
    low = raised.filter(pl.col("indicator") == "sustained_low_mood")
    assert low.select("local_date", "until_date", "days", "ongoing").rows() == [
        (day(47), day(56), 10, True)
    ]
    assert low["value"][0] == pytest.approx(3.0)
    assert not set(raised["indicator"]) & LOAD_FLAGS


def test_return_after_a_three_week_break_is_not_a_spike() -> None:
    # Six weeks on plan (12 km a week), 21 days without activity (weeks 7-9), then from
    # day 64: week 10 three runs of 4 km (12 km), week 11 three of 6 km (18 km, +50 % over a
    # 12 km base): a distance jump on day 75 (Friday, 18 > 15.6 km) and, against the faded
    # chronic load, a high ACWR - but both fall in the 14 days after the return (days 64-77).
    back = mon_wed_fri(10, 11)
    acts = pl.concat([runs(mon_wed_fri(1, 6)), runs(back, km=[4.0] * 3 + [6.0] * 3)])
    moods = dict.fromkeys(range(1, 78), 7.0)
    _, raised = judge(acts, moods, 77)
    assert not raised.filter(pl.col("indicator").is_in(["load_spike", "distance_jump"])).height
    # Without the hold and the chronic floor the same data raises both: they are what keeps
    # the return quiet.
    loose = LoadConfig(return_hold_days=0, acwr_min_chronic_load=0.0)
    _, unheld = judge(acts, moods, 77, config=loose)
    assert {"load_spike", "distance_jump"} <= set(unheld["indicator"])


def test_one_weekly_jump_is_one_distance_jump_episode() -> None:
    # Weeks 1-4: 12 km (3 x 4 km); week 5: 3 x 6 km = 18 km; weeks 6-7: 12 km again.
    # Week 5's running passes 12 * 1.3 = 15.6 km on Friday (day 33: 18 km): raised once, value
    # (18 / 12 - 1) * 100 = 50 %. Week 6 (12 vs 18) and week 7 (12 vs 12) raise nothing.
    km = [6.0 if 29 <= n <= 33 else 4.0 for n in mon_wed_fri(1, 7)]
    acts = runs(mon_wed_fri(1, 7), km=km)
    _, raised = judge(acts, dict.fromkeys(range(1, 50), 7.0), 49)
    jumps = raised.filter(pl.col("indicator") == "distance_jump")
    assert jumps.select("local_date", "days", "value").rows() == [(day(33), 1, 50.0)]


def test_fourteen_identical_days_cap_monotony_at_ten() -> None:
    # Days 1-21 Mon/Wed/Fri 40; days 22-35 a load of 50 every day. Day 27's week is one rest
    # day and six 50s: mean 300/7 = 42.857, SD sqrt((6 * 7.143^2 + 42.857^2) / 6) = 18.898,
    # monotony 2.268 > 2 (day 26, two rest days: 1.46, not raised). From day 28 the last 7
    # loads are identical (SD 0): monotony shown at the cap 10, the uncapped value undefined
    # (null), strain 350 * 10 = 3500. high_monotony days 27-35: one episode of 9 days, peak 10.
    acts = pl.concat([runs(mon_wed_fri(1, 3)), runs(list(range(22, 36)), load=50.0)])
    days, raised = judge(acts, dict.fromkeys(range(1, 36), 7.0), 35)
    last = days.row(-1, named=True)
    assert (last["monotony"], last["monotony_uncapped"], last["strain"]) == (10.0, None, 3500.0)
    mono = raised.filter(pl.col("indicator") == "high_monotony")
    assert mono.select("local_date", "until_date", "days", "value").rows() == [
        (day(27), day(35), 9, 10.0)
    ]


def test_journal_silence_after_regular_journalling() -> None:
    # Entries every day for days 1-30 (30 in the 28 days up to the last, >= 12), then none:
    # 7 days without an entry first on day 37; raised days 37-40, one episode.
    acts = runs(mon_wed_fri(1, 6))
    _, raised = judge(acts, dict.fromkeys(range(1, 31), 7.0), 40)
    silence = raised.filter(pl.col("indicator") == "journal_silence")
    assert silence.select("local_date", "until_date", "days").rows() == [(day(37), day(40), 4)]
