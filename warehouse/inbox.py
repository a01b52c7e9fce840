"""The staff-facing drop folder: finding new files, and moving them once judged.

Layout (see the README)::

    <inbox>/roster.csv
    <inbox>/<client_code>/...                 files dropped by staff (sub-folders allowed)
    <inbox>/_processed/<client_code>/...      files taken in, untouched
    <inbox>/_quarantine/<client_code>/...     files refused, each with <name>.reason.txt

The walk never follows a symbolic link and never writes outside the inbox:

- a link (to a file or a folder), a pipe, a socket or a device node in the inbox is never opened:
  it is an :class:`Oddity`, moved (the entry itself, by rename) to ``_quarantine`` with a note;
- ``_processed``, ``_quarantine`` or any folder below them that is a link is replaced by a real
  folder (the link is removed, what it pointed to is untouched);
- a file with more than one hard link is copied to ``_processed``/``_quarantine`` and its name in
  the inbox removed: the other names keep their content and their mode;
- a file whose size, modification time or inode changed between being found, read and moved is
  left where it is (deferred to the next run);
- notes get bounded names (:func:`note_path`) and file names are quoted safely in their text
  (:func:`display_name`); a name taken by a folder (or a file) in the target gets a suffix.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.files import remove_stale_temps, write_private

__all__ = [
    "Candidate",
    "FileChanged",
    "Inbox",
    "NotRegular",
    "Oddity",
    "display_name",
    "note_path",
    "read_regular",
]

log = logging.getLogger(__name__)

PROCESSED = "_processed"
QUARANTINE = "_quarantine"
REASON_SUFFIX = ".reason.txt"
"""Beside a refused file: why it was refused, for staff."""
NOTE_SUFFIX = ".note.txt"
"""Beside a processed file: what staff should know of it (received for another client too)."""
PARTIAL_SUFFIXES = (".part", ".crdownload", ".partial", ".download", ".tmp", ".filepart")
"""Names that browsers and copy tools give files still being written."""
ROSTER_NAME = "roster.csv"
FILE_MODE = 0o600
"""Files moved into ``_processed`` and ``_quarantine`` are readable by their owner only."""
NAME_MAX = 255
"""Longest file name, in bytes, that the common file systems take (ext4, XFS, APFS, NTFS)."""
NAME_BUDGET = NAME_MAX - 38
"""Longest name given to a note: its temporary name while written (``.<name>.<32 hex>.tmp``)
must fit too."""
DISPLAY_MAX = 200
"""Longest file name quoted in a note, in characters (longer names are cut with an ellipsis)."""


class NotRegular(OSError):
    """An inbox entry that is not a regular file (a link, pipe, socket or device)."""


class FileChanged(OSError):
    """A file changed (size, modification time or inode) while it was being read or moved."""


@dataclass(frozen=True)
class Candidate:
    """A file found in a client's folder."""

    client_code: str
    path: Path
    size: int
    mtime_ns: int
    inode: int = 0
    links: int = 1

    @property
    def name(self) -> str:
        """The file's name, quoted safely (for notes to staff only; never stored in a table)."""
        return display_name(self.path.name)


@dataclass(frozen=True)
class Oddity:
    """An inbox entry that is never opened: a link, pipe, socket, device or unusable name.

    ``client_code`` is ``None`` for an entry at the top of the inbox.
    """

    client_code: str | None
    path: Path
    reason_code: str
    message: str


@dataclass
class Scan:
    """What one walk of the inbox found."""

    candidates: list[Candidate] = field(default_factory=list)
    oddities: list[Oddity] = field(default_factory=list)


def display_name(name: str) -> str:
    r"""Quote a file name for a note: any bytes, no line breaks, bounded length.

    Bytes that are not UTF-8 are shown as ``\xNN``; control characters (a newline in a name would
    otherwise forge a line of the note) as escapes.

    Examples
    --------
    >>> display_name("run\nReason: fine.fit")
    'run\\nReason: fine.fit'
    >>> display_name(os.fsdecode(b"caf\xe9.fit"))
    'caf\\xe9.fit'
    >>> len(display_name("x" * 1000))
    201
    """
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    safe = "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )
    return safe if len(safe) <= DISPLAY_MAX else safe[:DISPLAY_MAX] + "\u2026"


