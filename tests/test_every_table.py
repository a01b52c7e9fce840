"""Every documented table exists in every warehouse, and every view of ``mindmiles.duckdb`` answers.

Regression (issue 17, item 8): ``daily_wellness`` is documented with a view, but a warehouse whose
inbox held no monitoring file had neither the table nor a working view (``SELECT`` on it failed
with a DuckDB Catalog Error); the same held for ``journal``, ``plans`` and the restricted notes
tables without a journal or plan.

The list of tables and views is read from ``docs/tables.md`` (its headings and "Access" lines),
not from :data:`warehouse.tables.TABLES`; the tables that must be empty are stated by hand from the
inbox (a roster and one FIT run: no journal, no plan, no monitoring file).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.cli import main
from synthetic.run_model import simulate_run, write_run_fit
from tests.clinic_factory import CLIENT, ROSTER
from warehouse.sql import connect, write_database
from warehouse.store import TableStore
from warehouse.tables import TABLES

DICTIONARY = Path(__file__).resolve().parents[1] / "docs" / "tables.md"
EMPTY_WITHOUT_INPUT = {"journal", "plans", "daily_wellness", "journal_notes", "plan_notes"}
"""Tables nothing in a roster-and-one-FIT inbox feeds (no journal, no plan, no monitoring file)."""


@dataclass(frozen=True)
class Documented:
    """What ``docs/tables.md`` promises: tables (name -> restricted?) and convenience views."""

    tables: dict[str, bool]
    views: tuple[str, ...]

    @property
    def analyst_tables(self) -> set[str]:
        """Tables that get a view of their own."""
        return {name for name, restricted in self.tables.items() if not restricted}


def read_dictionary(text: str) -> Documented:
    """The ``## `name` `` headings of the "Data dictionary" and "Convenience views" chapters."""
    tables: dict[str, bool] = {}
    views: list[str] = []
    chapter = ""
    current = ""
    for line in text.splitlines():
        if line.startswith("# "):
            chapter = line[2:].strip()
        elif match := re.fullmatch(r"## `(\w+)`", line):
            current = match.group(1)
            if chapter == "Data dictionary":
                tables[current] = False
            elif chapter == "Convenience views":
                views.append(current)
        elif line.startswith("- Access:") and chapter == "Data dictionary":
            tables[current] = line.removeprefix("- Access:").strip().startswith("restricted")
    return Documented(tables=tables, views=tuple(views))


def test_the_dictionary_reader_sees_tables_views_and_restricted_ones() -> None:
    documented = read_dictionary(DICTIONARY.read_text())
    assert {"daily_wellness", "samples", "files"} <= documented.analyst_tables
    assert documented.tables["journal_notes"] is True
    assert documented.tables["plan_notes"] is True
    assert documented.views == ("client_week", "run_mood", "client_load_latest")
    # Docs and the registry agree (the dictionary is generated from it; a stale one fails here).
    assert set(documented.tables) == set(TABLES)


def make_one_run_clinic(inbox: Path) -> None:
    """A roster and one 20-minute FIT run for its client: no journal, no plan, no wellness."""
    folder = inbox / CLIENT
    folder.mkdir(parents=True)
    (inbox / "roster.csv").write_text(ROSTER)
    run = simulate_run(
        dt.datetime(2026, 3, 3, 7, 0, tzinfo=dt.UTC),
        duration_s=20 * 60,
        intensity="easy",
        hr_rest=55,
        hr_max=190,
        home=(51.5, -0.12),
        seed=0,
    )
    (folder / "run.fit").write_bytes(write_run_fit(run))


def ingest(inbox: Path, warehouse: Path) -> int:
    """Run ``mindmiles ingest`` in-process; return its exit code."""
    argv = ["ingest", "--inbox", str(inbox), "--warehouse", str(warehouse)]
    return main([*argv, "--settle-seconds", "0", "--engine", "local"], out=io.StringIO())


SECRET = "test-secret-of-sixteen-bytes"


