"""Therapist reports: what is shown, in which order, drawn how, and where the codes may appear.

The warehouse here is written by hand (:func:`make_warehouse`): two roster clients and one
client missing from the roster, three ISO weeks. Every expected value below is read off these
hand-written rows (or computed by hand from them in a comment), never from the report code.
"""

from __future__ import annotations

import datetime as dt
import doctest
import re
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import pytest

from report import build, html, model, queries, svg
from report.build import load_inputs, roster_codes, write_reports
from report.html import render_client_page, render_overview
from report.model import client_report, overview_rows
from schemas.errors import ConfigError
from warehouse.secret import pseudonymize
from warehouse.store import TableStore
from warehouse.tables import TABLES

SECRET = b"test-secret"
AS_OF = dt.date(2026, 3, 18)  # a Wednesday
WEEKS = 3  # Mondays 2 Mar, 9 Mar, 16 Mar
C1, C2 = pseudonymize("C001", SECRET), pseudonymize("C002", SECRET)
STRANGER = "f" * 24  # in the warehouse, not in the roster
ROSTER = "client_code,sex,birth_year,hr_rest,hr_max,timezone\nC001,f,1990,55,185,UTC\nC002,m,1985,60,180,UTC\n"
D = dt.date
UTC = dt.UTC


def _utc(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


DEFAULTS: dict[str, dict[str, Any]] = {
    "weekly_adherence": {
        "completed_sessions": 0,
        "on_plan_streak": 0,
        "journal_entries": 0,
        "journal_days": 0,
    },
    "daily_load": {
        "history_days": 1,
        "has_data": True,
        "n_activities": 1,
        "n_runs": 1,
        "run_distance_m": 0.0,
        "tsb": 0.0,
        "ewma_acute": 0.0,
        "ewma_chronic": 0.0,
        "consecutive_run_days": 1,
        "consecutive_active_days": 1,
        "journal_entries": 1,
        "journal_entries_week": 1,
        "config_json": "{}",
    },
    "journal": {"kind": "daily", "source": "clinic_template"},
    "run_journal": {},
    "indicators": {"comparison": ">", "params_json": "{}"},
    "activities": {
        "source_format": "fit",
        "source_kind": "file",
        "n_samples": 10,
        "has_gps": False,
        "has_hr": True,
        "recovered": False,
        "source_sha256": "0" * 64,
    },
    "files": {
        "received_utc": _utc(D(2026, 11, 1), 2),
        "detected_format": "fit",
        "activity_ids": [],
        "duplicate_of": [],
        "n_records": 0,
    },
}
"""Values of the columns a row leaves out, by table (else null)."""


def _frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows of ``table`` with every model column: given values, else :data:`DEFAULTS`, else null."""
    schema_model: type[pa.DataFrameModel] = TABLES[table].model
    columns = list(schema_model.to_schema().columns)
    defaults = DEFAULTS[table]
    full = [{c: row.get(c, defaults.get(c)) for c in columns} for row in rows]
    return schema_model.validate(pl.DataFrame(full, infer_schema_length=None))


def _week(
    client: str, monday: dt.date, planned: float | None, done: float, band: str
) -> dict[str, Any]:
    return {
        "client_id": client,
        "week_start": monday,
        "iso_year": 2026,
        "iso_week": monday.isocalendar().week,
        "planned_sessions": None if planned is None else 3,
        "planned_minutes": planned,
        "completed_minutes": done,
        "band": band,
    }


def _day(client: str, day: dt.date, **values: Any) -> dict[str, Any]:
    return {"client_id": client, "local_date": day, **values}


def _activity(
    client: str, aid: str, day: dt.date | None, sport: str, flags: str = ""
) -> dict[str, Any]:
    return {
        "activity_id": aid,
        "client_id": client,
        "sport": sport,
        "local_date": day,
        "start_utc": None if day is None else _utc(day, 7),
        "quality_flags": flags,
        "clock_set": day is not None,
    }


def _indicator(client: str, day: dt.date, code: str, text: str, **extra: Any) -> dict[str, Any]:
    """One episode row: ``day`` to ``until`` (default: one day)."""
    until = extra.pop("until", day)
    return {
        "client_id": client,
        "local_date": day,
        "until_date": until,
        "days": (until - day).days + 1,
        "ongoing": extra.pop("ongoing", False),
        "indicator": code,
        "explanation": text,
        **extra,
    }


def _entry(
    n: int, client: str, day: dt.date, mood: float, scale: int, sleep: float | None
) -> dict[str, Any]:
    return {
        "entry_id": f"{n:016x}",
        "client_id": client,
        "timestamp_utc": _utc(day, 20),
        "local_date": day,
        "mood": mood,
        "mood_scale_max": scale,
        "sleep_hours": sleep,
    }


def make_tables(extra: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, pl.DataFrame]:
    """The hand-made tables (validated against their models), ``extra`` rows appended by table."""
    weekly = _frame(
        "weekly_adherence",
        [
            _week(C1, D(2026, 3, 2), 90.0, 95.0, "green"),
            _week(C1, D(2026, 3, 9), 90.0, 30.0, "red"),
            _week(C1, D(2026, 3, 16), 90.0, 0.0, "red"),
            _week(STRANGER, D(2026, 3, 16), 60.0, 60.0, "green"),
        ],
    )
    daily = _frame(
        "daily_load",
        [
            _day(
                C1,
                D(2026, 3, 3),
                load=80.0,
                atl=10.9,
                ctl=1.9,
                acwr_ewma=None,
                mood_week_mean_frac=0.6,
                sleep_week_mean_h=8.0,
            ),
            _day(
                C1,
                D(2026, 3, 10),
                load=60.0,
                atl=20.5,
                ctl=4.1,
                acwr_ewma=1.7,
                mood_week_mean_frac=0.7,
                sleep_week_mean_h=7.0,
            ),
        ],
    )
    journal = _frame(
        "journal",
        [
            _entry(1, C1, D(2026, 3, 3), 7.0, 10, 8.0),
            _entry(2, C1, D(2026, 3, 3), 5.0, 10, None),  # same day: daily mood (7 + 5) / 2 = 6
            _entry(3, C1, D(2026, 3, 10), 4.0, 5, 6.5),  # Daylio 4 of 5 = 8 of 10
            _entry(4, C2, D(2026, 3, 4), 3.0, 5, 5.0),
        ],
    )
    run_journal = _frame(
        "run_journal",
        [
            {
                "activity_id": "a1",
                "client_id": C1,
                "sport": "running",
                "local_date": D(2026, 3, 3),
                "start_utc": _utc(D(2026, 3, 3), 7),
                "distance_m": 5000.0,
                "moving_time_s": 1800.0,
                "pre_found": True,
                "pre_entry_id": "p1",
                "pre_mood": 5.0,
                "pre_mood_scale_max": 10,
                "post_found": True,
                "post_entry_id": "q1",
                "post_mood": 7.0,
                "post_mood_scale_max": 10,
                "post_rpe": 4.0,
                "mood_change": 2.0,
            },
            {
                "activity_id": "a2",
                "client_id": C1,
                "sport": "running",
                "local_date": D(2026, 3, 10),
                "start_utc": _utc(D(2026, 3, 10), 7),
                "distance_m": 3000.0,
                "moving_time_s": 1200.0,
                "pre_found": False,
                "post_found": True,
                "post_entry_id": "q2",
                "post_mood": 6.0,
                "post_mood_scale_max": 10,
            },
            {
                "activity_id": "a3",
                "client_id": C1,
                "sport": "walking",
                "local_date": D(2026, 3, 11),
                "start_utc": _utc(D(2026, 3, 11), 7),
                "pre_found": False,
                "post_found": False,
            },
            {
                "activity_id": "a0",
                "client_id": C1,
                "sport": "running",
                "local_date": D(2026, 2, 20),
                "start_utc": _utc(D(2026, 2, 20), 7),
                "pre_found": False,
                "post_found": False,
            },
        ],
    )
    indicators = _frame(
        "indicators",
        [
            _indicator(C1, D(2026, 3, 5), "distance_jump", "Distance rose 50 %."),
            # one episode of two days; its words are those of its peak day
            _indicator(
                C1,
                D(2026, 3, 16),
                "load_spike",
                "Load is 1.7 times the usual.",
                until=D(2026, 3, 17),
                ongoing=True,
            ),
            _indicator(C1, D(2026, 3, 17), "overload_low_wellbeing", "Load with low mood."),
            _indicator(
                C1,
                D(2026, 2, 20),
                "insufficient_data",
                "Short history.",
                until=D(2026, 3, 5),
                reason="short_history",
            ),
        ],
    )
    activities = _frame(
        "activities",
        [
            _activity(C1, "a0", D(2026, 2, 20), "running"),
            _activity(C1, "a1", D(2026, 3, 3), "running", "recovered,sport_inferred"),
            _activity(C1, "a2", D(2026, 3, 10), "running"),
            _activity(C1, "a3", D(2026, 3, 11), "walking"),
            _activity(C1, "a4", None, "running", "clock_not_set"),
            _activity(STRANGER, "s1", D(2026, 3, 16), "running"),
        ],
    )
    files = _frame(
        "files",
        [
            {
                "sha256": "1" * 64,
                "client_id": C1,
                "outcome": "quarantined",
                "reason_code": "html_page",
                "reason_message": "This file is a web page.",
            },
            {
                "sha256": "2" * 64,
                "client_id": C1,
                "outcome": "quarantined",
                "reason_code": "html_page",
                "reason_message": "This file is a web page.",
            },
            {
                "sha256": "3" * 64,
                "client_id": C1,
                "outcome": "quarantined",
                "reason_code": "fit_truncated",
                "reason_message": "The file is cut short.",
            },
            {"sha256": "4" * 64, "client_id": C1, "outcome": "ingested"},
        ],
    )
    tables = {
        "weekly_adherence": weekly,
        "daily_load": daily,
        "journal": journal,
        "run_journal": run_journal,
        "indicators": indicators,
        "activities": activities,
        "files": files,
    }
    for name, rows in (extra or {}).items():
        tables[name] = pl.concat([tables[name], _frame(name, rows)])
    return tables


def make_warehouse(
    root: Path, tables: dict[str, pl.DataFrame] | None = None, roster: str = ROSTER
) -> tuple[Path, Path]:
    """Write ``tables`` (default: :func:`make_tables`) and a roster; return (warehouse, inbox)."""
    warehouse, inbox = root / "warehouse", root / "inbox"
    store = TableStore(warehouse)
    for name, frame in (tables or make_tables()).items():
        store.replace(name, frame)
    inbox.mkdir(parents=True)
    (inbox / "roster.csv").write_text(roster, encoding="utf-8")
    return warehouse, inbox


def inputs() -> model.ReportInputs:
    return model.ReportInputs(**make_tables())


@pytest.fixture(scope="module")
def c1() -> model.ClientReport:
    return client_report(inputs(), client_id=C1, code="C001", as_of=AS_OF, weeks=WEEKS)


# -- the model ------------------------------------------------------------------------------


def test_weekly_series_follow_the_adherence_rows(c1: model.ClientReport) -> None:
    assert c1.weeks == [D(2026, 3, 2), D(2026, 3, 9), D(2026, 3, 16)]
    assert c1.planned_minutes == [90.0, 90.0, 90.0]
    assert c1.done_minutes == [95.0, 30.0, 0.0]
    assert c1.bands == ["green", "red", "red"]
    assert c1.this_week_band == "red"


def test_daily_series_have_one_value_per_day_and_gaps_as_none(c1: model.ClientReport) -> None:
    assert c1.days[0] == D(2026, 3, 2)
    assert c1.days[-1] == AS_OF
    assert len(c1.days) == 17
    i3, i10 = 1, 8  # 3 Mar and 10 Mar
    assert c1.atl[i3] == 10.9
    assert c1.atl[i10] == 20.5
    assert c1.atl[0] is None
    assert c1.acwr[i3] is None
    assert c1.acwr[i10] == 1.7
    assert c1.mood[i3] == pytest.approx(6.0)  # (7 + 5) / 2 on a 10-point scale
    assert c1.mood[i10] == pytest.approx(8.0)  # 4 of 5 -> 8 of 10
    assert c1.mood_week[i10] == pytest.approx(7.0)  # 0.7 of the scale
    assert c1.sleep[i3] == 8.0
    assert c1.sleep[i10] == 6.5
    assert sum(v is not None for v in c1.load) == 2


def test_runs_newest_first_with_mood_change_and_walks_left_out(c1: model.ClientReport) -> None:
    assert [(r.local_date, r.pre_mood, r.post_mood, r.mood_change) for r in c1.runs] == [
        (D(2026, 3, 10), None, 6.0, None),
        (D(2026, 3, 3), 5.0, 7.0, 2.0),
    ]
    assert c1.runs[1].distance_km == 5.0
    assert c1.runs[1].minutes == 30.0
    assert c1.runs[1].rpe == 4.0


def test_indicators_in_window_and_open_ones(c1: model.ClientReport) -> None:
    # episodes, newest first by their first day
    assert [(d, code) for d, code, _ in c1.indicators] == [
        (D(2026, 3, 17), "overload_low_wellbeing"),
        (D(2026, 3, 16), "load_spike"),
        (D(2026, 3, 5), "distance_jump"),
    ]
    summary = [
        (s.code, s.episodes, s.days, s.first, s.last, s.ongoing, s.explanation)
        for s in c1.indicator_summary
    ]
    assert summary == [
        (
            "overload_low_wellbeing",
            1,
            1,
            D(2026, 3, 17),
            D(2026, 3, 17),
            False,
            "Load with low mood.",
        ),
        ("load_spike", 1, 2, D(2026, 3, 16), D(2026, 3, 17), True, "Load is 1.7 times the usual."),
        ("distance_jump", 1, 1, D(2026, 3, 5), D(2026, 3, 5), False, "Distance rose 50 %."),
    ]
    # open = an episode reaching 12 Mar (as_of - 6 days) or later; newest first
    assert c1.open_indicators == ["overload_low_wellbeing", "load_spike"]
    assert c1.insufficient == [
        (D(2026, 2, 20), D(2026, 3, 5), model.INSUFFICIENT_WORDS["short_history"])
    ]


def test_data_quality_notes(c1: model.ClientReport) -> None:
    # data on 3, 10, 11 Mar (and 20 Feb, before the window): only the week of 16 Mar is empty
    assert c1.weeks_without_data == [D(2026, 3, 16)]
    assert c1.refused_files == [("This file is a web page.", 2), ("The file is cut short.", 1)]
    assert c1.quality_notes == [
        (model.QUALITY_FLAG_WORDS["clock_not_set"], 1),
        (model.QUALITY_FLAG_WORDS["recovered"], 1),
        (model.QUALITY_FLAG_WORDS["sport_inferred"], 1),
    ]
    assert c1.last_data == D(2026, 3, 11)


def test_client_without_adherence_rows_shows_no_data() -> None:
    report = client_report(inputs(), client_id=C2, code="C002", as_of=AS_OF, weeks=WEEKS)
    assert report.bands == [None, None, None]
    assert report.this_week_band == "no data"
    assert report.weeks_without_data == [D(2026, 3, 9), D(2026, 3, 16)]
    assert report.runs == []
    assert report.open_indicators == []


def test_overview_puts_the_most_concerning_first() -> None:
    clients = {STRANGER: "S", C2: "C002", C1: "C001"}
    rows = overview_rows(model.client_reports(inputs(), clients, as_of=AS_OF, weeks=WEEKS))
    # C001: 2 open indicators; C002: none, no data this week; S: none, green
    assert [(r.code, r.band, len(r.open_indicators)) for r in rows] == [
        ("C001", "red", 2),
        ("C002", "no data", 0),
        ("S", "green", 0),
    ]
    # mood over the last 4 weeks: C001 6 (3 Mar: (7 + 5) / 2) and 8 (10 Mar: 4 of 5) -> 7.0;
    # C002 3 of 5 -> 6.0; S none. The 3 weeks shown all lie in those 4 weeks: no "before".
    assert [(r.mood_recent, r.mood_change) for r in rows] == [
        (7.0, None),
        (6.0, None),
        (None, None),
    ]
    assert rows[0].refused_files == 3


def test_client_reports_come_in_the_order_asked_each_with_its_own_rows() -> None:
    nobody = "0" * 24  # in no table
    reports = model.client_reports(
        inputs(), {C2: "C002", C1: "C001", nobody: "N"}, as_of=AS_OF, weeks=WEEKS
    )
    assert [r.code for r in reports] == ["C002", "C001", "N"]
    assert [r.bands for r in reports] == [[None] * 3, ["green", "red", "red"], [None] * 3]
    # C001's two runs in the window; C002 and nobody have none
    assert [len(r.runs) for r in reports] == [0, 2, 0]
    # C002's one journal entry (4 Mar); nobody has no data at all
    assert [r.last_data for r in reports] == [D(2026, 3, 4), D(2026, 3, 11), None]
    assert [sum(n for _, n in r.refused_files) for r in reports] == [0, 3, 0]


def test_rows_on_the_edges_of_the_window() -> None:
    # Window of 3 weeks up to Wed 18 Mar: Mon 2 Mar (days[0]) to 18 Mar (days[16]). A row on the
    # first day or on as_of is in; the day before or after is out; a range ending on the first
    # day or starting on as_of overlaps. One client ("e" * 24) added to the hand-written tables.
    edge = "e" * 24
    rows: dict[str, list[dict[str, Any]]] = {
        "daily_load": [
            _day(edge, D(2026, 3, 1), load=10.0, atl=1.0, ctl=1.0),
            _day(edge, D(2026, 3, 2), load=20.0, atl=1.0, ctl=1.0),
            _day(edge, AS_OF, load=30.0, atl=1.0, ctl=1.0),
            _day(edge, D(2026, 3, 19), load=40.0, atl=1.0, ctl=1.0),
        ],
        "journal": [
            _entry(11, edge, D(2026, 3, 1), 2.0, 10, None),
            _entry(12, edge, D(2026, 3, 2), 4.0, 10, None),
            _entry(13, edge, AS_OF, 5.0, 10, None),
            _entry(14, edge, D(2026, 3, 19), 9.0, 10, None),
        ],
        "indicators": [
            _indicator(
                edge, D(2026, 2, 20), "low_tsb", "Ends the day before.", until=D(2026, 3, 1)
            ),
            _indicator(edge, D(2026, 2, 25), "load_spike", "Ends on 2 Mar.", until=D(2026, 3, 2)),
            _indicator(edge, AS_OF, "high_monotony", "Starts on as_of."),
            _indicator(edge, D(2026, 3, 19), "journal_silence", "Starts the day after."),
            _indicator(
                edge,
                D(2026, 2, 10),
                "insufficient_data",
                "Out.",
                until=D(2026, 3, 1),
                reason="sparse_journal",
            ),
            _indicator(
                edge,
                D(2026, 2, 10),
                "insufficient_data",
                "In.",
                until=D(2026, 3, 2),
                reason="short_history",
            ),
        ],
    }
    report = client_report(
        model.ReportInputs(**make_tables(rows)), client_id=edge, code="E", as_of=AS_OF, weeks=WEEKS
    )
    assert [(i, v) for i, v in enumerate(report.load) if v is not None] == [(0, 20.0), (16, 30.0)]
    assert [(i, v) for i, v in enumerate(report.mood) if v is not None] == [(0, 4.0), (16, 5.0)]
    assert report.last_data == AS_OF
    assert [(d, code) for d, code, _ in report.indicators] == [
        (AS_OF, "high_monotony"),
        (D(2026, 2, 25), "load_spike"),
    ]
    # load_spike: 25 Feb to 2 Mar, of which 2 Mar alone is shown
    assert [(s.code, s.days, s.first, s.last) for s in report.indicator_summary] == [
        ("high_monotony", 1, AS_OF, AS_OF),
        ("load_spike", 1, D(2026, 2, 25), D(2026, 3, 2)),
    ]
    assert report.insufficient == [
        (D(2026, 2, 10), D(2026, 3, 2), model.INSUFFICIENT_WORDS["short_history"])
    ]


def test_weeks_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        client_report(inputs(), client_id=C1, code="C001", as_of=AS_OF, weeks=0)


# -- the charts -----------------------------------------------------------------------------


def test_weekly_bars_heights_are_proportional() -> None:
    text = svg.weekly_bars_svg(
        [D(2026, 3, 2), D(2026, 3, 9)], [90.0, None], [95.0, 30.0], ["green", "red"]
    )
    # axis 0-100 (ticks of 25 cover the 95 maximum); plot height 250 - 30 - 58 = 162 px
    planned = re.findall(r'class="planned"[^>]*height="([\d.]+)"', text)
    done = re.findall(r'class="done"[^>]*height="([\d.]+)" fill="([^"]+)"', text)
    assert planned == ["145.8"]  # 0.90 * 162; no bar for the week without a plan
    assert done == [("153.9", svg.BAND_COLOURS["green"]), ("48.6", svg.BAND_COLOURS["red"])]


def test_timeline_breaks_lines_at_gaps_and_shades_acwr_zones(c1: model.ClientReport) -> None:
    text = html._timeline(c1)
    assert text.startswith("<svg")
    assert text.endswith("</svg>")
    assert "0.8-1.3: usual range" in text
    assert "&gt; 1.5: load spike" in text
    assert text.count('class="zone"') == 2
    # ATL has two values a week apart with nothing between: no line, two lone dots
    values: list[float | None] = [1.0, 2.0, None, 3.0, 4.0, 5.0, None, 6.0]
    lone = svg.timeline_svg(
        [D(2026, 3, 2) + dt.timedelta(days=i) for i in range(8)],
        [svg.Panel("p", [svg.Series("s", values, "#000")])],
    )
    assert lone.count('class="line"') == 2
    assert lone.count("<circle") == 1
    assert text.count('class="marker"') == 3  # one per episode in the window


def test_nice_ticks_and_doctests() -> None:
    assert svg.nice_ticks(0, 95) == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert svg.nice_ticks(0, 1.7, 3) == [0.0, 1.0, 2.0]  # 1.7 / 3 = 0.57 -> step 1 (0.5 < 0.57)
    for module in (svg, html, model, queries, build):
        assert doctest.testmod(module).failed == 0


# -- the pages ------------------------------------------------------------------------------


def test_client_page_shows_plain_words(c1: model.ClientReport) -> None:
    page = render_client_page(c1)
    assert page.startswith("<!DOCTYPE html>")
    assert "Client C001" in page
    assert (
        "Sudden load increase</strong>: raised once (2 days in all) between 16 Mar and 17 Mar "
        "and still holds. Latest: Load is 1.7 times the usual." in page
    )
    assert "1.6 times" not in page  # only the latest explanation of an indicator is shown
    assert (
        "Weekly distance jump</strong>: raised once, on Thu 05 Mar. Latest: Distance rose 50 %."
        in page
    )
    assert "high load together with low mood or sleep, sudden load increase" in page
    assert "5/10" in page
    assert "+2" in page
    assert "Weeks with no activity and no journal entry: 16 Mar." in page
    assert "2 files refused: This file is a web page." in page
    assert page.count("<svg") == 2
    assert "<script" not in page


def test_pages_escape_and_fetch_nothing() -> None:
    report = client_report(inputs(), client_id=C1, code="<b>&", as_of=AS_OF, weeks=WEEKS)
    page = render_client_page(report)
    assert "<b>&" not in page
    assert "&lt;b&gt;&amp;" in page
    overview = render_overview(overview_rows([report]), as_of=AS_OF)
    for text in (page, overview):
        assert f'content="{html.CSP}"' in text
        assert "default-src 'none'" in html.CSP
        assert not re.search(r"(src|href)=\"(https?:)?//", text)
        assert "url(" not in text
        assert "@import" not in text
    # <, > and & each become _, then 8 hex digits of the code's SHA-256
    assert re.search(r'href="clients/_b__-[0-9a-f]{8}\.html"', overview)


def test_write_reports_end_to_end(tmp_path: Path) -> None:
    warehouse, inbox = make_warehouse(tmp_path)
    out = tmp_path / "reports"
    result = write_reports(
        warehouse=warehouse, inbox=inbox, out=out, secret=SECRET, weeks=WEEKS, as_of=AS_OF
    )
    assert result.overview == out / "index.html"
    assert sorted(result.clients) == ["C001", "C002", "id ffffffff"]
    assert result.unknown_clients == 1
    overview = (out / "index.html").read_text(encoding="utf-8")
    assert overview.index("C001") < overview.index("C002") < overview.index("id ffffffff")
    assert result.clients["C001"].is_file()
    assert result.clients["C001"].parent == out / "clients"
    assert result.clients["C001"].name.startswith("C001-")
    # codes appear only in the report, never in the warehouse
    for path in warehouse.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"C001" not in data, path
            assert b"C002" not in data, path


def test_default_as_of_is_the_last_day_with_data(tmp_path: Path) -> None:
    warehouse, inbox = make_warehouse(tmp_path)
    result = write_reports(warehouse=warehouse, inbox=inbox, out=tmp_path / "r", secret=SECRET)
    assert result.as_of == D(2026, 3, 16)  # the stranger's run; C001's last data is 11 Mar


def test_single_client_and_refusals(tmp_path: Path) -> None:
    warehouse, inbox = make_warehouse(tmp_path)
    out = tmp_path / "r"
    result = write_reports(
        warehouse=warehouse, inbox=inbox, out=out, secret=SECRET, client="C002", as_of=AS_OF
    )
    assert list(result.clients) == ["C002"]
    assert result.overview is None
    assert not (out / "index.html").exists()
    with pytest.raises(ConfigError, match="not in the roster"):
        write_reports(warehouse=warehouse, inbox=inbox, out=out, secret=SECRET, client="C999")
    with pytest.raises(ConfigError, match="outside the warehouse"):
        write_reports(warehouse=warehouse, inbox=inbox, out=warehouse / "r", secret=SECRET)
    with pytest.raises(ConfigError, match="at least 1"):
        write_reports(warehouse=warehouse, inbox=inbox, out=out, secret=SECRET, weeks=0)


def test_roster_codes_need_the_right_secret(tmp_path: Path) -> None:
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    assert roster_codes(tmp_path / "roster.csv", SECRET) == {C1: "C001", C2: "C002"}
    assert C1 not in roster_codes(tmp_path / "roster.csv", b"other")
    assert roster_codes(tmp_path / "missing.csv", SECRET) == {}


def test_load_inputs_reads_every_report_table(tmp_path: Path) -> None:
    warehouse, _ = make_warehouse(tmp_path)
    data = load_inputs(warehouse)
    assert data.weekly_adherence.height == 4
    assert data.files.height == 4
    empty = load_inputs(tmp_path / "nothing")
    assert empty.daily_load.height == 0
    assert "acwr_ewma" in empty.daily_load.columns


def test_weekly_totals_and_form_line(c1: model.ClientReport) -> None:
    # daily_load: 80 on 3 Mar, 60 on 10 Mar; the fixture's activities carry no moving time or
    # distance, so those totals are 0 (the load comes from daily_load, time and km from activities)
    assert [(w.week, w.minutes, w.distance_km, w.load) for w in c1.week_totals] == [
        (D(2026, 3, 2), 0.0, 0.0, 80.0),
        (D(2026, 3, 9), 0.0, 0.0, 60.0),
        (D(2026, 3, 16), 0.0, 0.0, 0.0),
    ]
    page = html.render_client_page(c1)
    assert "Weekly totals (every sport)" in page
    assert "Form (TSB = fitness - fatigue)" in page


def test_codes_that_differ_only_in_punctuation_or_case_get_their_own_pages() -> None:
    codes = ["A.1", "A_1", "A 1", "a1", "A1"]
    names = [html.client_page_name(code) for code in codes]
    assert len({name.lower() for name in names}) == len(codes)  # even on a case-blind disk


def test_a_client_missing_from_the_roster_is_named_after_their_folder(tmp_path: Path) -> None:
    """Issue 18: such a client was listed as ``id 54d18de1`` although staff know the folder."""
    warehouse, inbox = make_warehouse(tmp_path)
    roster = inbox / "roster.csv"
    roster.write_text(
        "\n".join(line for line in ROSTER.splitlines() if not line.startswith("C002,")) + "\n"
    )
    (inbox / "_processed" / "C002").mkdir(parents=True)  # their files were taken in
    result = write_reports(
        warehouse=warehouse, inbox=inbox, out=tmp_path / "out", secret=SECRET, as_of=AS_OF
    )
    assert sorted(result.clients) == ["C001", "C002", "id ffffffff"]
    assert result.unknown_clients == 2
    assert result.clients["C002"].name.startswith("C002-")
