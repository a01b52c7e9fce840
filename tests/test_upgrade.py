"""A warehouse written by an older mindmiles keeps working after an upgrade.

Derived tables whose files lack columns the models have gained since are rebuilt whole on the
next run; reading such a table meanwhile gives the new columns as nulls.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import pytest
from deltalake import write_deltalake

from pipelines.cli import main
from tests.clinic_factory import make_small_clinic
from warehouse.store import TableStore

OLD = {
    # column -> derived table that an older mindmiles wrote without it
    "days": "indicators",
    "monotony_uncapped": "daily_load",
    "easy_share": "weekly_adherence",
}


def run(inbox: Path, warehouse: Path) -> None:
    out = io.StringIO()
    argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse)]
    assert main([*argv, "--settle-seconds", "0", "--engine", "local"], out=out) == 0


def age(store: TableStore, table: str, column: str) -> None:
    """Rewrite the table as an older mindmiles would have: without ``column``."""
    uri = store.table_uri(table)
    frame = pl.read_delta(uri).drop(column)
    write_deltalake(uri, frame.to_arrow(), mode="overwrite", schema_mode="overwrite")


def test_outdated_derived_tables_are_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MINDMILES_SECRET", "test-secret-of-sixteen-bytes")
    monkeypatch.setenv("MINDMILES_KEY_FILE", str(tmp_path / "key"))
    inbox, warehouse = tmp_path / "inbox", tmp_path / "warehouse"
    make_small_clinic(inbox)
    run(inbox, warehouse)
    store = TableStore(warehouse)
    before = {table: store.read(table) for table in OLD.values()}
    for column, table in OLD.items():
        age(store, table, column)
        assert store.is_outdated(table)
        # read while outdated: the column is there, as nulls
        assert store.read(table)[column].null_count() == store.read(table).height
    run(inbox, warehouse)  # nothing new in the inbox: only the rebuild
    for table, frame in before.items():
        assert not store.is_outdated(table)
        assert store.read(table).equals(frame)
