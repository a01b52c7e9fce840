"""Run <-> journal as-of join: windows, edges, ownership between runs, DST, properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from clinic.daylio import read_daylio
from clinic.journal_csv import JOURNAL_FRAME_SCHEMA
from schemas.run_journal import RunJournal
from transform.run_journal import RunJournalConfig, build_run_journal

ACTIVITY_SCHEMA: dict[str, Any] = {
    "activity_id": pl.String,
    "client_id": pl.String,
    "sport": pl.String,
    "start_utc": pl.Datetime("us", "UTC"),
    "end_utc": pl.Datetime("us", "UTC"),
    "local_date": pl.Date,
    "duration_s": pl.Float64,
    "moving_time_s": pl.Float64,
    "distance_m": pl.Float64,
}


def t(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, second, tzinfo=UTC)


def activities(rows: list[tuple[str, str, str, datetime | None, datetime | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "activity_id": aid,
                "client_id": cid,
                "sport": sport,
                "start_utc": start,
                "end_utc": end,
                "local_date": start.date() if start else None,
                "duration_s": 1800.0,
                "moving_time_s": 1700.0,
                "distance_m": 4000.0,
            }
            for aid, cid, sport, start, end in rows
        ],
        schema=ACTIVITY_SCHEMA,
        orient="row",
    )


def journal(rows: list[tuple[str, str, datetime, str, float | None, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "entry_id": eid,
                "client_id": cid,
                "timestamp_utc": ts,
                "local_date": ts.date(),
                "kind": kind,
                "mood": mood,
                "mood_scale_max": scale,
                "anxiety": None,
                "stress": None,
                "energy": None,
                "sleep_hours": None,
                "sleep_quality": None,
                "rpe": 5.0 if kind == "post_run" else None,
                "source": "clinic_template" if scale == 10 else "daylio",
            }
            for eid, cid, ts, kind, mood, scale in rows
        ],
        schema=JOURNAL_FRAME_SCHEMA,
        orient="row",
    )


def summary(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return frame.select(
        "activity_id",
        "pre_entry_id",
        "pre_minutes_before",
        "post_entry_id",
        "post_minutes_after",
        "mood_change",
    ).rows()


def test_window_edges_inclusive_and_just_outside() -> None:
    # Every run 10:00-10:30 UTC on 2 March; one client per case so cases do not interact.
    acts = activities(
        [
            ("on_edges", "a", "running", t(2, 10), t(2, 10, 30)),
            ("far_edges", "b", "running", t(2, 10), t(2, 10, 30)),
            ("outside", "c", "running", t(2, 10), t(2, 10, 30)),
            ("during", "d", "running", t(2, 10), t(2, 10, 30)),
        ]
    )
    entries = journal(
        [
            ("a_pre", "a", t(2, 10), "pre_run", 5.0, 10),  # exactly at start: in
            ("a_post", "a", t(2, 10, 30), "post_run", 6.0, 10),  # exactly at end: in
            ("b_pre", "b", t(2, 7), "pre_run", 4.0, 10),  # start - 3 h: in
            ("b_post", "b", t(2, 16, 30), "post_run", 7.0, 10),  # end + 6 h: in
            ("c_pre", "c", t(2, 6, 59, 59), "pre_run", 4.0, 10),  # start - 3 h - 1 s: out
            ("c_post", "c", t(2, 16, 30, 1), "post_run", 7.0, 10),  # end + 6 h + 1 s: out
            ("d_pre", "d", t(2, 10, 1), "pre_run", 4.0, 10),  # during the run: not pre
            ("d_post", "d", t(2, 10, 29), "post_run", 7.0, 10),  # during the run: not post
        ]
    )
    out = build_run_journal(acts, entries)
    assert summary(out) == [
        ("on_edges", "a_pre", 0.0, "a_post", 0.0, 1.0),
        ("far_edges", "b_pre", 180.0, "b_post", 360.0, 3.0),
        ("outside", None, None, None, None, None),
        ("during", None, None, None, None, None),
    ]
    assert out["pre_found"].to_list() == [True, True, False, False]
    assert out["post_found"].to_list() == [True, True, False, False]
    assert out["post_rpe"].to_list() == [5.0, 5.0, None, None]
    RunJournal.validate(out)


def test_two_runs_in_one_day_post_entry_goes_to_latest_run_ended_before_it() -> None:
    acts = activities(
        [
            ("morning", "a", "running", t(2, 12), t(2, 12, 30)),
            ("afternoon", "a", "running", t(2, 14), t(2, 14, 30)),
        ]
    )
    entries = journal(
        [
            ("pre1", "a", t(2, 11, 30), "pre_run", 4.0, 10),  # before morning
            ("post1", "a", t(2, 13), "post_run", 6.0, 10),  # between: morning's
            ("pre2", "a", t(2, 13, 30), "pre_run", 5.0, 10),  # between: afternoon's
            ("post2", "a", t(2, 15), "post_run", 8.0, 10),  # within 6 h of both: afternoon's
            ("post3", "a", t(2, 16), "post_run", 9.0, 10),  # afternoon's too, but not first
        ]
    )
    out = build_run_journal(acts, entries)
    assert summary(out) == [
        ("morning", "pre1", 30.0, "post1", 30.0, 2.0),
        ("afternoon", "pre2", 30.0, "post2", 30.0, 3.0),
    ]


def test_only_later_post_entry_is_not_shared_by_the_earlier_run() -> None:
    acts = activities(
        [
            ("morning", "a", "running", t(2, 12), t(2, 12, 30)),
            ("afternoon", "a", "running", t(2, 14), t(2, 14, 30)),
        ]
    )
    entries = journal([("post", "a", t(2, 15), "post_run", 8.0, 10)])
    out = build_run_journal(acts, entries)
    assert out.select("activity_id", "post_found", "post_entry_id").rows() == [
        ("morning", False, None),
        ("afternoon", True, "post"),
    ]


def test_last_pre_entry_wins_and_daily_entries_count_only_when_configured() -> None:
    acts = activities([("run", "a", "running", t(2, 18), t(2, 18, 40))])
    entries = journal(
        [
            ("pre_early", "a", t(2, 16), "pre_run", 3.0, 10),
            ("pre_late", "a", t(2, 17, 45), "pre_run", 4.0, 10),
            ("daily", "a", t(2, 19), "daily", 7.0, 10),
        ]
    )
    default = build_run_journal(acts, entries)
    assert summary(default) == [("run", "pre_late", 15.0, None, None, None)]
    with_daily = build_run_journal(
        acts, entries, config=RunJournalConfig(post_kinds=frozenset({"post_run", "daily"}))
    )
    assert summary(with_daily) == [("run", "pre_late", 15.0, "daily", 20.0, 3.0)]


def test_other_sports_other_clients_and_unset_clocks_take_no_entries() -> None:
    acts = activities(
        [
            ("walk_home", "a", "walking", t(2, 18, 40), t(2, 18, 50)),  # would steal the entry
            ("run", "a", "running", t(2, 18), t(2, 18, 30)),
            ("no_clock", "a", "running", None, None),
            ("other_client", "b", "running", t(2, 18), t(2, 18, 30)),
        ]
    )
    entries = journal([("post", "a", t(2, 19), "post_run", 7.0, 10)])
    out = build_run_journal(acts, entries)
    assert out.select("activity_id", "post_entry_id", "post_minutes_after").rows() == [
        ("walk_home", None, None),
        ("run", "post", 30.0),
        ("no_clock", None, None),
        ("other_client", None, None),
    ]
    RunJournal.validate(out)


def test_mood_change_is_null_across_different_scales() -> None:
    acts = activities([("run", "a", "running", t(2, 18), t(2, 18, 30))])
    entries = journal(
        [
            ("pre", "a", t(2, 17, 50), "pre_run", 3.0, 5),
            ("post", "a", t(2, 19), "post_run", 8.0, 10),
        ]
    )
    out = build_run_journal(acts, entries)
    assert out.select("pre_mood", "post_mood", "mood_change").row(0) == (3.0, 8.0, None)


def test_daylio_post_run_entry_in_the_dst_gap_matches_the_run() -> None:
    # Europe/London springs forward at 01:00 GMT on 2026-03-29; "1:30 am" does not exist and is
    # read as 01:30 UTC (02:30 BST), 30 minutes after the run that ended at 01:00 UTC.
    daylio = read_daylio(
        (
            b"full_date,date,weekday,time,mood,activities,note_title,note\n"
            b'2026-03-29,29 March,Sunday,1:30 am,good,"after run",,""\n'
            b'2026-03-29,29 March,Sunday,00:20,meh,"before run",,""\n'
        ),
        client_id="a",
        timezone="Europe/London",
        kind_activities={"after run": "post_run", "before run": "pre_run"},
    )
    acts = activities([("night_run", "a", "running", t(29, 0, 30), t(29, 1, 0))])
    out = build_run_journal(acts, daylio.journal)
    assert out.select(
        "pre_minutes_before", "post_timestamp_utc", "post_minutes_after", "mood_change"
    ).row(0) == (10.0, t(29, 1, 30), 30.0, 1.0)
    assert out["post_mood_scale_max"].to_list() == [5]


def test_empty_journal_gives_one_row_per_activity() -> None:
    acts = activities([("run", "a", "running", t(2, 18), t(2, 18, 30))])
    out = build_run_journal(acts, journal([]))
    expected = acts.with_columns(
        pl.lit(value=False).alias("pre_found"), pl.lit(value=False).alias("post_found")
    ).select("activity_id", "pre_found", "post_found")
    assert_frame_equal(out.select("activity_id", "pre_found", "post_found"), expected)


# --- properties ------------------------------------------------------------------------------

BASE = datetime(2026, 3, 1, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=3 * 24 * 60)


@st.composite
def inputs(draw: st.DrawFn) -> tuple[pl.DataFrame, pl.DataFrame]:
    n_acts = draw(st.integers(min_value=0, max_value=8))
    act_rows = []
    for i in range(n_acts):
        start = BASE + timedelta(minutes=draw(minutes))
        length = timedelta(minutes=draw(st.integers(min_value=0, max_value=180)))
        has_clock = draw(st.booleans()) or i % 3
        act_rows.append(
            (
                f"act{i}",
                draw(st.sampled_from(["a", "b"])),
                draw(st.sampled_from(["running", "walking"])),
                start if has_clock else None,
                start + length if has_clock else None,
            )
        )
    n_entries = draw(st.integers(min_value=0, max_value=12))
    entry_rows = [
        (
            f"e{i}",
            draw(st.sampled_from(["a", "b"])),
            BASE + timedelta(minutes=draw(minutes)),
            draw(st.sampled_from(["pre_run", "post_run", "daily"])),
            draw(st.one_of(st.none(), st.integers(min_value=1, max_value=10).map(float))),
            10,
        )
        for i in range(n_entries)
    ]
    return activities(act_rows), journal(entry_rows)


@settings(max_examples=60, deadline=None)
@given(inputs())
def test_property_asof_join_never_adds_or_drops_rows(
    frames: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    acts, entries = frames
    out = build_run_journal(acts, entries)
    assert out["activity_id"].to_list() == acts["activity_id"].to_list()
    # An entry serves at most one run as post and at most one run as pre.
    for column in ("post_entry_id", "pre_entry_id"):
        used = out[column].drop_nulls()
        assert used.n_unique() == used.len()
    # Matches respect the windows and the client.
    matched = out.filter(pl.col("post_found"))
    assert (matched["post_minutes_after"] >= 0).all()
    assert (matched["post_minutes_after"] <= 360).all()
    pre = out.filter(pl.col("pre_found"))
    assert (pre["pre_minutes_before"] >= 0).all()
    assert (pre["pre_minutes_before"] <= 180).all()
    owners = out.join(
        entries.select(pl.col("entry_id").alias("post_entry_id"), pl.col("client_id").alias("c")),
        on="post_entry_id",
    )
    assert (owners["client_id"] == owners["c"]).all()
