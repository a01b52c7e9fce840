"""The staff-facing drop folder: finding new files, and moving them once judged.

Layout (see the README)::

    <inbox>/roster.csv
    <inbox>/<client_code>/...                 files dropped by staff (sub-folders allowed)
    <inbox>/_processed/<client_code>/...      files taken in, untouched
    <inbox>/_quarantine/<client_code>/...     files refused, each with <name>.reason.txt
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from warehouse.files import remove_stale_temps, write_private

__all__ = ["Candidate", "Inbox"]

PROCESSED = "_processed"
QUARANTINE = "_quarantine"
PARTIAL_SUFFIXES = (".part", ".crdownload", ".partial", ".download", ".tmp", ".filepart")
"""Names that browsers and copy tools give files still being written."""
ROSTER_NAME = "roster.csv"
FILE_MODE = 0o600
"""Files moved into ``_processed`` and ``_quarantine`` are readable by their owner only."""


@dataclass(frozen=True)
class Candidate:
    """A file found in a client's folder."""

    client_code: str
    path: Path
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        """The file's name (for notes to staff only; never stored in the warehouse)."""
        return self.path.name


class Inbox:
    """Read and tidy the drop folder."""

    def __init__(self, root: Path, *, settle_seconds: float = 2.0) -> None:
        self.root = root
        self.settle_seconds = settle_seconds

    @property
    def roster_path(self) -> Path:
        """``<inbox>/roster.csv``."""
        return self.root / ROSTER_NAME

    def client_folders(self) -> list[Path]:
        """Client folders: every folder not starting with ``_`` or ``.``, sorted by name."""
        if not self.root.is_dir():
            return []
        return sorted(
            p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
        )

    def client_areas(self, code: str) -> list[Path]:
        """The client's folders: ``<code>``, ``_processed/<code>`` and ``_quarantine/<code>``.

        Raises
        ------
        ValueError
            ``code`` is not a plain folder name (it would name a folder outside these).
        """
        if not code or code.startswith(("_", ".")) or Path(code).name != code:
            raise ValueError(f"{code!r} is not a client folder name")
        return [self.root / code, self.root / PROCESSED / code, self.root / QUARANTINE / code]

    def candidates(self) -> Iterator[Candidate]:
        """Every regular file in the client folders, in a stable order (symlinks are ignored)."""
        for folder in self.client_folders():
            for path in sorted(folder.rglob("*")):
                if path.is_symlink() or not path.is_file():
                    continue
                if any(part.startswith(".") for part in path.relative_to(folder).parts):
                    continue
                st = path.stat()
                yield Candidate(folder.name, path, st.st_size, st.st_mtime_ns)

    def still_arriving(self, candidate: Candidate, *, now: float | None = None) -> bool:
        """True when a file looks like it is still being copied.

        Its name ends like a partial download, its size or mtime changed since it was found, or it
        was modified less than ``settle_seconds`` ago.
        """
        if candidate.path.name.lower().endswith(PARTIAL_SUFFIXES):
            return True
        try:
            st = candidate.path.stat()
        except FileNotFoundError:
            return True
        if (st.st_size, st.st_mtime_ns) != (candidate.size, candidate.mtime_ns):
            return True
        now = time.time() if now is None else now
        return now - st.st_mtime_ns / 1e9 < self.settle_seconds

    def settling(self, *, now: float | None = None) -> list[Candidate]:
        """Files modified less than ``settle_seconds`` ago (partial-download names left out).

        What a manual run waits for (:meth:`wait_until_settled`) rather than defer: a copy that
        ended a moment ago. A ``.part`` name is not waited for; it is deferred.
        """
        now = time.time() if now is None else now
        return [
            c
            for c in self.candidates()
            if not c.path.name.lower().endswith(PARTIAL_SUFFIXES)
            and now - c.mtime_ns / 1e9 < self.settle_seconds
        ]

    def wait_until_settled(
        self,
        files: list[Candidate],
        *,
        deadline: float,
        poll_s: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> int:
        """Wait until none of ``files`` was modified within ``settle_seconds``, or ``deadline``.

        ``deadline`` is on ``clock``'s scale. Returns how many are still settling at the end
        (the run defers those).
        """
        waiting = {c.path for c in files}
        while True:
            wall = time.time()
            waiting = {p for p in waiting if _modified_within(p, self.settle_seconds, wall)}
            left = deadline - clock()
            if not waiting or left <= 0:
                return len(waiting)
            sleep(min(poll_s, left))

    def _target(self, area: str, candidate: Candidate, data_sha256: str) -> Path:
        folder = self.root / area / candidate.client_code
        relative = candidate.path.relative_to(self.root / candidate.client_code)
        target = folder / relative
        if target.exists():
            same = hashlib.sha256(target.read_bytes()).hexdigest() == data_sha256
            if not same:
                target = target.with_name(f"{target.stem}.{data_sha256[:8]}{target.suffix}")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        return target

    def move_processed(self, candidate: Candidate, data_sha256: str) -> Path:
        """Move a file that was taken in to ``_processed/<client>/`` (never deletes content)."""
        target = self._target(PROCESSED, candidate, data_sha256)
        candidate.path.replace(target)
        target.chmod(FILE_MODE)
        return target

    def quarantine(self, candidate: Candidate, data_sha256: str, note: str) -> Path:
        """Move a refused file to ``_quarantine/<client>/`` with ``<name>.reason.txt`` beside it."""
        target = self._target(QUARANTINE, candidate, data_sha256)
        reason = target.with_name(target.name + ".reason.txt")
        remove_stale_temps(reason)
        write_private(reason, note, mode=FILE_MODE)
        candidate.path.replace(target)
        target.chmod(FILE_MODE)
        return target

    def note_beside_processed(self, candidate: Candidate, data_sha256: str, note: str) -> Path:
        """Write ``<name>.note.txt`` beside a file in ``_processed`` that was taken in with a remark.

        Used for files taken in only in part (a salvaged FIT, an archive with refused members), for
        duplicates and for valid files that hold no workout: staff see why next to the original.
        """
        target = self._target(PROCESSED, candidate, data_sha256)
        note_path = target.with_name(target.name + ".note.txt")
        remove_stale_temps(note_path)
        write_private(note_path, note, mode=FILE_MODE)
        return note_path


def _modified_within(path: Path, seconds: float, now: float) -> bool:
    """Whether ``path`` was modified less than ``seconds`` before ``now`` (a gone file was not)."""
    try:
        return now - path.stat().st_mtime_ns / 1e9 < seconds
    except FileNotFoundError:
        return False
