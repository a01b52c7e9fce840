"""Overtraining indicators: thresholds, the combined signal, insufficient data, explanations.

Daily frames are written by hand (only the columns the rules read) so each case states the
exact value judged; thresholds are those of the literature (cited per test).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest

from schemas.indicators import Indicators
from transform.daily_load import daily_load
from transform.indicators import indicators as build_indicators
from transform.load_config import LoadConfig

D0 = dt.date(2024, 3, 1)

# One hour at threshold = 100 load units: threshold-hour TSB equals the TSB of the frames.
UNIT = pl.DataFrame(
    {"client_id": ["c1"], "threshold_hour_load": [100.0], "lthr_source": ["roster"]}
)


def indicators(*args: Any, **kwargs: Any) -> pl.DataFrame:
    """The indicators of hand-written daily frames, in loads where an hour at threshold is 100."""
    return build_indicators(*args, **{"calibration": UNIT, **kwargs})


QUIET: dict[str, Any] = {
    "acwr_ewma": 1.0,
    "monotony": 1.2,
    "monotony_sd_zero": False,
    "load_week_sum": 200.0,
    "run_distance_change_pct": 5.0,
    "run_distance_week_m": 10000.0,
    "run_distance_prev_week_m": 9500.0,
    "consecutive_active_days": 1,
    "tsb": -5.0,
    "mood_z": 0.0,
    "sleep_z": 0.0,
    "journal_entries_week": 5,
    # read by the calendar-week distance, break and engagement rules: a run every day of
    # 1.5 km (equal weeks: no jump), a settled chronic load, a journal entry a day at 7/10
    "n_activities": 1,
    "n_runs": 1,
    "run_distance_m": 1500.0,
    "ewma_chronic": 50.0,
    "journal_entries": 1,
    "mood_week_mean_frac": 0.7,
    "mood_baseline_mean_frac": 0.7,
    "mood_baseline_sd_frac": 0.1,
}

SCHEMA = {
    "client_id": pl.Utf8,
    "local_date": pl.Date,
    "history_days": pl.Int32,
    "acwr_ewma": pl.Float64,
    "monotony": pl.Float64,
    "monotony_sd_zero": pl.Boolean,
    "load_week_sum": pl.Float64,
    "run_distance_change_pct": pl.Float64,
    "run_distance_week_m": pl.Float64,
    "run_distance_prev_week_m": pl.Float64,
    "consecutive_active_days": pl.Int32,
    "tsb": pl.Float64,
    "mood_z": pl.Float64,
    "sleep_z": pl.Float64,
    "journal_entries_week": pl.Int32,
    "n_activities": pl.Int32,
    "n_runs": pl.Int32,
    "run_distance_m": pl.Float64,
    "ewma_chronic": pl.Float64,
    "journal_entries": pl.Int32,
    "mood_week_mean_frac": pl.Float64,
    "mood_baseline_mean_frac": pl.Float64,
    "mood_baseline_sd_frac": pl.Float64,
}


def _days(n: int, overrides: dict[int, dict[str, Any]] | None = None) -> pl.DataFrame:
    """``n`` quiet days (history 1..n) of client c1, with per-day overrides (1-based)."""
    rows = []
    for i in range(1, n + 1):
        row = {"client_id": "c1", "local_date": D0 + dt.timedelta(days=i - 1), "history_days": i}
        rows.append(row | QUIET | (overrides or {}).get(i, {}))
    return pl.DataFrame(rows, schema=SCHEMA)


NO_RUNS = pl.DataFrame(
    schema={
        "activity_id": pl.Utf8,
        "client_id": pl.Utf8,
        "local_date": pl.Date,
        "steady_run": pl.Boolean,
        "decoupling_pct": pl.Float64,
    }
)


def _raised(out: pl.DataFrame) -> pl.DataFrame:
    return out.filter(pl.col("indicator") != "insufficient_data")


def test_quiet_history_raises_nothing_after_28_days() -> None:
    out = indicators(_days(40), NO_RUNS)
    assert _raised(out).height == 0
    # Only the first-weeks notes: days 1-20 and 21-27.
    assert out.select("reason", "local_date", "until_date", "value").rows() == [
        ("short_history", D0, D0 + dt.timedelta(days=19), 20.0),
        ("short_history_acwr", D0 + dt.timedelta(days=20), D0 + dt.timedelta(days=26), 27.0),
    ]
    Indicators.validate(out)


@pytest.mark.parametrize(
    ("column", "at_threshold", "above", "code"),
    [
        # Williams et al. 2017 / Gabbett 2016: EWMA ACWR > 1.5 = load spike
        ("acwr_ewma", 1.5, 1.51, "load_spike"),
        # Foster 1998: monotony > 2.0
        ("monotony", 2.0, 2.1, "high_monotony"),
        # TSB below -30
        ("tsb", -30.0, -30.5, "low_tsb"),
    ],
)
def test_threshold_is_strict(column: str, at_threshold: float, above: float, code: str) -> None:
    out = indicators(_days(30, {29: {column: at_threshold}, 30: {column: above}}), NO_RUNS)
    raised = _raised(out)
    assert raised["indicator"].to_list() == [code]
    row = raised.row(0, named=True)
    assert row["local_date"] == D0 + dt.timedelta(days=29)
    assert row["value"] == pytest.approx(above)
    assert row["explanation"]
    params = json.loads(row["params_json"])
    assert params["threshold"] == at_threshold
    Indicators.validate(out)


def test_no_rest_day_at_seven() -> None:
    out = indicators(
        _days(30, {29: {"consecutive_active_days": 6}, 30: {"consecutive_active_days": 7}}), NO_RUNS
    )
    raised = _raised(out)
    assert raised["indicator"].to_list() == ["no_rest_day"]
    assert "7 days in a row" in raised["explanation"][0]


def test_zero_sd_week_raises_monotony_at_the_cap() -> None:
    # daily_load gives the cap (10) for 7 identical non-zero loads, nothing for 7 rest days
    overrides = {
        29: {"monotony": None, "monotony_sd_zero": True, "load_week_sum": 0.0},  # 7 rest days
        30: {"monotony": 10.0, "monotony_sd_zero": True, "load_week_sum": 350.0},  # 7 x 50
    }
    raised = _raised(indicators(_days(30, overrides), NO_RUNS))
    assert raised["indicator"].to_list() == ["high_monotony"]
    assert raised["value"][0] == 10.0
    assert "exactly the same load" in raised["explanation"][0]
    assert raised["local_date"][0] == D0 + dt.timedelta(days=29)


def test_mood_alone_never_raises() -> None:
    out = indicators(_days(30, {30: {"mood_z": -3.0, "sleep_z": -3.0}}), NO_RUNS)
    assert _raised(out).height == 0


def test_combined_signal_needs_load_and_low_wellbeing() -> None:
    overrides = {
        28: {"acwr_ewma": 1.8, "mood_z": -0.9},  # load spike, mood not low enough
        29: {"acwr_ewma": 1.8, "mood_z": -1.0},  # z = -1 exactly: raised (<= -1)
        30: {"tsb": -35.0, "monotony": 2.5, "sleep_z": -1.4, "mood_z": -1.2},
    }
    raised = _raised(indicators(_days(30, overrides), NO_RUNS))
    combined = raised.filter(pl.col("indicator") == "overload_low_wellbeing")
    # Days 29 and 30: one episode of two days; its peak is day 30 (z -1.4, the lower of the
    # two low z-scores of that day, below day 29's -1.0).
    assert combined.select("local_date", "until_date", "days").rows() == [
        (D0 + dt.timedelta(days=28), D0 + dt.timedelta(days=29), 2)
    ]
    assert combined["value"].to_list() == pytest.approx([-1.4])
    day30 = json.loads(combined["params_json"][0])
    assert day30["load_signals_raised"] == ["high_monotony", "low_tsb"]
    assert "mood (z = -1.2) and sleep (z = -1.4)" in combined["explanation"][0]
    assert raised.filter(pl.col("local_date") == D0 + dt.timedelta(days=27))[
        "indicator"
    ].to_list() == ["load_spike"]


def test_sparse_journal_gives_insufficient_data_instead_of_combined() -> None:
    overrides = {
        29: {"acwr_ewma": 1.8, "mood_z": -2.0, "journal_entries_week": 2},
        30: {"acwr_ewma": 1.8, "mood_z": -2.0, "journal_entries_week": 1},
    }
    out = indicators(_days(30, overrides), NO_RUNS)
    assert "overload_low_wellbeing" not in out["indicator"].to_list()
    sparse = out.filter(pl.col("reason") == "sparse_journal")
    assert sparse.select("local_date", "until_date", "value", "threshold").rows() == [
        (D0 + dt.timedelta(days=28), D0 + dt.timedelta(days=29), 2.0, 3.0)
    ]
    assert sparse["explanation"][0].startswith("From 2024-03-29 to 2024-03-30, ")


def test_short_history_silences_load_indicators() -> None:
    # A spike on day 10 is not judged: the range note says why instead.
    out = indicators(_days(10, {10: {"acwr_ewma": 3.0, "tsb": -50.0}}), NO_RUNS)
    assert _raised(out).height == 0
    assert out.select("reason", "value").rows() == [("short_history", 10.0)]
    assert "fewer than 21 days" in out["explanation"][0]


def test_load_spike_waits_for_28_days() -> None:
    out = indicators(_days(28, {25: {"acwr_ewma": 2.0}, 28: {"acwr_ewma": 2.0}}), NO_RUNS)
    assert _raised(out)["local_date"].to_list() == [D0 + dt.timedelta(days=27)]


def test_decoupling_on_steady_runs_only() -> None:
    day = D0 + dt.timedelta(days=3)
    runs = pl.DataFrame(
        {
            "activity_id": ["r1", "r2", "r3", "r4"],
            "client_id": ["c1"] * 4,
            "local_date": [day, day, day, day + dt.timedelta(days=1)],
            "steady_run": [True, True, False, True],
            # Friel: decoupling over 5 % = not yet aerobically fit for that duration.
            "decoupling_pct": [6.2, 7.5, 12.0, 5.0],
        }
    )
    raised = _raised(indicators(_days(5), runs))
    assert raised.select("indicator", "local_date", "value").rows() == [
        ("aerobic_decoupling", day, 7.5)
    ]
    assert json.loads(raised["params_json"][0])["activity_ids"] == ["r1", "r2"]


def test_thresholds_come_from_config() -> None:
    strict = LoadConfig(acwr_spike=1.2, min_history_days=7, acwr_min_history_days=7)
    out = indicators(_days(10, {9: {"acwr_ewma": 1.3}}), NO_RUNS, config=strict)
    raised = _raised(out)
    assert raised["indicator"].to_list() == ["load_spike"]
    assert raised["threshold"][0] == 1.2
    assert json.loads(raised["params_json"][0])["threshold"] == 1.2


def test_end_to_end_from_activities() -> None:
    # 21 days of 30 every other day, then 7 days of 90 every day: no rest for 7 days and a
    # load spike; mood scale 10: 7 on days 1-21 alternating with 6, 3 on days 22-28.
    loads = {i: 30.0 for i in range(1, 22, 2)} | {i: 90.0 for i in range(22, 29)}
    acts = pl.DataFrame(
        {
            "activity_id": [f"a{i}" for i in loads],
            "client_id": ["c1"] * len(loads),
            "local_date": [D0 + dt.timedelta(days=i - 1) for i in loads],
            "sport": ["running"] * len(loads),
            "load": list(loads.values()),
            "distance_m": [5000.0] * len(loads),
            "steady_run": [False] * len(loads),
            "decoupling_pct": [None] * len(loads),
        },
        schema_overrides={"decoupling_pct": pl.Float64},
    )
    mood = {i: (7.0 if i % 2 else 6.0) for i in range(1, 22)} | {i: 3.0 for i in range(22, 29)}
    journal = pl.DataFrame(
        {
            "client_id": ["c1"] * len(mood),
            "local_date": [D0 + dt.timedelta(days=i - 1) for i in mood],
            "mood": list(mood.values()),
            "mood_scale_max": [10] * len(mood),
            "sleep_hours": [None] * len(mood),
        },
        schema_overrides={"mood_scale_max": pl.Int8, "sleep_hours": pl.Float64},
    )
    days = daily_load(acts, journal, end_date=D0 + dt.timedelta(days=27))
    out = Indicators.validate(indicators(days, acts))
    end = D0 + dt.timedelta(days=27)
    last_day = out.filter((pl.col("local_date") <= end) & (pl.col("until_date") >= end))
    assert last_day.filter(pl.col("indicator") != "insufficient_data")["ongoing"].all()
    codes = set(last_day["indicator"])
    assert {"load_spike", "no_rest_day", "overload_low_wellbeing"} <= codes


def test_low_tsb_is_judged_in_threshold_hour_units() -> None:
    # A client whose hour at threshold is 150 TRIMP: TSB -45 TRIMP = -45 * 100 / 150 = -30.0,
    # not below -30; -46.5 TRIMP = -31.0: raised, value -31 and the calibration in the params.
    calibration = UNIT.with_columns(threshold_hour_load=pl.lit(150.0))
    out = build_indicators(
        _days(30, {29: {"tsb": -45.0}, 30: {"tsb": -46.5}}), NO_RUNS, calibration=calibration
    )
    raised = _raised(out)
    assert raised.select("indicator", "local_date", "value").rows() == [
        ("low_tsb", D0 + dt.timedelta(days=29), pytest.approx(-31.0))
    ]
    params = json.loads(raised["params_json"][0])
    assert (params["threshold_hour_load"], params["tsb_trimp"]) == (150.0, -46.5)
