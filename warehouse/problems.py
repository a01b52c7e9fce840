"""Open problems of the inbox: what stays wrong until staff fix it, whatever the last run saw.

Read from the inbox itself, the one place where each problem is fixed (a roster row added, a
half-copied file removed, a refused file dealt with), so that a problem is listed exactly while it
is open and no state can go stale. Staff-facing only: the client folders' names (client codes)
appear here and must never be written to the warehouse, the run log or a flow's log.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from schemas.errors import RowIssue
from warehouse.inbox import QUARANTINE, REASON_SUFFIX, Inbox

__all__ = ["OpenProblems", "StaleFile", "inbox_problems"]


@dataclass(frozen=True)
class StaleFile:
    """A file deferred as still arriving for longer than the allowed time."""

    folder: str
    path: str
    """Relative to the client's folder."""
    hours: float
    """Since its last modification."""


@dataclass(frozen=True)
class OpenProblems:
    """What needs someone's attention in the inbox (see the module docstring)."""

    folders_without_roster: tuple[str, ...] = ()
    roster_rows_refused: tuple[RowIssue, ...] = ()
    stale_files: tuple[StaleFile, ...] = ()
    quarantined: dict[str, int] = field(default_factory=dict)
    """Client folder -> refused files still in ``_quarantine`` (their notes not counted)."""

    @property
    def count(self) -> int:
        """How many problems are open (each refused file counts as one)."""
        return (
            len(self.folders_without_roster)
            + len(self.roster_rows_refused)
            + len(self.stale_files)
            + sum(self.quarantined.values())
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (for ``status --json``)."""
        return {
            "count": self.count,
            "folders_without_roster": list(self.folders_without_roster),
            "roster_rows_refused": [
                {"line": i.line, "message": i.message} for i in self.roster_rows_refused
            ],
            "stale_files": [
                {"folder": s.folder, "path": s.path, "hours": s.hours} for s in self.stale_files
            ],
            "quarantined": dict(self.quarantined),
        }


def inbox_problems(
    inbox: Inbox,
    *,
    roster_codes: set[str],
    roster_issues: tuple[RowIssue, ...] = (),
    stale_after_s: float,
    now: float | None = None,
) -> OpenProblems:
    """List the inbox's open problems.

    Parameters
    ----------
    inbox
        The drop folder.
    roster_codes
        The client codes that have a roster row (accepted rows only).
    roster_issues
        The roster's refused rows, as its reader reported them.
    stale_after_s
        A file still arriving for longer than this (since it was last modified) is listed.
    now
        The time (epoch seconds) to measure against; default the clock.
    """
    now = time.time() if now is None else now
    folders = inbox.client_folders()
    without = tuple(f.name for f in folders if f.name not in roster_codes)
    stale = []
    for candidate in inbox.candidates():
        age = now - candidate.mtime_ns / 1e9
        if age > stale_after_s and inbox.still_arriving(candidate, now=now):
            relative = candidate.path.relative_to(inbox.root / candidate.client_code)
            stale.append(StaleFile(candidate.client_code, str(relative), round(age / 3600, 1)))
    refused: Counter[str] = Counter()
    area = inbox.root / QUARANTINE
    if area.is_dir():
        for folder in sorted(p for p in area.iterdir() if p.is_dir()):
            for path in folder.rglob("*"):
                if path.is_file() and not path.name.endswith(REASON_SUFFIX):
                    refused[folder.name] += 1
    return OpenProblems(
        folders_without_roster=without,
        roster_rows_refused=tuple(roster_issues),
        stale_files=tuple(stale),
        quarantined=dict(sorted(refused.items())),
    )
