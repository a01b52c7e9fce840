"""Plan reader and the later-file-wins merge."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from clinic.plan import read_plan
from schemas.errors import PlanInvalid
from schemas.plans import PlanNotes, Plans
from transform.plans import merge_plan_notes, merge_plans


def test_read_plan_rows_issues_and_notes() -> None:
    data = (
        "\ufeffweek_start,sessions,minutes,session_type,notes\n"  # 1
        "2026-03-02,3,90,easy,start gently\n"  # 2
        "2026-03-10,3,90,easy,\n"  # 3: a Tuesday
        "2026-03-16,2,45.5,RUN_WALK,\n"  # 4: fine, case-insensitive type
        "2026-03-16,4,120,easy,\n"  # 5: week again
        "2026-03-23,3,90,tempo,\n"  # 6: unknown type
        "2026-03-30,0,0,,rest week\n"  # 7: rest week
        "2026-04-06,2,0,,\n"  # 8: sessions without minutes
        "2026-04-13,-1,30,,\n"  # 9: negative sessions
        "2026-04-20,3,\n"  # 10: short row
        "04/27/2026,3,90,,\n"  # 11: not ISO
    ).encode()
    result = read_plan(data, client_id="c1")
    assert [(i.line, i.column) for i in result.issues] == [
        (3, "week_start"),
        (5, "week_start"),
        (6, "session_type"),
        (8, "minutes"),
        (9, "sessions"),
        (10, None),
        (11, "week_start"),
    ]
    assert result.issues[0].message == (
        "week_start 2026-03-10 is a Tuesday, not a Monday; row skipped"
    )
    assert result.plans.rows() == [
        ("c1", date(2026, 3, 2), 3, 90.0, "easy"),
        ("c1", date(2026, 3, 16), 2, 45.5, "run_walk"),
        ("c1", date(2026, 3, 30), 0, 0.0, None),
    ]
    assert result.notes.rows() == [
        ("c1", date(2026, 3, 2), "start gently"),
        ("c1", date(2026, 3, 30), "rest week"),
    ]
    assert "notes" not in result.plans.columns
    Plans.validate(result.plans)
    PlanNotes.validate(result.notes)


def test_minimal_columns() -> None:
    result = read_plan(b"minutes,sessions,week_start\n60,2,2026-03-02\n", client_id="c1")
    assert result.plans.rows() == [("c1", date(2026, 3, 2), 2, 60.0, None)]
    assert result.notes.height == 0


@pytest.mark.parametrize(
    "data",
    [
        b"week_start,sessions\n2026-03-02,3\n",
        b"week_start,sessions,minutes,colour\n2026-03-02,3,90,red\n",
        b"week_start,sessions,minutes,minutes\n2026-03-02,3,90,90\n",
        b"\xff\xfe",
        b"",
    ],
)
def test_plan_invalid_as_a_whole(data: bytes) -> None:
    with pytest.raises(PlanInvalid) as info:
        read_plan(data, client_id="c1")
    assert info.value.reason_code == "plan_invalid"


def test_later_plan_file_overrides_same_weeks_only() -> None:
    first = read_plan(
        b"week_start,sessions,minutes,notes\n"
        b"2026-03-02,2,40,first week\n2026-03-09,2,50,keep going\n2026-03-16,2,60,\n",
        client_id="c1",
    )
    revision = read_plan(
        b"week_start,sessions,minutes,session_type,notes\n"
        b"2026-03-09,3,45,run_walk,\n2026-03-23,3,70,easy,new week\n",
        client_id="c1",
    )
    other_client = read_plan(b"week_start,sessions,minutes\n2026-03-09,1,20\n", client_id="c2")
    files = [first, revision, other_client]
    merged = merge_plans([f.plans for f in files])
    assert merged.rows() == [
        ("c1", date(2026, 3, 2), 2, 40.0, None),
        ("c1", date(2026, 3, 9), 3, 45.0, "run_walk"),
        ("c1", date(2026, 3, 16), 2, 60.0, None),
        ("c1", date(2026, 3, 23), 3, 70.0, "easy"),
        ("c2", date(2026, 3, 9), 1, 20.0, None),
    ]
    Plans.validate(merged)
    notes = merge_plan_notes([f.plans for f in files], [f.notes for f in files])
    # Week 2026-03-09 was revised without a note: the old note about it is dropped.
    assert notes.rows() == [
        ("c1", date(2026, 3, 2), "first week"),
        ("c1", date(2026, 3, 23), "new week"),
    ]
    # Arrival order matters: the same files the other way round.
    reversed_merge = merge_plans([revision.plans, first.plans])
    assert reversed_merge.filter(pl.col("week_start") == date(2026, 3, 9))["minutes"].item() == 50.0
