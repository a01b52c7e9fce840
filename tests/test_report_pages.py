"""The report pages of a clinic of several clients, byte for byte as they were before issue 14.

Issue 14 made the report model compute every client at once (one query per table for the whole
clinic) instead of running its queries client by client. The pages must not change by a byte.
The oracle is ``tests/golden/report_pages/``: the overview and client pages that
``write_reports`` wrote for the clinic below at commit 750c2b1 (main before issue 14, the
per-client model), not pages written by the code under test. Regenerate them (:func:`write_golden`)
only for a change meant to alter the pages, and say so in the commit.

The clinic is the hand-written one of ``test_report.py`` (C001, C002 and a client missing from
the roster) plus three roster clients written here for the corners a clinic-wide query can get
wrong: C003 has rows of every table before, inside and after the window (two runs on one day,
two episodes of one indicator, one clipped by the window's start, tied insufficient-data rows,
refused files with and without a reason, unknown quality flags, moving time and distance); C004
is on the roster with no row anywhere; C005's only data lies before the window.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from report.build import write_reports
from tests.test_report import (
    AS_OF,
    ROSTER,
    SECRET,
    _activity,
    _day,
    _entry,
    _indicator,
    _utc,
    _week,
    make_tables,
    make_warehouse,
)
from warehouse.secret import pseudonymize

GOLDEN = Path(__file__).parent / "golden" / "report_pages"
WEEKS = 4  # Mondays 23 Feb to 16 Mar; as_of Wednesday 18 Mar
GENERATED = dt.datetime(2026, 3, 19, 2, 0, tzinfo=dt.UTC)
C3, C4, C5 = (pseudonymize(code, SECRET) for code in ("C003", "C004", "C005"))
CLINIC_ROSTER = ROSTER + "C003,f,1979,50,175,UTC\nC004,m,2001,62,195,UTC\nC005,f,1968,58,170,UTC\n"
D = dt.date


def _run(
    aid: str, day: dt.date, hour: int, km: float | None, minutes: float, **mood: Any
) -> dict[str, Any]:
    pre, post = mood.get("pre_mood"), mood.get("post_mood")
    return {
        "activity_id": aid,
        "client_id": C3,
        "sport": mood.pop("sport", "running"),
        "local_date": day,
        "start_utc": _utc(day, hour),
        "distance_m": None if km is None else km * 1000,
        "moving_time_s": minutes * 60,
        "pre_found": pre is not None,
        "pre_entry_id": None if pre is None else f"pre-{aid}",
        "post_found": post is not None,
        "post_entry_id": None if post is None else f"post-{aid}",
        **mood,
    }


def _moved(
    aid: str, day: dt.date | None, minutes: float, km: float, flags: str = ""
) -> dict[str, Any]:
    return {
        **_activity(C3, aid, day, "running", flags),
        "moving_time_s": minutes * 60,
        "distance_m": km * 1000,
    }


def _refused(n: int, client: str, reason: str | None) -> dict[str, Any]:
    return {
        "sha256": f"{n:064x}",
        "client_id": client,
        "outcome": "quarantined",
        "reason_code": "html_page",
        "reason_message": reason,
    }


def extra_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows of C003 and C005 (none of C004) for each table."""
    daily = [
        _day(C3, D(2026, 2, 16), load=20.0, atl=5.0, ctl=9.0, tsb=4.0),  # before the window
        _day(C3, D(2026, 2, 24), load=30.0, atl=8.0, ctl=9.5, tsb=1.5, acwr_ewma=0.9),
        _day(C3, D(2026, 2, 25), load=55.0, atl=14.0, ctl=10.2, tsb=-3.8, acwr_ewma=1.4),
        _day(C3, D(2026, 2, 26), load=0.0, atl=12.1, ctl=10.0, tsb=-2.1, acwr_ewma=1.2),
        _day(
            C3,
            D(2026, 3, 4),
            load=140.0,
            atl=30.4,
            ctl=13.3,
            tsb=-17.1,
            acwr_ewma=2.4,
            mood_week_mean_frac=0.35,
            sleep_week_mean_h=5.5,
        ),
        _day(C3, D(2026, 3, 5), load=12.0, atl=26.3, ctl=13.0, tsb=-13.3, acwr_ewma=2.05),
        _day(C3, D(2026, 3, 12), load=45.5, atl=20.0, ctl=14.2, tsb=-6.1, mood_week_mean_frac=0.5),
        _day(C3, D(2026, 3, 18), load=25.25, atl=15.0, ctl=14.0, tsb=-1.0, acwr_ewma=1.05),
        _day(C3, D(2026, 3, 19), load=99.0, atl=40.0, ctl=20.0, tsb=-20.0),  # after as_of
        _day(C5, D(2026, 2, 2), load=35.0, atl=4.0, ctl=1.0, tsb=-3.0),
    ]
    journal = [
        _entry(101, C3, D(2026, 2, 20), 2.0, 5, 9.0),  # before the window
        _entry(102, C3, D(2026, 2, 24), 3.0, 10, 4.5),
        _entry(103, C3, D(2026, 2, 24), 4.0, 5, 5.25),  # same day: (3 + 8) / 2 = 5.5 of 10
        _entry(104, C3, D(2026, 3, 4), 1.0, 5, None),
        _entry(105, C3, D(2026, 3, 12), 9.0, 10, 7.75),
        _entry(106, C3, D(2026, 3, 19), 5.0, 5, 8.0),  # after as_of
        _entry(107, C5, D(2026, 2, 3), 6.0, 10, 7.0),
    ]
    runs = [
        _run("c1", D(2026, 2, 24), 6, 4.2, 28.5, pre_mood=3.0, pre_mood_scale_max=10),
        _run(
            "c2",
            D(2026, 3, 4),
            7,
            8.0,
            51.0,
            pre_mood=4.0,
            pre_mood_scale_max=5,
            post_mood=2.0,
            post_mood_scale_max=5,
            mood_change=-2.0,
            post_rpe=9.0,
        ),
        _run(
            "c3",
            D(2026, 3, 4),
            18,
            None,
            12.0,
            pre_mood=2.0,
            pre_mood_scale_max=5,
            post_mood=2.0,
            post_mood_scale_max=5,
            mood_change=0.0,
        ),
        _run("c4", D(2026, 3, 12), 7, 10.55, 64.25, post_mood=8.0, post_mood_scale_max=10),
        _run("c5", D(2026, 3, 19), 7, 5.0, 30.0),  # after as_of
        _run("c6", D(2026, 2, 20), 7, 5.0, 30.0),  # before the window
        _run("c7", D(2026, 3, 12), 19, 3.0, 40.0, sport="cycling"),
    ]
    raised = [
        _indicator(C3, D(2026, 2, 10), "low_tsb", "Ended before the window.", until=D(2026, 2, 20)),
        _indicator(C3, D(2026, 2, 20), "load_spike", "Spike from before.", until=D(2026, 2, 25)),
        _indicator(C3, D(2026, 3, 2), "load_spike", "Spike again.", until=D(2026, 3, 5)),
        _indicator(C3, D(2026, 3, 4), "high_monotony", "Same load every day."),
        _indicator(
            C3,
            D(2026, 3, 12),
            "sustained_low_mood",
            "Mood low for 10 days.",
            until=D(2026, 3, 21),
            ongoing=True,
        ),
        _indicator(C3, D(2026, 3, 19), "journal_silence", "After as_of."),
        _indicator(
            C3,
            D(2026, 2, 16),
            "insufficient_data",
            "Sparse journal.",
            until=D(2026, 3, 1),
            reason="sparse_journal",
        ),
        _indicator(
            C3,
            D(2026, 2, 16),
            "insufficient_data",
            "Short history.",
            until=D(2026, 3, 8),
            reason="short_history_acwr",
        ),
        _indicator(C5, D(2026, 2, 2), "distance_jump", "Long ago.", until=D(2026, 2, 3)),
    ]
    activities = [
        _moved("c6", D(2026, 2, 20), 30.0, 5.0, "recovered"),  # before the window: no note
        _moved("c1", D(2026, 2, 24), 28.5, 4.2, "values_refused,timezone_unknown"),
        _moved("c2", D(2026, 3, 4), 51.0, 8.0, "watch_glitch,recovered"),
        _moved("c3", D(2026, 3, 4), 12.0, 0.0),
        _moved("c4", D(2026, 3, 12), 64.25, 10.55, ",values_refused,"),
        {**_moved("c7", D(2026, 3, 12), 40.0, 3.0), "sport": "cycling"},
        _moved("c8", None, 10.0, 1.0, "clock_not_set,watch_glitch"),
        _moved("c5", D(2026, 3, 19), 30.0, 5.0, "sport_inferred"),  # after as_of: no note
        _activity(C5, "e1", D(2026, 2, 2), "walking", "sport_inferred"),
    ]
    files = [
        _refused(101, C3, None),
        _refused(102, C3, None),
        _refused(103, C3, "This file is a web page."),
        _refused(104, C3, "This file is a web page."),
        _refused(105, C3, "The file is cut short."),
        {**_refused(106, C3, None), "outcome": "ingested", "reason_code": None},
        _refused(107, C5, "Not a watch file."),
    ]
    weekly = [
        _week(C3, D(2026, 2, 16), 60.0, 61.0, "green"),  # before the window
        _week(C3, D(2026, 2, 23), None, 28.5, "no_plan"),
        _week(C3, D(2026, 3, 2), 120.0, 63.0, "yellow"),
        _week(C3, D(2026, 3, 9), 0.0, 64.25, "rest"),
        _week(C3, D(2026, 3, 16), 90.0, 0.0, "red"),
        _week(C3, D(2026, 3, 23), 90.0, 30.0, "red"),  # after as_of
        _week(C5, D(2026, 2, 2), 30.0, 0.0, "red"),
    ]
    return {
        "weekly_adherence": weekly,
        "daily_load": daily,
        "journal": journal,
        "run_journal": runs,
        "indicators": raised,
        "activities": activities,
        "files": files,
    }


