"""Checked, member-by-member access to an export zip (for archives too large to expand at once).

:func:`ingest.archive.iter_zip` expands every member into memory, which is right for a watch's zip
but not for an Apple Health ``export.zip`` whose XML member reaches gigabytes, nor for a Strava
archive whose ``media/`` folder we never read. :class:`CheckedZip` applies the same archive-level
rules up front (the member-path rules of :mod:`ingest.archive`, duplicate names, member count),
then lets a reader take only the members it needs: small ones in memory (:meth:`CheckedZip.read`,
bounded like ``iter_zip``) and large ones as a stream (:meth:`CheckedZip.open_stream`) whose
decompressed bytes are counted against the archive's total and ratio limits as they are read.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from ingest.archive import CHUNK, IGNORED_PREFIXES, ArchiveLimits, open_zip, too_large
from schemas.errors import CorruptFile

__all__ = ["CheckedZip", "LimitedStream", "open_checked_zip"]

RATIO_FLOOR_BYTES = 1 << 20
"""The ratio limit applies once a member has expanded past this many bytes (as in ``archive``)."""

ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError)


def _corrupt(exc: BaseException) -> CorruptFile:
    return CorruptFile("zip_corrupt", "A file inside this .zip is damaged.", detail=str(exc))


@dataclass
class _Budget:
    """Decompressed bytes taken out of one archive so far (shared by all its members)."""

    limits: ArchiveLimits
    total: int = 0

    def take(self, n: int) -> None:
        self.total += n
        if self.total > self.limits.max_total_bytes:
            raise too_large(f"archive total over {self.limits.max_total_bytes} bytes")


@dataclass
class CheckedZip:
    """A zip whose member list passed the archive rules; read members by their checked name.

    Build it with :func:`open_checked_zip`. ``names`` are the sanitised member names (directories
    and ``__MACOSX/`` left out), in archive order.
    """

    archive: zipfile.ZipFile
    limits: ArchiveLimits
    infos: dict[str, zipfile.ZipInfo]
    budget: _Budget = field(init=False)

    def __post_init__(self) -> None:
        self.budget = _Budget(self.limits)

    @property
    def names(self) -> list[str]:
        """Checked member names, archive order."""
        return list(self.infos)

    def size(self, name: str) -> int:
        """Declared uncompressed size of a member (a hint only; reads never trust it)."""
        return self.infos[name].file_size

    def read(self, name: str, *, max_bytes: int | None = None) -> bytes:
        """Decompress one member into memory within the limits.

        Parameters
        ----------
        name
            A name from :attr:`names`.
        max_bytes
            Stop (and raise) beyond this many bytes; default ``limits.max_member_bytes``.

        Raises
        ------
        UnsafeInput
            ``archive_too_large`` when a limit is crossed.
        CorruptFile
            ``zip_corrupt`` for a damaged member.
        """
        cap = self.limits.max_member_bytes if max_bytes is None else max_bytes
        out = bytearray()
        with self.open_stream(name) as stream:
            while chunk := stream.read(CHUNK):
                out += chunk
                if len(out) > cap:
                    raise too_large(f"member over {cap} bytes")
        return bytes(out)

    def read_head(self, name: str, n: int) -> bytes:
        """The first ``n`` decompressed bytes of a member (for sniffing)."""
        with self.open_stream(name) as stream:
            return stream.read(n)

    def open_stream(self, name: str) -> io.BufferedReader:
        """A binary stream of one member, counted against the ratio and total limits as read."""
        info = self.infos[name]
        try:
            raw = self.archive.open(info)
        except ZIP_ERRORS as exc:
            raise _corrupt(exc) from exc
        return io.BufferedReader(
            LimitedStream(raw, info.compress_size, self.limits, self.budget), buffer_size=CHUNK
        )


class LimitedStream(io.RawIOBase):
    """A read-only stream over a zip member that enforces the bomb limits while it is read.

    The per-member size limit of :class:`ArchiveLimits` is *not* applied here: a stream never holds
    the member in memory, so only the total and the compression ratio bound it.
    Library errors (``zlib.error``, ``BadZipFile``) surface as :class:`CorruptFile`.
    """

    def __init__(
        self, raw: IO[bytes], compress_size: int, limits: ArchiveLimits, budget: _Budget
    ) -> None:
        super().__init__()
        self._raw = raw
        self._compress_size = max(compress_size, 1)
        self._limits = limits
        self._budget = budget
        self.bytes_out = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the member; raise when a limit is crossed."""
        try:
            data = self._raw.read(len(buffer))
        except ZIP_ERRORS as exc:
            raise _corrupt(exc) from exc
        n = len(data)
        buffer[:n] = data
        self.bytes_out += n
        self._budget.take(n)
        if (
            self.bytes_out > RATIO_FLOOR_BYTES
            and self.bytes_out > self._limits.max_ratio * self._compress_size
        ):
            raise too_large(f"compression ratio over {self._limits.max_ratio}")
        return n

    def close(self) -> None:
        """Close the member."""
        self._raw.close()
        super().close()


def open_checked_zip(source: bytes | IO[bytes], limits: ArchiveLimits) -> CheckedZip:
    """Open a zip and check its member list as :func:`ingest.archive.iter_zip` does.

    Parameters
    ----------
    source
        The zip's bytes, or a seekable binary file.
    limits
        Archive limits.

    Raises
    ------
    CorruptFile
        ``zip_corrupt`` when the archive cannot be opened.
    UnsafeInput
        Traversal paths, symlinks, encryption, duplicate names or too many members.
    """
    archive, members = open_zip(source, limits)
    checked: dict[str, zipfile.ZipInfo] = {}
    for info, name in members:
        if info.is_dir() or name.startswith(IGNORED_PREFIXES):
            continue
        checked[name] = info
    return CheckedZip(archive=archive, limits=limits, infos=checked)


def iter_names(
    checked: CheckedZip, *, prefix: str = "", suffixes: tuple[str, ...] = ()
) -> Iterator[str]:
    """Member names under ``prefix`` ending (case-insensitively) with one of ``suffixes``."""
    for name in checked.names:
        if name.startswith(prefix) and (not suffixes or name.lower().endswith(suffixes)):
            yield name
