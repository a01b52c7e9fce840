"""``<warehouse>/mindmiles.duckdb``: views only, analyst tables only, right types, atomic rewrite.

The warehouse is the hand-made one of ``tests/test_report.py`` plus a partitioned ``samples``
table and a restricted ``journal_notes`` table holding a sentinel note; expected query results are
read off those rows by hand.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tests.test_report import C1, STRANGER, make_warehouse
from warehouse.sql import (
    CONVENIENCE_VIEWS,
    EXAMPLE_QUERIES,
    connect,
    database_path,
    run_query,
    write_database,
)
from warehouse.store import TableStore
from warehouse.tables import TABLES

D = dt.date
DIGITS_ID = "000000000000000000000123"  # would lose its zeros if Hive types were guessed
SENTINEL = "SENTINEL-NOTE-4c1d slept badly"


def _samples() -> pl.DataFrame:
    rows = [
        {"activity_id": "a1", "client_id": C1, "elapsed_s": 0.0, "hr_bpm": 100},
        {"activity_id": "a1", "client_id": C1, "elapsed_s": 1.0, "hr_bpm": 101},
        {"activity_id": "z1", "client_id": DIGITS_ID, "elapsed_s": 0.0, "hr_bpm": 90},
    ]
    model_columns = list(TABLES["samples"].model.to_schema().columns)
    frame = pl.DataFrame([{c: r.get(c) for c in model_columns} for r in rows])
    frame = TABLES["samples"].model.validate(frame)
    return frame.with_columns(year=pl.Series([2026, 2026, 2025], dtype=pl.Int32))


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    root, _ = make_warehouse(tmp_path)
    store = TableStore(root)
    store.upsert("samples", _samples())
    store.replace(
        "journal_notes",
        pl.DataFrame({"entry_id": ["0000000000000001"], "client_id": [C1], "note": [SENTINEL]}),
    )
    return root


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }


def test_database_holds_views_only_and_never_restricted_tables(warehouse: Path) -> None:
    (warehouse / ".mindmiles.duckdb.0123.tmp").write_bytes(b"left by a killed run")
    path = write_database(warehouse)
    assert path == warehouse.absolute() / "mindmiles.duckdb"
    con = duckdb.connect(str(path), read_only=True)
    try:
        # Every analyst table has a view, written or not (an unwritten one answers empty).
        analyst = {n for n, spec in TABLES.items() if not spec.restricted}
        assert "journal_notes" not in analyst
        assert _views(con) == analyst | {v.name for v in CONVENIENCE_VIEWS}
        assert con.execute("SELECT count(*) FROM duckdb_tables()").fetchone() == (0,)
    finally:
        con.close()
    assert SENTINEL.encode() not in path.read_bytes()
    assert not list(warehouse.glob(".mindmiles.duckdb*"))  # no temporary file left


def test_views_keep_model_column_order_and_hive_types(warehouse: Path) -> None:
    write_database(warehouse)
    con = connect(warehouse)
    try:
        described = con.execute("DESCRIBE samples").fetchall()
        names = [r[0] for r in described]
        assert names == [*TABLES["samples"].model.to_schema().columns, "year"]
        types = {r[0]: r[1] for r in described}
        assert types["client_id"] == "VARCHAR"
        assert types["year"] == "INTEGER"
        rows = con.execute(
            "SELECT client_id, year, count(*) FROM samples GROUP BY ALL ORDER BY year"
        ).fetchall()
        assert rows == [(DIGITS_ID, 2025, 1), (C1, 2026, 2)]
        assert con.execute("SELECT typeof(start_utc) FROM activities LIMIT 1").fetchone() == (
            "TIMESTAMP WITH TIME ZONE",
        )
    finally:
        con.close()


def test_client_week_view(warehouse: Path) -> None:
    write_database(warehouse)
    out = run_query(
        warehouse,
        "SELECT week_start, minutes, band, mood_mean_10, sleep_mean_h, open_indicators, "
        f"indicator_codes FROM client_week WHERE client_id = '{C1}' ORDER BY week_start",
        output="json",
    )
    rows = json.loads(out)
    assert rows == [
        # mood (7 + 5) / 2 of 10; sleep 8 (the other entry has none); distance_jump on 5 Mar
        {
            "week_start": "2026-03-02",
            "minutes": 95.0,
            "band": "green",
            "mood_mean_10": 6.0,
            "sleep_mean_h": 8.0,
            "open_indicators": 1,
            "indicator_codes": "distance_jump",
        },
        # Daylio 4 of 5 = 8 of 10
        {
            "week_start": "2026-03-09",
            "minutes": 30.0,
            "band": "red",
            "mood_mean_10": 8.0,
            "sleep_mean_h": 6.5,
            "open_indicators": 0,
            "indicator_codes": "",
        },
        # load_spike on 16 and 17 Mar counts once
        {
            "week_start": "2026-03-16",
            "minutes": 0.0,
            "band": "red",
            "mood_mean_10": None,
            "sleep_mean_h": None,
            "open_indicators": 2,
            "indicator_codes": "load_spike,overload_low_wellbeing",
        },
    ]


def test_example_queries_answer_their_questions(warehouse: Path) -> None:
    write_database(warehouse)
    con = connect(warehouse)
    try:
        answers = [con.execute(q.sql).fetchall() for q in EXAMPLE_QUERIES]
    finally:
        con.close()
    assert len(EXAMPLE_QUERIES) == 5
    off_plan, mood, weekly, raised, refused = answers
    assert off_plan == [(C1, 90.0, 0.0, "red", None, "load_spike,overload_low_wellbeing")]
    assert mood == [(C1, 1, 2.0)]  # only the 3 Mar run has both entries: 5 -> 7
    assert [(c, w, n) for c, w, n, _, _ in weekly] == sorted(
        [
            (C1, D(2026, 2, 16), 1),
            (C1, D(2026, 3, 2), 1),
            (C1, D(2026, 3, 9), 1),
            (STRANGER, D(2026, 3, 16), 1),
        ]
    )  # the walk and the run without a date are left out
    # one load_spike episode of two days (16-17 Mar), two one-day episodes
    assert raised == [
        ("load_spike", 1, 2, 1),
        ("distance_jump", 1, 1, 1),
        ("overload_low_wellbeing", 1, 1, 1),
    ]
    assert refused == [
        ("html_page", "This file is a web page.", 2),
        ("fit_truncated", "The file is cut short.", 1),
    ]


def test_views_follow_new_table_versions_and_rewrite_is_atomic(warehouse: Path) -> None:
    """A reader holding the file keeps its version's files; a new reader sees the new version."""
    write_database(warehouse)
    reader = duckdb.connect(str(database_path(warehouse)), read_only=True)
    try:
        store = TableStore(warehouse)
        store.replace("files", store.read("files").head(1))
        write_database(warehouse)  # renamed over the file the reader holds open
        assert reader.execute("SELECT count(*) FROM files").fetchone() == (4,)
    finally:
        reader.close()
    assert run_query(warehouse, "SELECT count(*) AS n FROM files", output="csv") == "n\n1\n"
    assert store.vacuum() == 1  # the replaced file, which no current version needs
    assert run_query(warehouse, "SELECT count(*) AS n FROM files", output="csv") == "n\n1\n"
    assert pl.read_parquet(warehouse / "files" / "*.parquet").height == 1  # a plain glob


