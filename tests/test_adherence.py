"""Weekly adherence: band edges, counting rules, no-plan / rest / no-run weeks, streaks."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from schemas.weekly_adherence import WeeklyAdherence
from transform.adherence import AdherenceConfig, build_weekly_adherence

ACTIVITY_SCHEMA: dict[str, Any] = {
    "client_id": pl.String,
    "sport": pl.String,
    "local_date": pl.Date,
    "moving_time_s": pl.Float64,
    "duration_s": pl.Float64,
}
PLAN_SCHEMA: dict[str, Any] = {
    "client_id": pl.String,
    "week_start": pl.Date,
    "sessions": pl.Int32,
    "minutes": pl.Float64,
    "session_type": pl.String,
}
JOURNAL_SCHEMA: dict[str, Any] = {"client_id": pl.String, "local_date": pl.Date}


def week(n: int) -> date:
    """Monday of week n, counting from Monday 2026-01-05 (ISO week 2)."""
    return date(2026, 1, 5) + timedelta(weeks=n - 1)


def acts(rows: list[tuple[str, str, date | None, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"client_id": c, "sport": s, "local_date": d, "moving_time_s": m, "duration_s": 9e3}
            for c, s, d, m in rows
        ],
        schema=ACTIVITY_SCHEMA,
        orient="row",
    )


def plans(rows: list[tuple[str, date, int, float, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=PLAN_SCHEMA, orient="row")


def entries(rows: list[tuple[str, date]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=JOURNAL_SCHEMA, orient="row")


def test_band_edges_counting_rules_and_special_weeks() -> None:
    planned = [
        ("a", week(n), 3, 100.0, "easy") for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14)
    ] + [("a", week(13), 0, 0.0, None), ("a", week(15), 3, 100.0, "run_walk")]
    runs = acts(
        [
            ("a", "running", date(2026, 1, 11), 4800.0),  # W1 on its Sunday: 80 %
            ("a", "running", week(2), 7200.0),  # W2 Monday: 120 %
            ("a", "running", week(3), 7260.0),  # 121 %
            ("a", "running", week(4), 9000.0),  # 150 %
            ("a", "running", week(5), 9060.0),  # 151 %
            ("a", "running", week(6), 4740.0),  # 79 %
            ("a", "running", week(7), 2970.0),  # 49.5 %
            ("a", "running", week(8), 3000.0),  # 50 %
            ("a", "running", week(9), 4799.4),  # 79.99 %
            ("a", "running", week(10), 7200.6),  # 120.01 %
            ("a", "running", week(11), 3000.0),  # W11: no plan
            # W12: planned, no run at all. W13: planned rest week, no run.
            ("a", "running", week(14), 5400.0),  # W14: 90 + 10 = 100 %
            ("a", "running", week(14) + timedelta(days=1), 600.0),  # exactly 10 min: counts
            ("a", "running", week(14) + timedelta(days=2), 599.0),  # under 10 min: not
            ("a", "walking", week(14) + timedelta(days=3), 1200.0),  # walk, easy week: not
            ("a", "cycling", week(14) + timedelta(days=4), 3600.0),  # cycling: never
            ("a", "running", None, 3600.0),  # clock never set: no week
            ("a", "running", week(15), 3000.0),  # W15 run_walk week: run + walk
            ("a", "walking", week(15) + timedelta(days=2), None),  # moving null -> duration 9000
        ]
    )
    journal = entries(
        [
            ("a", date(2026, 1, 6)),
            ("a", date(2026, 1, 6)),
            ("a", date(2026, 1, 7)),
            ("a", week(16) + timedelta(days=6)),  # latest data: W16 Sunday
        ]
    )
    out = build_weekly_adherence(runs, journal, plans(planned))
    WeeklyAdherence.validate(out)
    expected = pl.DataFrame(
        {
            "week_start": [week(n) for n in range(1, 17)],
            "iso_week": list(range(2, 18)),
            "planned_minutes": [100.0] * 10 + [None, 100.0, 0.0, 100.0, 100.0, None],
            "completed_sessions": [1] * 11 + [0, 0, 2, 2, 0],
            "completed_minutes": [
                80.0,
                120.0,
                121.0,
                150.0,
                151.0,
                79.0,
                49.5,
                50.0,
                79.99,
                120.01,
                50.0,
                0.0,
                0.0,
                100.0,
                200.0,
                0.0,
            ],
            "adherence_ratio": [
                0.8,
                1.2,
                1.21,
                1.5,
                1.51,
                0.79,
                0.495,
                0.5,
                0.7999,
                1.2001,
                None,
                0.0,
                None,
                1.0,
                2.0,
                None,
            ],
            "band": [
                "green",
                "green",
                "yellow",
                "yellow",
                "red",
                "yellow",
                "red",
                "yellow",
                "yellow",
                "yellow",
                "no_plan",
                "red",
                "rest",
                "green",
                "red",
                "no_plan",
            ],
            "on_plan_streak": [1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0],
            "journal_entries": [3] + [0] * 14 + [1],
            "journal_days": [2] + [0] * 14 + [1],
        },
        schema_overrides={
            "iso_week": pl.Int8,
            "completed_sessions": pl.Int32,
            "on_plan_streak": pl.Int32,
            "journal_entries": pl.Int32,
            "journal_days": pl.Int32,
        },
    )
    assert_frame_equal(out.select(expected.columns), expected, check_exact=False, abs_tol=1e-9)
    assert out["client_id"].unique().to_list() == ["a"]


def test_run_walk_week_counts_walking() -> None:
    out = build_weekly_adherence(
        acts([("a", "running", week(1), 1500.0), ("a", "walking", week(1), 1500.0)]),
        entries([]),
        plans([("a", week(1), 2, 50.0, "run_walk")]),
    )
    assert out.select("completed_sessions", "completed_minutes", "band").row(0) == (
        2,
        50.0,
        "green",
    )


def test_client_without_plan_gets_no_plan_weeks_from_first_data() -> None:
    out = build_weekly_adherence(
        acts([("b", "running", week(2) + timedelta(days=3), 1800.0)]),
        entries([("b", week(3))]),
        plans([]),
    )
    assert out.select("week_start", "band", "completed_minutes", "journal_entries").rows() == [
        (week(2), "no_plan", 30.0, 0),
        (week(3), "no_plan", 0.0, 1),
    ]


def test_weeks_before_the_plan_are_not_reported_and_plan_only_weeks_are() -> None:
    out = build_weekly_adherence(
        acts([("a", "running", week(1), 1800.0), ("a", "running", week(3), 1800.0)]),
        entries([]),
        plans([("a", week(2), 1, 30.0, None), ("a", week(5), 1, 30.0, None)]),
    )
    assert out.select("week_start", "band", "on_plan_streak").rows() == [
        (week(2), "red", 0),
        (week(3), "no_plan", 0),
        (week(4), "no_plan", 0),
        (week(5), "red", 0),
    ]


def test_custom_threshold_config() -> None:
    config = AdherenceConfig(min_session_s=1200.0)
    out = build_weekly_adherence(
        acts([("a", "running", week(1), 1000.0)]),
        entries([]),
        plans([("a", week(1), 1, 20.0, None)]),
        config=config,
    )
    assert out.select("completed_sessions", "band").row(0) == (0, "red")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=40),
            st.sampled_from(["running", "walking", "cycling"]),
            st.one_of(st.none(), st.floats(min_value=0, max_value=20_000)),
        ),
        max_size=15,
    ),
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=5),
            st.integers(min_value=0, max_value=6),
            st.sampled_from([None, "easy", "run_walk"]),
        ),
        max_size=6,
        unique_by=lambda row: row[0],
    ),
)
def test_property_ratio_never_negative_and_one_row_per_week(
    runs: list[tuple[int, str, float | None]],
    plan_rows: list[tuple[int, int, str | None]],
) -> None:
    activity = acts([("a", sport, date(2026, 1, 5) + timedelta(days=d), m) for d, sport, m in runs])
    plan = plans([("a", week(n + 1), s, 30.0 * s, kind) for n, s, kind in plan_rows])
    out = build_weekly_adherence(activity, entries([]), plan)
    assert (out["adherence_ratio"].drop_nulls() >= 0).all()
    assert out.select(pl.struct("client_id", "week_start").is_duplicated().any()).item() is False
    if out.height:
        weeks = out["week_start"].to_list()
        assert all(b - a == timedelta(weeks=1) for a, b in itertools.pairwise(weeks))
    WeeklyAdherence.validate(out)
