"""Daily load: calendar, ATL/CTL/TSB, ACWR (rolling and EWMA), monotony, distance, wellbeing.

Expected values are worked by hand from the published formulas; the arithmetic is in the
comments (e^x and square roots from a pocket calculator).
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.daily_load import DailyLoad
from transform.daily_load import daily_load
from transform.load_config import LoadConfig

D0 = dt.date(2024, 3, 1)


def _day(i: int) -> dt.date:
    """Day ``i`` of the series, 1-based (day 1 = 1 March 2024)."""
    return D0 + dt.timedelta(days=i - 1)


def _acts(
    loads: dict[int, float],
    *,
    distance_m: dict[int, float] | None = None,
    sport: str = "running",
    client: str = "c1",
) -> pl.DataFrame:
    days = sorted(loads)
    return pl.DataFrame(
        {
            "activity_id": [f"{client}-{i}" for i in days],
            "client_id": [client] * len(days),
            "local_date": [_day(i) for i in days],
            "sport": [sport] * len(days),
            "load": [float(loads[i]) for i in days],
            "distance_m": [(distance_m or {}).get(i, 0.0) for i in days],
        },
        schema_overrides={"local_date": pl.Date},
    )


def _journal(
    mood: dict[int, float] | None = None,
    sleep: dict[int, float] | None = None,
    *,
    scale: int = 10,
    client: str = "c1",
) -> pl.DataFrame:
    mood, sleep = mood or {}, sleep or {}
    days = sorted(set(mood) | set(sleep))
    return pl.DataFrame(
        {
            "client_id": [client] * len(days),
            "local_date": [_day(i) for i in days],
            "kind": ["daily"] * len(days),
            "mood": [mood.get(i) for i in days],
            "mood_scale_max": [scale] * len(days),
            "sleep_hours": [sleep.get(i) for i in days],
        },
        schema={
            "client_id": pl.Utf8,
            "local_date": pl.Date,
            "kind": pl.Utf8,
            "mood": pl.Float64,
            "mood_scale_max": pl.Int8,
            "sleep_hours": pl.Float64,
        },
    )


NO_JOURNAL = _journal()
FROM_ZERO = LoadConfig(ewma_seed_days=0)  # the textbook start, to check the formulas themselves


def _col(frame: pl.DataFrame, name: str) -> list[object]:
    return frame.sort("local_date")[name].to_list()


# --- calendar -----------------------------------------------------------------------


def test_calendar_rest_days_missing_days_and_range() -> None:
    # Runs on days 2 and 4, a journal entry on day 5, end_date day 6, a run on day 9 (after
    # end_date, ignored). Rows: days 2..6 (from the first day with data).
    acts = _acts({2: 50.0, 4: 30.0, 9: 99.0})
    out = daily_load(acts, _journal(mood={5: 7.0}), end_date=_day(6))
    assert _col(out, "local_date") == [_day(i) for i in range(2, 7)]
    assert _col(out, "load") == [50.0, 0.0, 30.0, 0.0, 0.0]
    assert _col(out, "has_data") == [True, False, True, True, False]
    assert _col(out, "history_days") == [1, 2, 3, 4, 5]
    assert DailyLoad.validate(out).height == 5


def test_end_date_before_first_day_gives_no_rows() -> None:
    out = daily_load(_acts({5: 10.0}), NO_JOURNAL, end_date=_day(4))
    assert out.height == 0


def test_journal_only_client_starts_at_first_entry() -> None:
    out = daily_load(_acts({1: 10.0}), _journal(mood={3: 5.0}, client="c2"), end_date=_day(4))
    c2 = out.filter(pl.col("client_id") == "c2")
    assert _col(c2, "local_date") == [_day(3), _day(4)]
    assert _col(c2, "load") == [0.0, 0.0]


def test_activity_without_local_date_is_left_out() -> None:
    acts = _acts({1: 10.0}).vstack(
        _acts({1: 500.0}).with_columns(
            local_date=pl.lit(None, dtype=pl.Date), activity_id=pl.lit("x")
        )
    )
    out = daily_load(acts, NO_JOURNAL, end_date=_day(1))
    assert _col(out, "load") == [10.0]


def test_two_activities_on_one_day_are_summed() -> None:
    acts = pl.concat([_acts({1: 10.0}), _acts({1: 15.0}, sport="cycling")])
    out = daily_load(acts, NO_JOURNAL, end_date=_day(1))
    assert _col(out, "load") == [25.0]
    assert _col(out, "n_activities") == [2]
    assert _col(out, "n_runs") == [1]


# --- ATL, CTL, TSB ------------------------------------------------------------------


def test_atl_ctl_tsb_impulse() -> None:
    # One load of 100 on day 1, rest after. Coefficients 1 - e^(-1/7) = 0.1331221,
    # 1 - e^(-1/42) = 0.0235283, from 0:
    # ATL1 = 100 * 0.1331221 = 13.3122;  ATL2 = 13.3122 * e^(-1/7) = 13.3122 * 0.8668779 = 11.5401
    # CTL1 = 100 * 0.0235283 = 2.35283;  CTL2 = 2.35283 * e^(-1/42) = 2.29747
    # TSB1 = CTL0 - ATL0 = 0;  TSB2 = 2.35283 - 13.3122 = -10.9594;
    # TSB3 = 2.29747 - 11.5401 = -9.2426
    out = daily_load(_acts({1: 100.0}), NO_JOURNAL, end_date=_day(3), config=FROM_ZERO)
    assert _col(out, "atl")[:2] == pytest.approx([13.3122, 11.5401], abs=1e-4)
    assert _col(out, "ctl")[:2] == pytest.approx([2.35283, 2.29747], abs=1e-5)
    assert _col(out, "tsb") == pytest.approx([0.0, -10.9594, -9.2426], abs=1e-4)


def test_atl_constant_load_converges() -> None:
    # Constant load L from 0: ATL_n = L * (1 - e^(-n/7)). After 28 days with L = 50:
    # 50 * (1 - e^-4) = 50 * (1 - 0.0183156) = 49.0842
    loads = _acts({i: 50.0 for i in range(1, 29)})
    out = daily_load(loads, NO_JOURNAL, end_date=_day(28), config=FROM_ZERO)
    assert _col(out, "atl")[-1] == pytest.approx(49.0842, abs=1e-4)


def test_seeded_ewma_starts_from_the_first_week() -> None:
    # Default seed: the mean daily load of the first 7 days (here only 3 exist: 100, 0, 0)
    # = 33.3333 on the day before day 1. ATL1 = 33.3333 + 0.1331221 * (100 - 33.3333)
    # = 33.3333 + 8.8748 = 42.2081; ATL2 = 42.2081 * 0.8668779 = 36.5893.
    out = daily_load(_acts({1: 100.0}), NO_JOURNAL, end_date=_day(3))
    assert _col(out, "atl")[:2] == pytest.approx([42.2081, 36.5893], abs=1e-4)
    # TSB1 = CTL0 - ATL0 = seed - seed = 0.
    assert _col(out, "tsb")[0] == 0.0
    # A constant load of 50 seeds at 50: ATL, CTL and both EWMAs are 50 from day 1 (from 0,
    # ATL would still be 49.08 on day 28 and the EWMA ratio 1.156 instead of 1).
    steady = daily_load(_acts({i: 50.0 for i in range(1, 29)}), NO_JOURNAL, end_date=_day(28))
    for name in ("atl", "ctl", "ewma_acute", "ewma_chronic"):
        assert _col(steady, name) == pytest.approx([50.0] * 28)
    assert _col(steady, "acwr_ewma")[-1] == pytest.approx(1.0)


# --- ACWR ---------------------------------------------------------------------------


def test_acwr_rolling_coupled_and_uncoupled() -> None:
    # Days 1-21 load 10, days 22-28 load 40. Day 28:
    # acute = 40; coupled chronic (days 1-28) = (21*10 + 7*40) / 28 = 490 / 28 = 17.5
    #   -> ACWR 40 / 17.5 = 2.2857 (Gabbett 2016);
    # uncoupled chronic (days 1-21) = 10 -> ACWR 4.0 (Windt & Gabbett 2019).
    loads = {i: 10.0 for i in range(1, 22)} | {i: 40.0 for i in range(22, 29)}
    out = daily_load(_acts(loads), NO_JOURNAL, end_date=_day(28))
    assert _col(out, "acwr_coupled")[-1] == pytest.approx(2.285714, abs=1e-6)
    assert _col(out, "acwr_uncoupled")[-1] == pytest.approx(4.0)
    assert _col(out, "load_chronic_uncoupled_mean")[-1] == pytest.approx(10.0)
    # First days: every ratio null (not inf) before 28 days of history.
    for name in ("acwr_coupled", "acwr_uncoupled", "acwr_ewma"):
        assert _col(out, name)[:27] == [None] * 27


def test_acwr_ewma_constant_load() -> None:
    # Williams et al. 2017: EWMA_t = lambda * load_t + (1 - lambda) * EWMA_{t-1}, lambda = 2/(N+1).
    # Constant load L from 0 for 28 days: EWMA = L * (1 - (1 - lambda)^28).
    # acute lambda 2/8 = 0.25: 1 - 0.75^28 = 1 - 0.000317 = 0.999683
    # chronic lambda 2/29: 1 - (27/29)^28 = 1 - 0.135218 = 0.864782
    # ACWR = 0.999683 / 0.864782 = 1.155997
    loads = _acts({i: 20.0 for i in range(1, 29)})
    out = daily_load(loads, NO_JOURNAL, end_date=_day(28), config=FROM_ZERO)
    assert _col(out, "ewma_acute")[-1] == pytest.approx(20.0 * 0.999683, abs=1e-4)
    assert _col(out, "acwr_ewma")[-1] == pytest.approx(1.155997, abs=1e-5)
    assert _col(out, "acwr_ewma")[-2] is None


def test_ratio_with_zero_chronic_is_null_not_inf() -> None:
    # A client who only journals for 28 days, then runs on day 29: the 21 days before the
    # acute week carried no load, so the uncoupled chronic mean is 0 -> ratio null.
    journal = _journal(mood={i: 6.0 for i in range(1, 29)})
    out = daily_load(_acts({29: 80.0}), journal, end_date=_day(29))
    last = out.sort("local_date").row(-1, named=True)
    assert last["acwr_uncoupled"] is None
    # The coupled one has chronic = 80/28 > 0 and acute 80/7: 80/7 / (80/28) = 4.0.
    assert last["acwr_coupled"] == pytest.approx(4.0)
    # A day with no load at all in the last 28 days: every ratio null.
    assert out.sort("local_date").row(-2, named=True)["acwr_coupled"] is None


# --- monotony and strain ------------------------------------------------------------


def test_monotony_and_strain() -> None:
    # Foster 1998: monotony = weekly mean / SD, strain = weekly load * monotony.
    # Loads 10, 20, ..., 70: mean 40; sample SD = sqrt((900+400+100+0+100+400+900) / 6)
    # = sqrt(466.667) = 21.6025; monotony = 40 / 21.6025 = 1.851640;
    # strain = 280 * 1.851640 = 518.4593
    loads = {i: 10.0 * i for i in range(1, 8)}
    out = daily_load(_acts(loads), NO_JOURNAL, end_date=_day(7))
    last = out.sort("local_date").row(-1, named=True)
    assert last["load_week_sum"] == pytest.approx(280.0)
    assert last["monotony"] == pytest.approx(1.851640, abs=1e-6)
    assert last["strain"] == pytest.approx(518.4593, abs=1e-4)
    assert last["monotony_sd_zero"] is False
    assert _col(out, "monotony")[:6] == [None] * 6


def test_zero_sd_week() -> None:
    # Seven identical loads of 50: SD 0 -> the uncapped monotony is undefined (null, flagged);
    # the shown monotony is the cap, 10 (Runalyze), and strain = 350 * 10 = 3500.
    out = daily_load(_acts({i: 50.0 for i in range(1, 8)}), NO_JOURNAL, end_date=_day(8))
    day7 = out.sort("local_date").row(6, named=True)
    assert day7["monotony_uncapped"] is None
    assert day7["monotony"] == 10.0
    assert day7["monotony_sd_zero"] is True
    assert day7["strain"] == pytest.approx(3500.0)
    # Day 8 is a rest day: loads 50 x 6 and 0, no longer identical.
    # mean 300/7 = 42.857; SD = sqrt((6 * 7.143^2 + 42.857^2) / 6) = sqrt(2142.86/6) = 18.898
    # monotony = 42.857 / 18.898 = 2.2678
    day8 = out.sort("local_date").row(7, named=True)
    assert day8["monotony_sd_zero"] is False
    assert day8["monotony"] == pytest.approx(2.2678, abs=1e-4)
    assert day8["monotony_uncapped"] == pytest.approx(2.2678, abs=1e-4)
    assert DailyLoad.validate(out).height == 8


def test_near_identical_days_are_capped_not_huge() -> None:
    # Loads 184, 186, 184, 186, 184, 186, 184: mean = 1294 / 7 = 184.857;
    # deviations -0.857 (x4), +1.143 (x3): squares 0.7347 * 4 + 1.3061 * 3 = 2.9388 + 3.9184
    # = 6.8571; sample SD = sqrt(6.8571 / 6) = 1.0690; monotony = 184.857 / 1.0690 = 172.92.
    loads = {i: (184.0 if i % 2 else 186.0) for i in range(1, 8)}
    last = daily_load(_acts(loads), NO_JOURNAL, end_date=_day(7)).row(-1, named=True)
    assert last["monotony_uncapped"] == pytest.approx(172.92, abs=0.01)
    assert last["monotony"] == 10.0
    assert last["strain"] == pytest.approx(1294.0 * 10.0)


# --- distance and streaks -----------------------------------------------------------


def test_weekly_distance_change() -> None:
    # Week 1 (days 1-7): 2 runs of 5 km = 10 km; week 2 (days 8-14): 2 runs of 7 km = 14 km.
    # change = (14 - 10) / 10 * 100 = +40 %.
    dist = {1: 5000.0, 4: 5000.0, 8: 7000.0, 11: 7000.0}
    out = daily_load(
        _acts(dict.fromkeys(dist, 30.0), distance_m=dist), NO_JOURNAL, end_date=_day(14)
    )
    last = out.sort("local_date").row(-1, named=True)
    assert last["run_distance_week_m"] == 14000.0
    assert last["run_distance_prev_week_m"] == 10000.0
    assert last["run_distance_change_pct"] == pytest.approx(40.0)
    # Day 7: no previous week observed yet -> null.
    assert _col(out, "run_distance_change_pct")[6] is None


def test_walks_do_not_count_as_running_distance() -> None:
    acts = _acts({1: 10.0}, distance_m={1: 3000.0}, sport="walking")
    out = daily_load(acts, NO_JOURNAL, end_date=_day(1))
    assert _col(out, "run_distance_m") == [0.0]
    assert _col(out, "consecutive_run_days") == [0]
    assert _col(out, "consecutive_active_days") == [1]


def test_streaks() -> None:
    # Runs on days 1, 2, 3, rest on 4, run on 5.
    out = daily_load(_acts({1: 10.0, 2: 10.0, 3: 10.0, 5: 10.0}), NO_JOURNAL, end_date=_day(5))
    assert _col(out, "consecutive_run_days") == [1, 2, 3, 0, 1]
    assert _col(out, "consecutive_active_days") == [1, 2, 3, 0, 1]


# --- wellbeing ----------------------------------------------------------------------


def test_mood_and_sleep_z_against_own_baseline() -> None:
    # Mood (scale 10) days 1-21 alternating 8 (odd days) and 6 (even days), days 22-28 all 4.
    # As fractions: 11 x 0.8, 10 x 0.6, 7 x 0.4. Day 28:
    # week mean = 0.4. baseline (days 1-28) mean = (8.8 + 6.0 + 2.8) / 28 = 17.6 / 28 = 0.628571
    # baseline sample SD: sum of squares = 11*0.64 + 10*0.36 + 7*0.16 = 7.04 + 3.6 + 1.12 = 11.76
    #   var = (11.76 - 17.6^2/28) / 27 = (11.76 - 11.062857) / 27 = 0.025820 -> SD 0.160686
    # z = (0.4 - 0.628571) / 0.160686 = -1.422469
    mood = {i: (8.0 if i % 2 else 6.0) for i in range(1, 22)} | {i: 4.0 for i in range(22, 29)}
    # Sleep: 8 h on days 1-21, 6 h on days 22-28: mean (168 + 42) / 28 = 7.5;
    # SS = 21*64 + 7*36 = 1596; var = (1596 - 210^2/28) / 27 = (1596 - 1575) / 27 = 0.777778
    # SD 0.881917; z = (6 - 7.5) / 0.881917 = -1.700840
    sleep = {i: 8.0 for i in range(1, 22)} | {i: 6.0 for i in range(22, 29)}
    out = daily_load(_acts({1: 10.0}), _journal(mood, sleep), end_date=_day(28))
    last = out.sort("local_date").row(-1, named=True)
    assert last["mood_week_mean_frac"] == pytest.approx(0.4)
    assert last["mood_baseline_mean_frac"] == pytest.approx(0.628571, abs=1e-6)
    assert last["mood_z"] == pytest.approx(-1.422469, abs=1e-5)
    assert last["sleep_z"] == pytest.approx(-1.700840, abs=1e-5)
    assert last["journal_entries_week"] == 7


def test_mood_scales_mix_and_short_baseline_is_null() -> None:
    # Day 1 mood 3/5 = 0.6, day 2 mood 8/10 = 0.8: mean 0.7. Only 2 days: no baseline (< 7).
    journal = pl.concat([_journal({1: 3.0}, scale=5), _journal({2: 8.0})])
    out = daily_load(_acts({1: 10.0}), journal, end_date=_day(2))
    last = out.sort("local_date").row(-1, named=True)
    assert last["mood_week_mean_frac"] == pytest.approx(0.7)
    assert last["mood_baseline_mean_frac"] is None
    assert last["mood_z"] is None


def test_constant_baseline_gives_null_z_not_inf() -> None:
    out = daily_load(_acts({1: 10.0}), _journal({i: 7.0 for i in range(1, 15)}), end_date=_day(14))
    assert _col(out, "mood_z")[-1] is None


# --- properties ---------------------------------------------------------------------

LOADS = st.lists(
    st.floats(min_value=0.0, max_value=5000.0, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=70,
)


def _series(loads: list[float]) -> pl.DataFrame:
    return daily_load(
        _acts({i + 1: v for i, v in enumerate(loads)}), NO_JOURNAL, end_date=_day(len(loads))
    ).sort("local_date")


@settings(max_examples=100, deadline=None)
@given(loads=LOADS, data=st.data())
def test_property_finite_non_negative_and_rest_never_raises_atl(
    loads: list[float], data: st.DataObject
) -> None:
    out = _series(loads)
    for name in ("atl", "ctl", "ewma_acute", "ewma_chronic", "acwr_ewma"):
        values = [v for v in out[name].to_list() if v is not None]
        assert all(math.isfinite(v) and v >= 0.0 for v in values), name
    if len(loads) >= 28:
        assert out["acwr_ewma"][-1] is None or math.isfinite(out["acwr_ewma"][-1])
    # Replace one day's load with 0 (a rest day): ATL never rises on any day.
    i = data.draw(st.integers(min_value=0, max_value=len(loads) - 1))
    rested = _series([*loads[:i], 0.0, *loads[i + 1 :]])
    for before, after in zip(out["atl"].to_list(), rested["atl"].to_list(), strict=True):
        assert after <= before


def test_baseline_that_became_constant_gives_null_z() -> None:
    # Regression: running sums left a ~1e-9 SD once varied days left the 28-day window,
    # giving a meaningless z. Days 1-10 mood 6/8 alternating, days 11-50 all 7: on day 50
    # the baseline (days 23-50) is constant -> SD 0 -> z null.
    mood = {i: (6.0 if i % 2 else 8.0) for i in range(1, 11)} | {i: 7.0 for i in range(11, 51)}
    out = daily_load(_acts({1: 10.0}), _journal(mood), end_date=_day(50))
    assert _col(out, "mood_baseline_sd_frac")[-1] == 0.0
    assert _col(out, "mood_z")[-1] is None


@settings(max_examples=50, deadline=None)
@given(first=LOADS, second=LOADS, late=st.integers(min_value=0, max_value=20))
def test_property_clients_computed_together_get_the_rows_they_get_alone(
    first: list[float], second: list[float], late: int
) -> None:
    # Derivation computes a chunk of clients in one call: each client's rows, to the last bit,
    # are those of a call with that client alone (the second client starts `late` days later).
    one = _acts({i + 1: v for i, v in enumerate(first)})
    two = _acts({i + 1 + late: v for i, v in enumerate(second)}, client="c2")
    mood = _journal({1: 6.0, 3: 7.0, 4: 5.0}, {2: 7.5}, client="c2")
    end = _day(len(first) + len(second) + late)
    together = daily_load(pl.concat([one, two]), mood, end_date=end)
    alone = pl.concat(
        [daily_load(one, mood.clear(), end_date=end), daily_load(two, mood, end_date=end)]
    )
    assert together.equals(alone)


def test_a_rest_week_after_runs_gives_exactly_zero_not_a_rounding_residue() -> None:
    """Polars' rolling sums subtract the values that leave the window: after runs of 5,478.8 m,
    8,440.6 m and 9,378.3 m and a week of rest, the plain rolling sum is -1.8e-12, which failed
    the table's own check (>= 0) and with it the whole run. Every window total of non-negative
    days is exactly 0 once the window holds only rest days."""
    dist = {8: 5478.8, 9: 8440.6, 10: 9378.3, 30: 3000.0}
    loads = {1: 20.0, 8: 73.3, 9: 61.7, 10: 88.1, 30: 40.0}
    residue = pl.Series([5478.8, 8440.6, 9378.3] + [0.0] * 8).rolling_sum(7).to_list()[-1]
    assert residue is not None
    assert residue < 0.0  # what Polars gives: the reason for the rule under test
    out = daily_load(_acts(loads, distance_m=dist), NO_JOURNAL, end_date=_day(34))
    DailyLoad.validate(out)
    rest = out.sort("local_date").filter(pl.col("local_date").is_between(_day(17), _day(29)))
    for column in ("run_distance_week_m", "load_week_sum", "load_acute_mean"):
        assert rest[column].to_list() == [0.0] * rest.height, column
    day_17 = out.filter(pl.col("local_date") == _day(17)).row(0, named=True)
    assert day_17["run_distance_prev_week_m"] == pytest.approx(5478.8 + 8440.6 + 9378.3)
    assert day_17["run_distance_change_pct"] == -100.0  # not a rounding step below
    day_30 = out.filter(pl.col("local_date") == _day(30)).row(0, named=True)
    assert day_30["run_distance_week_m"] == pytest.approx(3000.0)  # residue aside
    assert day_30["run_distance_change_pct"] is None  # the week before held no running


def test_a_week_of_mood_zero_after_better_days_has_mean_zero_not_below() -> None:
    """Moods 6, 4 and 2 (of 10), then 0 six days later: once the 0 is alone in the week, the
    running sums left -1.1e-16 as its mean, below the table's check (>= 0): the run failed."""
    out = daily_load(
        _acts({1: 10.0}), _journal({1: 6.0, 4: 4.0, 5: 2.0, 11: 0.0}), end_date=_day(20)
    )
    DailyLoad.validate(out)
    alone = out.filter(pl.col("local_date").is_between(_day(12), _day(17)))  # day 11's 0 alone
    assert alone["mood_week_mean_frac"].to_list() == [0.0] * 6


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(
        st.integers(1, 60), st.floats(0, 300, allow_nan=False), min_size=1, max_size=25
    ),
    st.dictionaries(st.integers(1, 60), st.floats(300, 25_000, allow_nan=False), max_size=25),
    st.sampled_from([5, 7, 10]),
    st.lists(st.tuples(st.integers(1, 60), st.integers(0, 10), st.floats(0, 24)), max_size=40),
)
def test_any_loads_distances_moods_and_sleep_pass_the_tables_own_checks(
    loads: dict[int, float],
    distances: dict[int, float],
    scale: int,
    entries: list[tuple[int, int, float]],
) -> None:
    """Rounding never takes a row outside its documented range (a failed check fails the run)."""
    dist = {day: distances.get(day, 0.0) for day in loads}
    mood = {day: float(min(m, scale)) for day, m, _ in entries}
    sleep = {day: hours for day, _, hours in entries}
    out = daily_load(
        _acts(loads, distance_m=dist), _journal(mood, sleep, scale=scale), end_date=_day(70)
    )
    DailyLoad.validate(out)