def test_empty_partitioned_table_gets_a_typed_empty_view(tmp_path: Path) -> None:
    warehouse, _ = make_warehouse(tmp_path)
    TableStore(warehouse).upsert("samples", _samples().head(0))
    assert not list((warehouse / "samples").glob("*/*/*.parquet"))
    write_database(warehouse)
    con = connect(warehouse)
    try:
        assert con.execute("SELECT count(*) FROM samples").fetchone() == (0,)
        types = {r[0]: r[1] for r in con.execute("DESCRIBE samples").fetchall()}
        assert types["hr_bpm"] == "SMALLINT"
        assert types["year"] == "INTEGER"
    finally:
        con.close()


def test_moved_warehouse_and_no_database_fall_back_to_memory(
    warehouse: Path, tmp_path: Path
) -> None:
    assert run_query(warehouse, "SELECT count(*) AS n FROM activities", output="csv") == "n\n6\n"
    write_database(warehouse)
    moved = tmp_path / "moved"
    shutil.move(warehouse, moved)
    assert run_query(moved, "SELECT count(*) AS n FROM activities", output="csv") == "n\n6\n"


def test_output_formats(warehouse: Path) -> None:
    sql = "SELECT 1 AS a, 'x,y' AS b"
    assert run_query(warehouse, sql, output="csv") == 'a,b\n1,"x,y"\n'
    assert run_query(warehouse, sql, output="json") == '[{"a": 1, "b": "x,y"}]\n'
    assert run_query(warehouse, sql, output="ndjson") == '{"a": 1, "b": "x,y"}\n'
    assert run_query(warehouse, "SELECT 1 AS a WHERE false", output="json") == "[]\n"
    table = run_query(warehouse, sql)
    assert "x,y" in table
    assert table.endswith("\n")
