"""Safe expansion of gzip and zip containers, in memory, with hard limits.

Nothing is ever extracted to a path taken from the archive: members are read into memory and
handed back with a sanitised name, so traversal (``../``, absolute paths) cannot write anywhere.
Limits apply per container and across nesting (:class:`ArchiveLimits`); decompression is streamed
and stops as soon as a limit is crossed, whatever sizes the archive claims.
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import PurePosixPath
from typing import IO

from schemas.errors import CorruptFile, UnsafeInput

__all__ = [
    "ArchiveLimits",
    "Member",
    "count_members",
    "gunzip",
    "iter_zip",
    "open_zip",
    "safe_member_name",
    "too_large",
]

CHUNK = 1 << 16


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on what a container may expand to."""

    max_member_bytes: int = 512 * 1024 * 1024
    """Largest single decompressed member."""
    max_total_bytes: int = 2 * 1024 * 1024 * 1024
    """Largest total decompressed size of one archive."""
    max_ratio: float = 200.0
    """Largest decompressed/compressed ratio for a member over 1 MiB."""
    max_members: int = 20_000
    """Most members one zip may hold."""
    max_depth: int = 3
    """Deepest nesting of containers (a zip in a zip in a zip)."""


@dataclass(frozen=True)
class Member:
    """One file taken out of a container."""

    name: str
    data: bytes


IGNORED_PREFIXES = ("__MACOSX/",)
"""Archive folders that hold no user data (macOS resource forks)."""


def too_large(what: str) -> UnsafeInput:
    """The ``archive_too_large`` refusal (a bomb), with ``what`` limit was crossed."""
    return UnsafeInput(
        "archive_too_large",
        "This archive expands to far more data than any real export (a 'zip bomb'), "
        "so it was not opened.",
        detail=what,
    )


def _check_ratio(out_size: int, in_size: int, limits: ArchiveLimits) -> None:
    if out_size > limits.max_member_bytes:
        raise too_large(f"member over {limits.max_member_bytes} bytes")
    if out_size > (1 << 20) and out_size > limits.max_ratio * max(in_size, 1):
        raise too_large(f"compression ratio over {limits.max_ratio}")


def gunzip(data: bytes, limits: ArchiveLimits) -> bytes:
    """Decompress a gzip stream (concatenated members included) within ``limits``.

    Raises
    ------
    UnsafeInput
        ``archive_too_large`` when the output would cross a limit.
    CorruptFile
        ``gzip_corrupt`` for a damaged or truncated stream.
    """
    out = bytearray()
    remaining = data
    try:
        while remaining:
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
            view = memoryview(remaining)
            pos = 0
            while not decompressor.eof:
                if pos >= len(view):
                    raise CorruptFile(
                        "gzip_corrupt", "This .gz file is cut short and cannot be read."
                    )
                chunk = view[pos : pos + CHUNK]
                pos += len(chunk)
                out += decompressor.decompress(chunk, limits.max_member_bytes + 1 - len(out))
                while decompressor.unconsumed_tail and not decompressor.eof:
                    _check_ratio(len(out), len(data), limits)
                    out += decompressor.decompress(
                        decompressor.unconsumed_tail, limits.max_member_bytes + 1 - len(out)
                    )
                _check_ratio(len(out), pos, limits)
            remaining = decompressor.unused_data.lstrip(b"\x00")
    except zlib.error as exc:
        raise CorruptFile(
            "gzip_corrupt", "This .gz file is damaged and cannot be read.", detail=str(exc)
        ) from exc
    return bytes(out)


