"""The inbox's open problems, with the roster read the way a run reads it."""

from __future__ import annotations

from pathlib import Path

from clinic.roster import read_roster
from schemas.errors import RosterInvalid, RowIssue
from transform.config import STALE_DEFERRAL
from warehouse.inbox import Inbox
from warehouse.problems import OpenProblems, inbox_problems

__all__ = ["open_problems"]


def open_problems(inbox: Path, *, now: float | None = None) -> OpenProblems:
    """Folders without a roster row, refused roster rows, stale deferrals, unhandled refusals.

    A roster that cannot be read at all is one refused "row" (line 1) saying why.
    """
    box = Inbox(inbox)
    codes: set[str] = set()
    issues: tuple[RowIssue, ...] = ()
    if box.roster_path.is_file():
        try:
            result = read_roster(box.roster_path.read_bytes(), pseudonymize=lambda code: code)
        except RosterInvalid as error:
            issues = (RowIssue(line=1, message=f"roster.csv cannot be read: {error.message}"),)
        else:
            codes, issues = set(result.client_ids), result.issues
    return inbox_problems(
        box,
        roster_codes=codes,
        roster_issues=issues,
        stale_after_s=STALE_DEFERRAL.total_seconds(),
        now=now,
    )
