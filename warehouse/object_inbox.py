"""An inbox on object storage, worked on through a private local copy.

A run over ``s3://bucket/inbox`` copies the files waiting in the client folders (and
``roster.csv``) into a private temporary folder, runs there exactly as over a local inbox, then
mirrors what the run did back onto the store: every file the run wrote (the originals it moved to
``_processed``/``_quarantine``, their notes, the reports) is uploaded first, and only then are the
originals it moved deleted from the client folders. A move on object storage is thus
copy-then-delete, and safe to repeat: a run killed half-way leaves an original in place (taken in
again by the next run as *the same file received again*) and never a file in neither place.

When a file in ``_processed``/``_quarantine`` already holds other bytes under the same name, the
upload gets the name the local inbox gives such a clash (``<stem>.<sha256[:8]><suffix>``).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse.inbox import NOTE_SUFFIX, REASON_SUFFIX
from warehouse.location import join
from warehouse.objects import delete_object, list_objects, read_object, write_object

__all__ = ["NOT_STAGED", "staged_inbox"]

log = logging.getLogger(__name__)

COPY_PREFIX = "mindmiles-inbox-"
"""Local copies are ``<tmp>/mindmiles-inbox-<pid>-<random>``, private to their owner."""
NOT_STAGED = ("_processed", "_quarantine", "_reports")
"""Top-level folders of the inbox that a run never reads."""
NOTE_SUFFIXES = (REASON_SUFFIX, NOTE_SUFFIX)


@contextmanager
def staged_inbox(uri: str) -> Iterator[Path]:
    """Yield a private local copy of the inbox at ``uri``; mirror the run's moves back after it."""
    _remove_abandoned_copies()
    local = Path(tempfile.mkdtemp(prefix=f"{COPY_PREFIX}{os.getpid()}-"))
    staged: dict[str, tuple[int, int]] = {}
    try:
        for info in list_objects(uri):
            top = info.key.split("/", 1)[0]
            if top in NOT_STAGED or top.startswith(".") or info.key.endswith("/"):
                continue
            data = read_object(str(join(uri, info.key)))
            if data is None:  # deleted since the listing
                continue
            path = local / info.key
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            path.write_bytes(data)
            path.chmod(0o600)
            seconds = info.modified.timestamp()
            os.utime(path, (seconds, seconds))
            stat = path.stat()
            staged[info.key] = (stat.st_size, stat.st_mtime_ns)
        log.info("copied %d object(s) of the inbox for this run", len(staged))
        yield local
    finally:
        try:
            _mirror_back(local, uri, staged)
        finally:
            shutil.rmtree(local, ignore_errors=True)


def _remove_abandoned_copies() -> None:
    """Delete the local copies that killed runs left (their process is gone): client data."""
    for folder in Path(tempfile.gettempdir()).glob(f"{COPY_PREFIX}*-*"):
        pid = folder.name.removeprefix(COPY_PREFIX).split("-", 1)[0]
        if not pid.isdigit() or folder.stat().st_uid != os.getuid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
            log.info("removed the inbox copy of a run that was killed")
        except PermissionError:
            continue


def _mirror_back(local: Path, uri: str, staged: dict[str, tuple[int, int]]) -> None:
    """Upload what the run wrote, then delete the originals it moved away."""
    written = []
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        key = path.relative_to(local).as_posix()
        stat = path.stat()
        if staged.get(key) == (stat.st_size, stat.st_mtime_ns):
            continue  # an original still waiting (deferred), or the roster
        written.append((key, path))
    renames = _clash_free_names(uri, [key for key, _ in written], local)
    for key, path in written:
        write_object(str(join(uri, renames.get(key, key))), path.read_bytes())
    gone = [key for key in staged if not (local / key).exists()]
    for key in gone:
        delete_object(str(join(uri, key)))
    if written or gone:
        log.info(
            "inbox on object storage: %d object(s) written, %d moved away", len(written), len(gone)
        )


def _clash_free_names(uri: str, keys: list[str], local: Path) -> dict[str, str]:
    """New names for files whose name is taken in the store by other bytes (and their notes)."""
    areas = {key.split("/", 1)[0] for key in keys} & {"_processed", "_quarantine"}
    existing = {
        f"{area}/{info.key}": info.size
        for area in areas
        for info in list_objects(str(join(uri, area)))
    }
    renames: dict[str, str] = {}
    for key in keys:
        if key.endswith(NOTE_SUFFIXES) or key not in existing:
            continue
        data = (local / key).read_bytes()
        held = read_object(str(join(uri, key)))
        if held is None or held == data:
            continue
        digest = hashlib.sha256(data).hexdigest()[:8]
        path = Path(key)
        renamed = path.with_name(f"{path.stem}.{digest}{path.suffix}").as_posix()
        renames[key] = renamed
        for suffix in NOTE_SUFFIXES:
            renames[key + suffix] = renamed + suffix
    return renames
