"""The versioned table store: atomic replace, stale clean-up, relative warehouse paths."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from warehouse.store import TableStore

ROSTER = pl.DataFrame(
    {
        "client_id": ["a1", "b2"],
        "sex": ["f", "m"],
        "birth_year": [1990, 1985],
        "hr_rest": [55.0, 60.0],
        "hr_max": [190.0, 185.0],
        "timezone": ["Europe/London", "Europe/Berlin"],
        "lthr": [None, 170.0],
    }
)


def test_a_relative_warehouse_path_keeps_its_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: with a relative root, clean_stale compared relative version folders with the
    resolved (absolute) link target and removed every current version (second `make demo`)."""
    monkeypatch.chdir(tmp_path)
    store = TableStore(Path("warehouse"))
    store.replace("roster", ROSTER)
    assert store.clean_stale() == 0
    again = TableStore(Path("warehouse"))
    assert again.clean_stale() == 0
    assert again.read("roster").sort("client_id")["client_id"].to_list() == ["a1", "b2"]


def test_stale_versions_and_links_are_removed(tmp_path: Path) -> None:
    store = TableStore(tmp_path / "warehouse")
    store.replace("roster", ROSTER)
    current = store.current_version("roster")
    assert current is not None
    stray = current.parent / "v-killed-writer.tmp"
    stray.mkdir()
    (stray / "data.parquet").write_bytes(b"half")
    link = tmp_path / "warehouse" / ".roster.deadbeef.link"
    link.symlink_to(current)
    assert store.clean_stale() == 2
    assert not stray.exists()
    assert not link.is_symlink()
    assert store.read("roster").height == 2
