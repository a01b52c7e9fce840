"""SQL over the warehouse with DuckDB: one view per analyst table."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from warehouse.store import TableStore
from warehouse.tables import TABLES

__all__ = ["connect", "run_query"]


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per analyst table (restricted ones excluded)."""
    store = TableStore(warehouse)
    con = duckdb.connect(":memory:")
    for name, spec in TABLES.items():
        if spec.restricted or store.current_version(name) is None:
            continue
        pattern = str(store.table_path(name) / "**" / "*.parquet").replace("'", "''")
        hive = "true" if spec.partition_by else "false"
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{pattern}', hive_partitioning={hive})"
        )
    return con


def run_query(warehouse: Path, sql: str, *, output: str = "table") -> str:
    """Run ``sql`` and render the result as a text table, CSV or JSON lines."""
    con = connect(warehouse)
    relation = con.sql(sql)
    if relation is None:
        return ""
    if output == "table":
        return str(relation) + "\n"
    columns = relation.columns
    rows = relation.fetchall()
    if output == "json":
        return "".join(json.dumps(dict(zip(columns, row, strict=True)), default=str) + "\n" for row in rows)
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()