def safe_member_name(info: zipfile.ZipInfo) -> str:
    """A member's checked, normalised name; refuse traversal, symlinks and encryption.

    Raises
    ------
    UnsafeInput
        ``archive_unsafe_path``, ``archive_symlink`` or ``archive_encrypted``.
    """
    name = info.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if name.startswith("/") or ".." in path.parts or (len(name) > 1 and name[1] == ":"):
        raise UnsafeInput(
            "archive_unsafe_path",
            "This archive tries to place files outside its own folder (a 'zip slip' attack), "
            "so it was not opened.",
            detail="member path escapes the archive",
        )
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise UnsafeInput(
            "archive_symlink",
            "This archive contains a link to another place on the computer, "
            "which real exports never do, so it was not opened.",
        )
    if info.flag_bits & 0x1:
        raise UnsafeInput(
            "archive_encrypted",
            "This archive is password-protected; please export it again without a password.",
        )
    return str(path)


def open_zip(
    source: bytes | IO[bytes], limits: ArchiveLimits
) -> tuple[zipfile.ZipFile, list[tuple[zipfile.ZipInfo, str]]]:
    """Open a zip and check its member list; return it with each member's checked name.

    One place for the rules every zip passes, whether its members are read into memory
    (:func:`iter_zip`) or streamed (whole-account exports): too many members, duplicate names,
    traversal paths, symlinks, encryption.

    Raises
    ------
    CorruptFile
        ``zip_corrupt`` when the archive cannot be opened.
    UnsafeInput
        ``archive_too_large``, ``archive_duplicate_names``, ``archive_unsafe_path``,
        ``archive_symlink`` or ``archive_encrypted``.
    """
    try:
        archive = zipfile.ZipFile(BytesIO(source) if isinstance(source, bytes) else source)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptFile(
            "zip_corrupt", "This .zip file is damaged and cannot be opened.", detail=str(exc)
        ) from exc
    if len(infos) > limits.max_members:
        raise too_large(f"more than {limits.max_members} members")
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise UnsafeInput(
            "archive_duplicate_names",
            "This archive holds two different files under the same name, "
            "which real exports never do, so it was not opened.",
        )
    return archive, [(info, safe_member_name(info)) for info in infos]


def count_members(data: bytes) -> int:
    """How many files a zip lists (directory entries and ``__MACOSX/`` left out), at least 1.

    Reads the central directory only (nothing is decompressed): what a progress bar counts
    before the archive is read. A damaged archive counts as one file.

    Examples
    --------
    >>> buffer = BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as archive:
    ...     archive.writestr("a/", "")
    ...     archive.writestr("a/1.fit", b"x")
    ...     archive.writestr("a/2.gpx", b"y")
    >>> count_members(buffer.getvalue())
    2
    >>> count_members(b"not a zip")
    1
    """
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return 1
    files = sum(not i.is_dir() and not i.filename.startswith("__MACOSX/") for i in infos)
    return max(1, files)


def iter_zip(data: bytes, limits: ArchiveLimits) -> Iterator[Member]:
    """Yield the files of a zip archive, checked and decompressed within ``limits``.

    Directory entries and ``__MACOSX/`` are skipped. Duplicate names are refused, since a second
    entry with the same name is a known way to hide content from one tool but not another.

    Raises
    ------
    UnsafeInput
        Traversal paths, symlinks, encryption, duplicate names or a bomb.
    CorruptFile
        ``zip_corrupt`` for a damaged archive.
    """
    archive, checked = open_zip(data, limits)
    total = 0
    for info, name in checked:
        if info.is_dir() or name.startswith(IGNORED_PREFIXES):
            continue
        if info.compress_size > len(data):
            # A member cannot hold more compressed bytes than the whole archive: its sizes lie,
            # which is how a bomb slips past ratio checks.
            raise too_large("a member claims more compressed bytes than the archive holds")
        out = bytearray()
        try:
            with archive.open(info) as stream:
                while chunk := stream.read(CHUNK):
                    out += chunk
                    total += len(chunk)
                    _check_ratio(len(out), info.compress_size, limits)
                    if total > limits.max_total_bytes:
                        raise too_large(f"archive total over {limits.max_total_bytes} bytes")
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as exc:
            raise CorruptFile(
                "zip_corrupt", "A file inside this .zip is damaged.", detail=str(exc)
            ) from exc
        yield Member(name=name, data=bytes(out))