def bounded_name(name: str, suffix: str = "") -> str:
    """``name + suffix``, cut (with 8 hex digits of the full name's hash) to :data:`NAME_BUDGET`.

    Examples
    --------
    >>> bounded_name("a.fit", ".reason.txt")
    'a.fit.reason.txt'
    >>> len(os.fsencode(bounded_name("x" * 250 + ".fit", ".reason.txt")))
    217
    """
    raw, tail = os.fsencode(name), os.fsencode(suffix)
    if len(raw) + len(tail) <= NAME_BUDGET:
        return name + suffix
    digest = hashlib.sha256(raw).hexdigest()[:8].encode()
    keep = NAME_BUDGET - len(tail) - len(digest) - 1
    return os.fsdecode(raw[:keep] + b"~" + digest + tail)


def note_path(target: Path, suffix: str) -> Path:
    """Where the note ``<name><suffix>`` of ``target`` goes (a bounded name beside it)."""
    return target.with_name(bounded_name(target.name, suffix))


def _open_regular(path: Path) -> int:
    """Open ``path`` for reading without following a link or blocking on a pipe."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegular(errno.ELOOP, "a symbolic link", str(path)) from exc
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegular(errno.EINVAL, "not a regular file", str(path))
    return fd


def read_regular(path: Path) -> bytes:
    """Read a regular file whole, never through a link, a pipe or a device.

    Raises
    ------
    NotRegular
        ``path`` is a link, pipe, socket or device.
    OSError
        It cannot be read (permission, missing).
    """
    fd = _open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def _kind_of(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device node"
    return "not a regular file"


def _is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Inbox:
    """Read and tidy the drop folder."""

    def __init__(self, root: Path, *, settle_seconds: float = 2.0) -> None:
        self.root = root
        self.settle_seconds = settle_seconds

    @property
    def roster_path(self) -> Path:
        """``<inbox>/roster.csv``."""
        return self.root / ROSTER_NAME

    def read_roster(self) -> bytes | None:
        """The roster's bytes, ``None`` when there is none.

        Raises
        ------
        NotRegular
            ``roster.csv`` is a link, pipe, socket or device (never opened through).
        """
        if not os.path.lexists(self.roster_path):
            return None
        return read_regular(self.roster_path)

    def client_folders(self) -> list[Path]:
        """Client folders: every real folder not starting with ``_`` or ``.``, sorted by name.

        Links to folders are not client folders (:meth:`scan` reports them).
        """
        if not self.root.is_dir():
            return []
        return sorted(
            Path(entry.path)
            for entry in os.scandir(self.root)
            if entry.is_dir(follow_symlinks=False)
            and not entry.name.startswith(("_", "."))
            and _is_utf8(entry.name)
        )

    def scan(self) -> Scan:
        """Walk the client folders without following links; sort regular files from the rest."""
        found = Scan()
        if not self.root.is_dir():
            return found
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if entry.name.startswith(("_", ".")) or entry.name == ROSTER_NAME:
                continue
            path = Path(entry.path)
            if entry.is_symlink():
                found.oddities.append(
                    Oddity(None, path, "symlink_refused", "is a symbolic link; it is not followed")
                )
            elif entry.is_dir(follow_symlinks=False):
                if not _is_utf8(entry.name):
                    found.oddities.append(
                        Oddity(
                            None,
                            path,
                            "name_not_utf8",
                            "is a client folder whose name is not valid text (UTF-8); "
                            "a client code is letters, digits, '_', '-' or '.'",
                        )
                    )
                    continue
                self._walk(entry.name, path, found)
        return found

    def _walk(self, code: str, folder: Path, found: Scan) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            found.oddities.append(
                Oddity(
                    code,
                    folder,
                    "unreadable",
                    f"is a folder that cannot be listed ({exc.strerror})",
                )
            )
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                self._walk(code, path, found)
            elif stat.S_ISREG(st.st_mode):
                found.candidates.append(
                    Candidate(code, path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_nlink)
                )
            else:
                kind = _kind_of(st.st_mode)
                reason = "symlink_refused" if stat.S_ISLNK(st.st_mode) else "not_a_regular_file"
                found.oddities.append(Oddity(code, path, reason, f"is {kind}; it is never opened"))

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
        """Every regular file in the client folders, in a stable order (links are not followed)."""
        yield from self.scan().candidates

    def still_arriving(self, candidate: Candidate, *, now: float | None = None) -> bool:
        """True when a file looks like it is still being copied.

        Its name ends like a partial download, its size or mtime changed since it was found, or it
        was modified less than ``settle_seconds`` ago.
        """
        if candidate.path.name.lower().endswith(PARTIAL_SUFFIXES):
            return True
        if not self.unchanged(candidate):
            return True
        now = time.time() if now is None else now
        return now - candidate.mtime_ns / 1e9 < self.settle_seconds

    def unchanged(self, candidate: Candidate) -> bool:
        """True when the file is still the regular file it was when found (size, mtime, inode)."""
        try:
            st = os.lstat(candidate.path)
        except OSError:
            return False
        return stat.S_ISREG(st.st_mode) and (st.st_size, st.st_mtime_ns, st.st_ino) == (
            candidate.size,
            candidate.mtime_ns,
            candidate.inode,
        )

    def read(self, candidate: Candidate) -> bytes:
        """Read a candidate whole; raise :class:`FileChanged` if it changed before or while read.

        Raises
        ------
        NotRegular
            It became a link, pipe or device since it was found.
        PermissionError
            It cannot be read.
        """
        fd = _open_regular(candidate.path)
        with os.fdopen(fd, "rb") as handle:
            expected = (candidate.size, candidate.mtime_ns, candidate.inode)
            before = os.fstat(fd)
            if (before.st_size, before.st_mtime_ns, before.st_ino) != expected:
                raise FileChanged(errno.EAGAIN, "changed since it was found", str(candidate.path))
            data = handle.read()
            after = os.fstat(fd)
        if (after.st_size, after.st_mtime_ns, len(data)) != (
            candidate.size,
            candidate.mtime_ns,
            candidate.size,
        ):
            raise FileChanged(errno.EAGAIN, "changed while it was read", str(candidate.path))
        return data

    def _folder(self, *parts: str) -> Path:
        """A real folder ``<inbox>/<parts...>``: links on the way are replaced, files sidestepped."""
        folder = self.root
        for part in parts:
            child = folder / part
            if child.is_symlink():
                log.warning(
                    "%s was a symbolic link: replaced by a real folder (its target is untouched)",
                    display_name(str(child.relative_to(self.root))),
                )
                child.unlink()
            elif os.path.lexists(child) and not child.is_dir():
                child = self._free_name(folder, part, "folder")
            if not child.is_dir():
                child.mkdir(mode=0o700)
            folder = child
        return folder

    @staticmethod
    def _free_name(folder: Path, name: str, tag: str) -> Path:
        """``folder/name`` or, when taken, ``folder/name.<tag>[N]`` (a bounded name) not in use."""
        for n in range(1000):
            candidate = folder / bounded_name(name, f".{tag}{n or ''}")
            if not os.path.lexists(candidate) or (
                tag == "folder" and candidate.is_dir() and not candidate.is_symlink()
            ):
                return candidate
        raise FileExistsError(errno.EEXIST, "no free name", str(folder / name))

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
        relative = candidate.path.relative_to(self.root / candidate.client_code)
        folder = self._folder(area, candidate.client_code, *relative.parts[:-1])
        name = relative.name
        target = folder / name
        if os.path.lexists(target):
            if target.is_file() and not target.is_symlink() and _sha256_of(target) == data_sha256:
                return target
            stem, dot, suffix = name.rpartition(".")
            short = data_sha256[:8]
            alt = f"{stem}.{short}.{suffix}" if dot and stem else f"{name}.{short}"
            target = folder / bounded_name(alt)
            if os.path.lexists(target) and not (
                target.is_file() and not target.is_symlink() and _sha256_of(target) == data_sha256
            ):
                target = self._free_name(folder, name, short)
        return target

    def _place(self, candidate: Candidate, target: Path) -> None:
        """Move the file to ``target``; a hard-linked file is copied and only its inbox name removed."""
        if not self.unchanged(candidate):
            raise FileChanged(errno.EAGAIN, "changed before it was moved", str(candidate.path))
        if candidate.links > 1:
            write_private(target, self.read(candidate), mode=FILE_MODE)
            candidate.path.unlink()
            return
        candidate.path.rename(target)
        target.chmod(FILE_MODE)

    def move_processed(self, candidate: Candidate, data_sha256: str) -> Path:
        """Move a file that was taken in to ``_processed/<client>/`` (never deletes content).

        Raises
        ------
        FileChanged
            The file changed since it was found: it is left in place.
        """
        target = self._target(PROCESSED, candidate, data_sha256)
        self._place(candidate, target)
        return target

    def quarantine(self, candidate: Candidate, data_sha256: str, note: str) -> Path:
        """Move a refused file to ``_quarantine/<client>/`` with ``<name>.reason.txt`` beside it."""
        if not self.unchanged(candidate):
            raise FileChanged(errno.EAGAIN, "changed before it was moved", str(candidate.path))
        target = self._target(QUARANTINE, candidate, data_sha256)
        reason = note_path(target, REASON_SUFFIX)
        remove_stale_temps(reason)
        write_private(reason, note, mode=FILE_MODE)
        self._place(candidate, target)
        return target

    def quarantine_entry(self, oddity: Oddity, note: str) -> Path:
        """Move an entry that is never opened (by rename: a link moves as a link) with its note."""
        relative = oddity.path.relative_to(self.root)
        folder = self._folder(QUARANTINE, *relative.parts[:-1])
        target = (
            self._free_name(folder, relative.name, "entry")
            if os.path.lexists(folder / relative.name)
            else folder / relative.name
        )
        write_private(note_path(target, REASON_SUFFIX), note, mode=FILE_MODE)
        oddity.path.rename(target)
        return target

    def processed_codes(self) -> list[str]:
        """The client folders of ``_processed`` (real folders only)."""
        area = self.root / PROCESSED
        if area.is_symlink() or not area.is_dir():
            return []
        return sorted(
            e.name for e in os.scandir(area) if e.is_dir(follow_symlinks=False) and _is_utf8(e.name)
        )

    def processed_path(self, candidate: Candidate, data_sha256: str) -> Path | None:
        """Where a candidate moved to ``_processed`` now is (``None`` if it is not there)."""
        target = self._target(PROCESSED, candidate, data_sha256)
        return target if target.is_file() and not target.is_symlink() else None

    def note_on_file(self, target: Path, note: str) -> Path:
        """Write ``<name>.note.txt`` beside a file already in ``_processed``."""
        notes = note_path(target, NOTE_SUFFIX)
        remove_stale_temps(notes)
        write_private(notes, note, mode=FILE_MODE)
        return notes

    def note_on_processed_copy(self, code: str, sha256: str, size: int, note: str) -> Path | None:
        """Write a ``.note.txt`` beside the file of ``_processed/<code>/`` with these bytes, if any."""
        found = _find_in_processed(self.root, code, sha256, size)
        if found is None:
            return None
        notes = note_path(found, NOTE_SUFFIX)
        write_private(notes, note, mode=FILE_MODE)
        return notes

    def note_beside_processed(self, candidate: Candidate, data_sha256: str, note: str) -> Path:
        """Write ``<name>.note.txt`` beside a file in ``_processed`` that was taken in with a remark.

        Used for files taken in only in part (a salvaged FIT, an archive with refused members), for
        duplicates and for valid files that hold no workout: staff see why next to the original.
        """
        target = self._target(PROCESSED, candidate, data_sha256)
        notes = note_path(target, NOTE_SUFFIX)
        remove_stale_temps(notes)
        write_private(notes, note, mode=FILE_MODE)
        return notes


def _find_in_processed(root: Path, code: str, sha256: str, size: int) -> Path | None:
    folder = root / PROCESSED / code
    if folder.is_symlink() or not folder.is_dir():
        return None
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size == size and _sha256_of(path) == sha256:
                return path
    return None


def _sha256_of(path: Path) -> str:
    try:
        return hashlib.sha256(read_regular(path)).hexdigest()
    except OSError:
        return ""


def _modified_within(path: Path, seconds: float, now: float) -> bool:
    """Whether ``path`` was modified less than ``seconds`` before ``now`` (a gone file was not)."""
    try:
        return now - path.stat().st_mtime_ns / 1e9 < seconds
    except FileNotFoundError:
        return False
