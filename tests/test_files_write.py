"""warehouse.files: one way to write a private file whole, durably and owner-only."""

from __future__ import annotations

import errno
import fnmatch
import os
import stat
from pathlib import Path

import pytest

from warehouse.files import install_private, remove_stale_temps, temp_path, write_private

HEX32 = "0123456789abcdef0123456789abcdef"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_text_is_written_as_utf8_owner_only(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    write_private(target, "Datei: läuft\n")
    assert target.read_bytes() == b"Datei: l\xc3\xa4uft\n"
    assert _mode(target) == 0o600
    assert _names(tmp_path) == ["note.txt"]


def test_bytes_replace_an_existing_file_and_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "pending.json"
    target.write_bytes(b"old content, longer than the new one")
    target.chmod(0o644)
    write_private(target, b'["a1"]')
    assert target.read_bytes() == b'["a1"]'
    assert _mode(target) == 0o600
    assert _names(tmp_path) == ["pending.json"]


def test_mode_is_exact_whatever_the_umask(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        write_private(tmp_path / "shared.html", "<p>x</p>", mode=0o640)
        write_private(tmp_path / "strict.html", "<p>y</p>")
    finally:
        os.umask(old_umask)
    assert _mode(tmp_path / "shared.html") == 0o640
    assert _mode(tmp_path / "strict.html") == 0o600


def test_the_file_is_owner_only_before_it_gets_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int, bytes]] = []
    real_replace = os.replace

    def spy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        source = Path(src)
        seen.append((source.name, _mode(source), source.read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_private(tmp_path / "index.html", "<html></html>")
    assert len(seen) == 1
    name, mode, content = seen[0]
    assert fnmatch.fnmatchcase(name, ".index.html.*.tmp")
    assert len(name) == len(".index.html.") + 32 + len(".tmp")
    assert mode == 0o600
    assert content == b"<html></html>"


def test_a_failed_rename_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "secret.key"
    target.write_bytes(b"old secret\n")
    target.chmod(0o600)

    def full_disk(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        write_private(target, "new secret\n")
    assert target.read_bytes() == b"old secret\n"
    assert _names(tmp_path) == ["secret.key"]


def test_a_failed_first_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_disk(src: object, dst: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", broken_disk)
    with pytest.raises(OSError, match="Input/output error"):
        write_private(tmp_path / "note.txt", "hello")
    assert _names(tmp_path) == []


def test_exclusive_creates_once_and_never_replaces(tmp_path: Path) -> None:
    key = tmp_path / "secret.key"
    write_private(key, "first\n", exclusive=True)
    assert key.read_bytes() == b"first\n"
    assert _mode(key) == 0o600
    with pytest.raises(FileExistsError):
        write_private(key, "second\n", exclusive=True)
    assert key.read_bytes() == b"first\n"
    assert _names(tmp_path) == ["secret.key"]


def test_temporary_names_match_the_cleanup_globs() -> None:
    page = temp_path(Path("/out/clients/C001.html"))
    assert page.parent == Path("/out/clients")
    assert fnmatch.fnmatchcase(page.name, ".*.tmp")  # report/build.py
    database = temp_path(Path("/warehouse/mindmiles.duckdb"))
    assert fnmatch.fnmatchcase(database.name, ".mindmiles.duckdb.*.tmp*")  # warehouse/sql.py
    assert temp_path(Path("/a/b")) != temp_path(Path("/a/b"))


def test_install_private_sets_the_mode_and_renames(tmp_path: Path) -> None:
    target = tmp_path / "mindmiles.duckdb"
    target.write_bytes(b"old database")
    tmp = tmp_path / f".mindmiles.duckdb.{HEX32}.tmp"
    tmp.write_bytes(b"new database")
    tmp.chmod(0o644)
    install_private(tmp, target)
    assert target.read_bytes() == b"new database"
    assert _mode(target) == 0o600
    assert _names(tmp_path) == ["mindmiles.duckdb"]


def test_remove_stale_temps_removes_only_that_files_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "note.txt"
    target.write_bytes(b"kept")
    leftovers = [f".note.txt.{HEX32}.tmp", f".note.txt.{'f' * 32}.tmp"]
    others = [
        f".other.txt.{HEX32}.tmp",  # another file's
        f".note.txt.x.{HEX32}.tmp",  # a temporary of "note.txt.x"
        ".note.txt.tmp",  # not a name temp_path gives
        f"note.txt.{HEX32}.tmp",  # not hidden
    ]
    for name in leftovers + others:
        (tmp_path / name).write_bytes(b"")
    assert remove_stale_temps(target) == 2
    assert _names(tmp_path) == sorted(["note.txt", *others])
    assert remove_stale_temps(tmp_path / "missing" / "note.txt") == 0
