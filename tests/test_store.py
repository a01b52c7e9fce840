"""The Delta table store: keyed writes, vacuum, time travel, races, file modes, the old layout."""

from __future__ import annotations

import logging
import os
import stat
import threading
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from warehouse.store import TableStore
from warehouse.tables import TABLES

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


def samples(activity: str, client: str, n: int, *, year: int = 2026, hr: int = 100) -> pl.DataFrame:
    columns = list(TABLES["samples"].model.to_schema().columns)
    rows = [
        {"activity_id": activity, "client_id": client, "elapsed_s": float(i), "hr_bpm": hr + i}
        for i in range(n)
    ]
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows])
    return TABLES["samples"].model.validate(frame).with_columns(year=pl.lit(year, pl.Int32))


def test_a_relative_warehouse_path_keeps_its_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = TableStore(Path("warehouse"))
    store.replace("roster", ROSTER)
    assert store.clean_stale() == 0
    again = TableStore(Path("warehouse"))
    assert again.clean_stale() == 0
    assert again.read("roster").sort("client_id")["client_id"].to_list() == ["a1", "b2"]


def test_upsert_replaces_an_activity_whole_and_vacuum_leaves_the_current_rows(
    tmp_path: Path,
) -> None:
    store = TableStore(tmp_path / "warehouse")
    store.upsert("samples", pl.concat([samples("a1", "c1", 3), samples("b1", "c2", 2)]))
    store.upsert("samples", samples("a1", "c1", 2, hr=150))  # a1 again, with fewer rows
    table = DeltaTable(store.table_uri("samples"))
    assert table.version() == 1
    current = pl.read_delta(store.table_uri("samples"))  # plain Polars through the log
    assert current.group_by("activity_id").len().sort("activity_id").rows() == [
        ("a1", 2),
        ("b1", 2),
    ]
    assert current.filter(pl.col("activity_id") == "a1")["hr_bpm"].to_list() == [150, 151]
    # Before vacuum a plain glob also reads the replaced file; after it, exactly the current rows.
    pattern = str(tmp_path / "warehouse" / "samples" / "*" / "*" / "*.parquet")
    assert pl.read_parquet(pattern).height == 3 + 2 + 2
    assert store.vacuum() == 1
    assert pl.read_parquet(pattern).height == 4
    assert store.vacuum() == 0


def test_history_days_keeps_earlier_versions_readable(tmp_path: Path) -> None:
    store = TableStore(tmp_path / "warehouse", history_days=7)
    store.replace("roster", ROSTER)
    store.replace("roster", ROSTER.head(1))
    assert store.vacuum() == 0
    assert store.read("roster", version=0).height == 2
    assert pl.read_delta(store.table_uri("roster"), version=0).height == 2
    assert store.read("roster").height == 1


def test_files_a_killed_writer_left_are_removed_before_a_run(tmp_path: Path) -> None:
    store = TableStore(tmp_path / "warehouse")
    store.upsert("samples", samples("a1", "c1", 3))
    orphan = (
        tmp_path / "warehouse" / "samples" / "client_id=c1" / "year=2026" / "part-killed.parquet"
    )
    samples("x9", "c1", 5).drop("client_id", "year").write_parquet(orphan)
    assert store.read("samples").height == 3  # never committed: not in the table
    assert store.clean_stale() == 1
    assert not orphan.exists()
    assert store.read("samples").height == 3


def test_writers_racing_on_the_same_rows_leave_one_copy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Four writers replace one activity's rows at once: Delta refuses the commits that lost the
    race, the store redoes them on the winner's version, and one writer's rows remain."""
    caplog.set_level(logging.INFO, logger="warehouse.store")
    store = TableStore(tmp_path / "warehouse")
    store.upsert("samples", samples("a0", "c1", 4))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait()
            TableStore(tmp_path / "warehouse").upsert("samples", samples("a0", "c1", 4, hr=110 + n))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert "lost a race with another writer" in caplog.text  # the races did happen
    rows = pl.read_delta(store.table_uri("samples"))
    assert rows.height == 4
    first_hr = rows.sort("elapsed_s")["hr_bpm"].to_list()
    assert first_hr[0] in (110, 111, 112, 113)
    assert first_hr == list(range(first_hr[0], first_hr[0] + 4))  # one writer's rows, whole


def test_table_files_and_folders_are_owner_only(tmp_path: Path) -> None:
    store = TableStore(tmp_path / "warehouse")
    store.upsert("samples", samples("a1", "c1", 3))
    store.replace("roster", ROSTER)
    for path in (tmp_path / "warehouse").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_a_warehouse_of_the_parquet_version_layout_is_moved_to_delta(tmp_path: Path) -> None:
    """The layout before Delta (symlinks to version folders), written with plain Polars."""
    root = tmp_path / "warehouse"
    roster_version = root / ".versions" / "roster" / "v-1"
    roster_version.mkdir(parents=True)
    ROSTER.write_parquet(roster_version / "data.parquet")
    (root / "roster").symlink_to(os.path.relpath(roster_version, root))
    sample_version = root / ".versions" / "samples" / "v-2"
    for client, year, n in (("c1", 2025, 2), ("c2", 2026, 3)):
        folder = sample_version / f"client_id={client}" / f"year={year}"
        folder.mkdir(parents=True)
        samples(f"{client}a", client, n).drop("client_id", "year").write_parquet(
            folder / "part-1.parquet"
        )
    (root / "samples").symlink_to(os.path.relpath(sample_version, root))

    store = TableStore(root)
    assert store.exists()
    store.clean_stale()
    assert not (root / ".versions").exists()
    assert (root / "roster" / "_delta_log").is_dir()
    assert pl.read_delta(str(root / "roster")).sort("client_id").equals(ROSTER)
    moved = pl.read_delta(str(root / "samples"))
    assert sorted(moved.select("client_id", "year").unique().rows()) == [("c1", 2025), ("c2", 2026)]
    assert moved.height == 5
    assert store.clean_stale() == 0  # nothing more to move


def test_appends_are_compacted_once_a_partition_holds_many_files(tmp_path: Path) -> None:
    store = TableStore(tmp_path / "warehouse")
    for i in range(5):
        store.upsert("samples", samples(f"a{i}", "c1", 3), new=True)
        store.upsert("roster", ROSTER.head(1).with_columns(client_id=pl.lit(f"k{i}")))
    partition = tmp_path / "warehouse" / "samples" / "client_id=c1" / "year=2026"
    assert len(store.files("samples")) == 5
    assert store.compact(max_files=4) == ["samples", "roster"]
    assert len(store.files("samples")) == 1
    assert len(store.files("roster")) == 1
    store.vacuum()
    assert len(list(partition.glob("*.parquet"))) == 1
    assert store.read("samples").height == 15
    assert store.read("roster").height == 5
    assert store.compact(max_files=4) == []


def test_read_keys_returns_only_those_keys_rows(tmp_path: Path) -> None:
    store = TableStore(tmp_path / "warehouse")
    store.upsert("samples", pl.concat([samples("a1", "c1", 3), samples("a2", "c1", 2)]))
    store.upsert("samples", samples("b1", "c2", 4), new=True)
    got = store.read("samples", keys=["a2", "b1"], columns=["activity_id", "hr_bpm"])
    assert sorted(got.select("activity_id", "hr_bpm").rows()) == [
        ("a2", 100),
        ("a2", 101),
        ("b1", 100),
        ("b1", 101),
        ("b1", 102),
        ("b1", 103),
    ]
    assert store.read("samples", keys=[]).is_empty()
    assert store.read("samples", keys=["nowhere"]).is_empty()
