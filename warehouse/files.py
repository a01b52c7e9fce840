"""Private files written whole: a reader finds the old content or the new, never half a file.

Every small file mindmiles writes (key file, quarantine and processed notes, the pending-derive
record, the DuckDB file, the therapist reports) goes the same way: written under a fresh temporary
name in the target's folder, created exclusively with its final mode, flushed to disk, renamed over
the target with one ``os.replace``, then the folder is flushed so that the rename survives a power
cut. A failure removes the temporary file.

Temporary names are ``.<name>.<32 hex digits>.tmp`` (:func:`temp_path`): hidden, and matched by the
globs that remove what a killed writer left (``.*.tmp`` in the report folder,
``.mindmiles.duckdb.*.tmp*`` in the warehouse, :func:`remove_stale_temps`).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = [
    "FILE_MODE",
    "fsync_dir",
    "install_private",
    "private_files",
    "remove_stale_temps",
    "temp_path",
    "write_private",
]

FILE_MODE = 0o600
"""Readable and writable by their owner only."""
PRIVATE_UMASK = 0o077
"""The process umask while mindmiles creates files and folders others must not read."""

TEMP_SUFFIX = ".tmp"


@contextmanager
def private_files() -> Iterator[None]:
    """Create files and folders owner-only for the duration of the block (process umask)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def temp_path(path: Path) -> Path:
    """Return a fresh temporary name beside ``path``: ``.<name>.<32 hex digits>.tmp``.

    Examples
    --------
    >>> name = temp_path(Path("out/index.html")).name
    >>> name.startswith(".index.html.") and name.endswith(".tmp"), len(name)
    (True, 48)
    """
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMP_SUFFIX}")


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk (makes a rename or a new link in it durable)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def install_private(tmp: Path, path: Path, *, mode: int = FILE_MODE) -> None:
    """Make the finished file ``tmp`` the file ``path``: set its mode, flush, rename, flush folder.

    For files that another library writes (DuckDB) into a :func:`temp_path`; :func:`write_private`
    does the whole write for bytes held in memory.

    Parameters
    ----------
    tmp
        The complete file, in the same folder as ``path``; left in place if this raises (the
        caller removes it).
    path
        The target; replaced atomically if it exists.
    mode
        The target's permission bits, set exactly (the umask does not apply).
    """
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    fsync_dir(path.parent)


def write_private(
    path: Path, data: bytes | str, *, mode: int = FILE_MODE, exclusive: bool = False
) -> None:
    """Write ``data`` to ``path`` atomically and durably, with ``mode`` from its creation on.

    The data goes to a :func:`temp_path` created with ``O_CREAT | O_EXCL`` and ``mode`` (so it is
    never readable by others, not even half-written), which is flushed to disk, renamed to
    ``path`` and followed by a flush of the folder. On any failure the temporary file is removed
    and the target is left as it was.

    Parameters
    ----------
    path
        The target; its folder must exist.
    data
        The content; ``str`` is written as UTF-8.
    mode
        The file's permission bits, set exactly (the umask does not apply).
    exclusive
        Never replace an existing ``path``: the temporary file is hard-linked to it instead of
        renamed, which fails if ``path`` exists (for a file that must be created only once).

    Raises
    ------
    FileExistsError
        ``exclusive`` and ``path`` already exists.
    OSError
        The file could not be written (the target is unchanged).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = temp_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            tmp.replace(path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temps(path: Path) -> int:
    """Remove the temporary files that killed writers of ``path`` left beside it; return how many.

    Only for the file's sole writer (a caller holding the warehouse lock): another writer's
    temporary file, still being written, looks the same.
    """
    if not path.parent.is_dir():
        return 0
    pattern = re.compile(re.escape(f".{path.name}.") + "[0-9a-f]{32}" + re.escape(TEMP_SUFFIX))
    removed = 0
    for stale in path.parent.glob(f".*{TEMP_SUFFIX}"):
        if pattern.fullmatch(stale.name):
            stale.unlink(missing_ok=True)
            removed += 1
    return removed