def build_pages(root: Path, *, client: str | None = None) -> dict[str, bytes]:
    """Write the clinic's reports; return each page's bytes by its path under the output folder."""
    warehouse, inbox = make_warehouse(root, make_tables(extra_rows()), CLINIC_ROSTER)
    out = root / "reports"
    write_reports(
        warehouse=warehouse,
        inbox=inbox,
        out=out,
        secret=SECRET,
        client=client,
        weeks=WEEKS,
        as_of=AS_OF,
        generated=GENERATED,
    )
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def write_golden(root: Path) -> None:
    """Rewrite ``tests/golden/report_pages`` (only for a change meant to alter the pages)."""
    for name, data in build_pages(root).items():
        path = GOLDEN / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def golden_pages() -> dict[str, bytes]:
    return {p.relative_to(GOLDEN).as_posix(): p.read_bytes() for p in GOLDEN.rglob("*.html")}


def test_the_clinic_pages_are_byte_identical_to_the_per_client_model(tmp_path: Path) -> None:
    expected = golden_pages()
    # the overview and six client pages: five roster clients and the one missing from the roster
    assert len(expected) == 7
    pages = build_pages(tmp_path)
    assert sorted(pages) == sorted(expected)
    for name, data in expected.items():
        assert pages[name] == data, name


def test_one_client_alone_gets_the_same_page(tmp_path: Path) -> None:
    pages = build_pages(tmp_path, client="C003")
    [(name, data)] = pages.items()
    assert data == golden_pages()[name]
