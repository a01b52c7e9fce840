"""Open problems stay listed in ``mindmiles status`` and the report overview until fixed.

Issue 18: a folder without a roster row was mentioned only while the last run had one, and a
``.part`` file left in a folder was deferred every night, named nowhere.
"""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from pipelines.problems import open_problems
from report.html import render_overview

ROSTER = (
    "client_code,sex,birth_year,hr_rest,hr_max,timezone\n"
    "A01,f,1990,55,185,Europe/London\n"
    "A02,f,1990,55,999,Europe/London\n"  # refused: hr_max out of range
)
HOURS = 3600


def _inbox(root: Path) -> Path:
    inbox = root / "inbox"
    for folder in ("A01", "B02", "_processed/A01", "_quarantine/A01"):
        (inbox / folder).mkdir(parents=True)
    (inbox / "roster.csv").write_text(ROSTER)
    stale = inbox / "A01" / "morning.fit.part"
    stale.write_bytes(b"half")
    then = time.time() - 2 * HOURS
    os.utime(stale, (then, then))
    (inbox / "A01" / "copying.fit.part").write_bytes(b"just now")  # a copy under way
    (inbox / "A01" / "done.fit").write_bytes(b"x")
    os.utime(inbox / "A01" / "done.fit", (then, then))  # settled long ago: not a problem
    (inbox / "_quarantine" / "A01" / "web.fit").write_bytes(b"<html>")
    (inbox / "_quarantine" / "A01" / "web.fit.reason.txt").write_text("why")
    return inbox


def test_open_problems_are_listed_until_fixed(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    problems = open_problems(inbox)
    assert problems.folders_without_roster == ("B02",)
    assert [issue.line for issue in problems.roster_rows_refused] == [3]
    assert [(s.folder, s.path, s.hours) for s in problems.stale_files] == [
        ("A01", "morning.fit.part", 2.0)
    ]
    assert problems.quarantined == {"A01": 1}
    assert problems.count == 4
    # Fixed one by one, each disappears; nothing else decides (no run in between)
    (inbox / "roster.csv").write_text(
        ROSTER.replace(",999,", ",185,") + "B02,m,1980,60,180,Europe/Berlin\n"
    )
    (inbox / "A01" / "morning.fit.part").unlink()
    (inbox / "_quarantine" / "A01" / "web.fit").unlink()
    assert open_problems(inbox).count == 0


def test_a_linked_roster_is_a_problem_and_never_read_through(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    outside = tmp_path / "secret.csv"
    outside.write_text(ROSTER.replace("A01", "LEAKED"))
    (inbox / "roster.csv").unlink()
    (inbox / "roster.csv").symlink_to(outside)
    problems = open_problems(inbox)
    assert [(i.line, i.message) for i in problems.roster_rows_refused] == [
        (1, "roster.csv is not a regular file: replace it with the CSV file")
    ]
    # no roster read: every client folder lacks a row, and nothing of the linked file shows
    assert problems.folders_without_roster == ("A01", "B02")
    assert "LEAKED" not in repr(problems)


def test_status_lists_open_problems_by_folder_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = _inbox(tmp_path)
    warehouse = tmp_path / "warehouse"
    (warehouse / ".state").mkdir(parents=True)  # a warehouse before its first table
    monkeypatch.delenv("MINDMILES_INBOX", raising=False)
    out = io.StringIO()
    argv = ["status", "--warehouse", str(warehouse), "--inbox", str(inbox)]
    assert main(argv, out=out) == 0
    text = out.getvalue()
    assert "Open problems (4)" in text
    assert "folder B02 has no row in roster.csv" in text
    assert "roster.csv line 3 refused" in text
    assert "A01/morning.fit.part has looked half-copied for 2.0 h" in text
    assert "1 refused file(s) in _quarantine/A01/" in text
    out = io.StringIO()
    assert main([*argv, "--json"], out=out) == 0
    listed = json.loads(out.getvalue())["open_problems"]
    assert listed["folders_without_roster"] == ["B02"]
    assert listed["quarantined"] == {"A01": 1}
    # Without an inbox, status still works and says nothing of them
    out = io.StringIO()
    assert main(["status", "--warehouse", str(warehouse)], out=out) == 0
    assert "Open problems" not in out.getvalue()


def test_the_overview_lists_open_problems(tmp_path: Path) -> None:
    import datetime as dt

    problems = open_problems(_inbox(tmp_path))
    page = render_overview([], as_of=dt.date(2026, 4, 1), problems=problems)
    assert "Open problems (4)" in page
    assert "<b>B02</b> has no row in roster.csv" in page
    assert "A01/morning.fit.part" in page
    assert "Open problems" not in render_overview([], as_of=dt.date(2026, 4, 1))