@pytest.fixture(scope="module")
def one_run_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """One run of the one-run clinic, shared by the module's tests (they only read it)."""
    root = tmp_path_factory.mktemp("one-run")
    inbox, warehouse = root / "inbox", root / "warehouse"
    make_one_run_clinic(inbox)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINDMILES_SECRET", SECRET)
        patch.setenv("MINDMILES_KEY_FILE", str(root / "key"))
        assert ingest(inbox, warehouse) == 0
        yield inbox, warehouse


def test_every_documented_table_is_on_disk(one_run_warehouse: tuple[Path, Path]) -> None:
    _, warehouse = one_run_warehouse
    documented = read_dictionary(DICTIONARY.read_text())
    for name, restricted in documented.tables.items():
        folder = warehouse / "restricted" / name if restricted else warehouse / name
        assert (folder / "_delta_log").is_dir(), f"{name}: no Delta table at {folder}"
        frame = pl.read_delta(str(folder))  # plain Polars, no project code
        rows = frame.height
        if name in EMPTY_WITHOUT_INPUT:
            assert rows == 0, name
        elif name in {"activities", "samples", "roster", "files", "weekly_adherence"}:
            assert rows > 0, name


def test_every_view_answers(one_run_warehouse: tuple[Path, Path]) -> None:
    _, warehouse = one_run_warehouse
    documented = read_dictionary(DICTIONARY.read_text())
    with duckdb.connect(str(warehouse / "mindmiles.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        views = {name for (name,) in rows}
        assert views == documented.analyst_tables | set(documented.views)
        counts = {v: con.execute(f'SELECT count(*) FROM "{v}"').fetchone() for v in sorted(views)}
        described = con.execute("DESCRIBE daily_wellness").fetchall()
    assert counts["daily_wellness"] == (0,)
    assert counts["activities"] == (1,)
    assert all(count is not None for count in counts.values())
    # The empty view is typed as the dictionary documents it.
    types = {name: kind for name, kind, *_ in described}
    assert types == {
        "client_id": "VARCHAR",
        "date": "DATE",
        "resting_hr_bpm": "SMALLINT",
        "source": "VARCHAR",
        "measured_utc": "TIMESTAMP WITH TIME ZONE",
        "source_sha256": "VARCHAR",
    }


def test_a_second_run_commits_no_table(one_run_warehouse: tuple[Path, Path]) -> None:
    """The empty tables made by the first run are not written again by a run with nothing new."""
    inbox, warehouse = one_run_warehouse
    store = TableStore(warehouse)
    before = {name: store.version(name) for name in TABLES}
    assert None not in before.values()
    assert ingest(inbox, warehouse) == 0
    assert {name: store.version(name) for name in TABLES} == before


def test_ensure_all_writes_only_missing_tables(tmp_path: Path) -> None:
    store = TableStore(tmp_path / "warehouse")
    roster = pl.DataFrame(
        {
            "client_id": ["a1"],
            "sex": ["f"],
            "birth_year": [1990],
            "hr_rest": [55.0],
            "hr_max": [190.0],
            "timezone": ["Europe/London"],
            "lthr": [None],
        }
    )
    store.replace("roster", roster)
    held = store.version("roster")
    created = store.ensure_all()
    assert sorted(created) == sorted(set(TABLES) - {"roster"})
    assert store.version("roster") == held
    assert store.read("roster")["client_id"].to_list() == ["a1"]
    for name in created:
        frame = store.read(name)
        assert frame.height == 0, name
        assert frame.schema == TableStore(tmp_path / "elsewhere").read(name).schema, name
    assert store.ensure_all() == []


def test_views_of_a_warehouse_without_tables_answer(tmp_path: Path) -> None:
    """Before any run (or with a table never written) every analyst view is a typed empty one."""
    warehouse = tmp_path / "warehouse"
    write_database(warehouse)
    documented = read_dictionary(DICTIONARY.read_text())
    con = connect(warehouse)
    try:
        for name in sorted(documented.analyst_tables | set(documented.views)):
            assert con.execute(f'SELECT count(*) FROM "{name}"').fetchone() == (0,), name
        for name in documented.tables.keys() - documented.analyst_tables:
            with pytest.raises(duckdb.CatalogException):
                con.execute(f'SELECT count(*) FROM "{name}"')
    finally:
        con.close()
