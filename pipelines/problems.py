"""The inbox's open problems, with the roster read the way a run reads it."""

from __future__ import annotations

from pathlib import Path

from clinic.roster import read_roster
from schemas.errors import RosterInvalid, RowIssue
from transform.config import STALE_DEFERRAL
from warehouse.inbox import Inbox, NotRegular
from warehouse.problems import OpenProblems, inbox_problems

__all__ = ["open_problems"]


def open_problems(inbox: Path, *, now: float | None = None) -> OpenProblems:
    """Folders without a roster row, refused roster rows, stale deferrals, unhandled refusals.

    A roster that cannot be read at all is one refused "row" (line 1) saying why.
    """
    box = Inbox(inbox)
    codes: set[str] = set()
    issues: tuple[RowIssue, ...] = ()
    try:
        data = box.read_roster()  # never through a link, pipe or device
    except OSError as error:
        kind = "is not a regular file" if isinstance(error, NotRegular) else "cannot be read"
        issues = (RowIssue(line=1, message=f"roster.csv {kind}: replace it with the CSV file"),)
        data = None
    if data is not None:
        try:
            result = read_roster(data, pseudonymize=lambda code: code)
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
