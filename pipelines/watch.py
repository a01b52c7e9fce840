"""A cheap folder watch: which inbox files are new and have stopped changing.

Prefect has no folder watcher, so the serving process polls the inbox with this class. A poll only
lists the client folders and ``stat``s their files (no reading, no hashing); it costs a few
milliseconds for hundreds of waiting files, because taken-in files live under ``_processed`` which is
never walked. A file becomes *ready* when

- its name is not that of a partial download (``.part``, ``.crdownload``, ... see
  :data:`warehouse.inbox.PARTIAL_SUFFIXES`);
- its size and mtime were the same in ``stable_checks`` consecutive polls; and
- it was last modified at least ``settle_seconds`` ago (the run's own "still being copied" rule).

A ready file is reported once: after :meth:`InboxWatcher.mark_handled`, it is reported again only if
its size or mtime changes (a file a run left in place, e.g. one it deferred, is not retried in a
loop; the nightly run takes it). ``roster.csv`` is watched too; the copy found by the first poll is
taken as already handled, so starting the watch never starts a run for an unchanged roster.

Nothing here logs a path: folder names are client codes, which never reach logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from warehouse.inbox import PARTIAL_SUFFIXES, Inbox

__all__ = ["FileSignature", "InboxWatcher", "WatchPoll"]


@dataclass(frozen=True)
class FileSignature:
    """What a poll knows of a file: its size and modification time (nanoseconds)."""

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class WatchPoll:
    """The outcome of one poll.

    Attributes
    ----------
    ready
        Files that are new (never handled, or changed since) and have stopped changing.
    waiting
        New files not ready yet: still changing, too recent, or named like a partial download.
    settles_in
        Seconds until the first waiting file is old enough to be ready (its copy seemingly over),
        ``None`` when none waits for that: the watch looks again then rather than a poll later.
    """

    ready: tuple[Path, ...]
    waiting: int
    settles_in: float | None = None


class InboxWatcher:
    """Poll an inbox for new files that have stopped changing.

    Parameters
    ----------
    inbox
        The drop folder (``<inbox>/<client_code>/...`` and ``<inbox>/roster.csv``).
    stable_checks
        Consecutive polls that must see the same size and mtime before a file is ready (>= 2).
    settle_seconds
        A file modified more recently than this is not ready.
    clock
        Wall-clock seconds (``time.time``); a parameter so tests can move time.

    Examples
    --------
    >>> import tempfile
    >>> watcher = InboxWatcher(Path(tempfile.mkdtemp()), settle_seconds=0.0)
    >>> watcher.poll()
    WatchPoll(ready=(), waiting=0, settles_in=None)
    """

    def __init__(
        self,
        inbox: Path,
        *,
        stable_checks: int = 2,
        settle_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if stable_checks < 2:
            raise ValueError("stable_checks must be at least 2 (one look cannot show stability)")
        self._inbox = Inbox(inbox, settle_seconds=settle_seconds)
        self._stable_checks = stable_checks
        self._settle_s = settle_seconds
        self._clock = clock
        self._seen: dict[Path, tuple[FileSignature, int]] = {}
        """path -> (signature at the last poll, consecutive polls with that signature)."""
        self._handled: dict[Path, FileSignature] = {}
        self._first_poll = True

    def _scan(self) -> dict[Path, FileSignature]:
        found = {c.path: FileSignature(c.size, c.mtime_ns) for c in self._inbox.candidates()}
        roster = self._inbox.roster_path
        try:
            st = roster.stat()
        except FileNotFoundError:
            return found
        found[roster] = FileSignature(st.st_size, st.st_mtime_ns)
        return found

    def poll(self) -> WatchPoll:
        """Look at the inbox once (``stat`` only) and say which new files are ready."""
        current = self._scan()
        if self._first_poll:
            roster = self._inbox.roster_path
            if roster in current:
                self._handled[roster] = current[roster]
            self._first_poll = False
        now = self._clock()
        ready: list[Path] = []
        waiting = 0
        settles_in: float | None = None
        for path, signature in current.items():
            if self._handled.get(path) == signature:
                continue
            previous = self._seen.get(path)
            checks = previous[1] + 1 if previous is not None and previous[0] == signature else 1
            self._seen[path] = (signature, checks)
            partial = path.name.lower().endswith(PARTIAL_SUFFIXES)
            settled = now - signature.mtime_ns / 1e9 >= self._settle_s
            if not partial and settled and checks >= self._stable_checks:
                ready.append(path)
                continue
            waiting += 1
            if not partial and not settled:
                left = self._settle_s - (now - signature.mtime_ns / 1e9)
                settles_in = left if settles_in is None else min(settles_in, left)
        for gone in set(self._seen) - set(current):
            del self._seen[gone]
        for gone in set(self._handled) - set(current):
            del self._handled[gone]
        return WatchPoll(ready=tuple(sorted(ready)), waiting=waiting, settles_in=settles_in)

    def mark_handled(self, paths: tuple[Path, ...]) -> None:
        """Record that a run was started for ``paths`` (as they were at the last poll)."""
        for path in paths:
            seen = self._seen.pop(path, None)
            if seen is not None:
                self._handled[path] = seen[0]
