"""SQL over the warehouse with DuckDB: one view per analyst table, plus convenience views.

After each run :func:`write_database` (re)writes ``<warehouse>/mindmiles.duckdb``. The file holds
**views only** — no rows of its own — so it never goes stale when a table gets a new version:

- one view per analyst table of :data:`warehouse.tables.TABLES`, over the data files of the Delta
  table's current version (Hive partitions read back as columns, with the types the schema gives
  them), with the columns in the order of the table's pandera model; a table that holds no file
  (never written, or empty) gets an empty view with the same columns and types, so that every
  view answers in every warehouse (DuckDB's ``delta`` extension is not needed);
- the convenience views of :data:`CONVENIENCE_VIEWS` (e.g. ``client_week``).

Restricted tables (``<warehouse>/restricted/``: free-text notes) never get a view.

DuckDB stores a view's SQL text, so the paths inside are **absolute**: after moving the warehouse
folder, run ``mindmiles ingest`` (or :func:`write_database`) once to rewrite them. :func:`connect`
notices a moved warehouse and falls back on building the same views in memory.

The file is built under a temporary name and renamed over the old one (atomic on POSIX): a reader
holding the old file keeps reading it; a new reader gets the new one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import duckdb
import pandera.polars as pa
import polars as pl

from schemas.errors import QueryRefused
from warehouse.files import install_private, temp_path
from warehouse.store import TableStore
from warehouse.tables import TABLES, TableSpec

__all__ = [
    "CONVENIENCE_VIEWS",
    "DATABASE_NAME",
    "EXAMPLE_QUERIES",
    "ConvenienceView",
    "ExampleQuery",
    "OutputFormat",
    "connect",
    "database_path",
    "render_rows",
    "run_query",
    "table_view_sql",
    "write_database",
]

log = logging.getLogger(__name__)

DATABASE_NAME = "mindmiles.duckdb"
"""File name of the DuckDB database inside the warehouse folder."""

PARTITION_TYPE_DEFAULT = "INTEGER"
"""DuckDB type of a Hive partition column the model does not hold (``year``)."""

OutputFormat = Literal["table", "csv", "json", "ndjson"]


@dataclass(frozen=True)
class ConvenienceView:
    """A view joining analyst tables; created only when every table in ``requires`` has a view."""

    name: str
    requires: tuple[str, ...]
    sql: str
    description: str


CONVENIENCE_VIEWS: tuple[ConvenienceView, ...] = (
    ConvenienceView(
        name="client_week",
        requires=("weekly_adherence", "journal", "indicators"),
        description=(
            "One row per client and ISO week: planned and counted runs and minutes, adherence "
            "band, mean mood (scaled to 0-10) and sleep from the journal, and the indicators "
            "raised that week (insufficient_data notes left out)."
        ),
        sql="""
WITH mood AS (
    SELECT client_id,
           CAST(date_trunc('week', local_date) AS DATE) AS week_start,
           avg(mood / mood_scale_max * 10) AS mood_mean_10,
           avg(sleep_hours) AS sleep_mean_h
    FROM journal
    GROUP BY ALL
),
episode_weeks AS (
    SELECT client_id,
           indicator,
           CAST(unnest(generate_series(
               CAST(date_trunc('week', local_date) AS TIMESTAMP),
               CAST(date_trunc('week', until_date) AS TIMESTAMP),
               INTERVAL 7 DAY
           )) AS DATE) AS week_start
    FROM indicators
    WHERE indicator <> 'insufficient_data'
),
raised AS (
    SELECT client_id,
           week_start,
           count(DISTINCT indicator) AS open_indicators,
           string_agg(DISTINCT indicator, ',' ORDER BY indicator) AS indicator_codes
    FROM episode_weeks
    GROUP BY ALL
)
SELECT w.client_id,
       w.week_start,
       w.iso_year,
       w.iso_week,
       w.planned_sessions,
       w.planned_minutes,
       w.completed_sessions AS runs,
       w.completed_minutes AS minutes,
       w.adherence_ratio,
       w.band,
       m.mood_mean_10,
       m.sleep_mean_h,
       w.journal_entries,
       coalesce(r.open_indicators, 0) AS open_indicators,
       coalesce(r.indicator_codes, '') AS indicator_codes
FROM weekly_adherence AS w
LEFT JOIN mood AS m USING (client_id, week_start)
LEFT JOIN raised AS r USING (client_id, week_start)
""",
    ),
    ConvenienceView(
        name="run_mood",
        requires=("run_journal",),
        description=(
            "One row per run (sport running) with its distance, moving minutes, pre- and "
            "post-run mood and the change."
        ),
        sql="""
SELECT activity_id,
       client_id,
       local_date,
       distance_m / 1000 AS distance_km,
       moving_time_s / 60 AS moving_minutes,
       pre_mood,
       post_mood,
       post_mood_scale_max AS mood_scale_max,
       mood_change,
       post_rpe
FROM run_journal
WHERE sport = 'running'
""",
    ),
    ConvenienceView(
        name="client_load_latest",
        requires=("daily_load",),
        description=(
            "One row per client: the last day of daily_load with ATL, CTL, TSB, EWMA ACWR and "
            "the 7-day mood and sleep z-scores."
        ),
        sql="""
SELECT client_id, local_date, atl, ctl, tsb, acwr_ewma, monotony, mood_z, sleep_z
FROM daily_load
QUALIFY row_number() OVER (PARTITION BY client_id ORDER BY local_date DESC) = 1
""",
    ),
)
"""Views built on top of the table views (data, not code: add one here and it is created)."""


@dataclass(frozen=True)
class ExampleQuery:
    """A question an analyst asks, with the SQL that answers it (shown in the README)."""

    question: str
    sql: str


EXAMPLE_QUERIES: tuple[ExampleQuery, ...] = (
    ExampleQuery(
        "Who was off plan in the latest week, and what was raised for them?",
        """SELECT client_id, planned_minutes, minutes, band, mood_mean_10, indicator_codes
FROM client_week
WHERE week_start = (SELECT max(week_start) FROM client_week)
  AND band IN ('red', 'yellow')
ORDER BY band, client_id""",
    ),
    ExampleQuery(
        "Does mood improve after a run? Mean change per client.",
        """SELECT client_id, count(mood_change) AS runs_with_both_entries,
       round(avg(mood_change), 2) AS mean_mood_change
FROM run_mood
GROUP BY client_id
ORDER BY mean_mood_change""",
    ),
    ExampleQuery(
        "Running distance and minutes per client and ISO week.",
        """SELECT client_id, CAST(date_trunc('week', local_date) AS DATE) AS week_start,
       count(*) AS runs, round(sum(distance_m) / 1000, 1) AS km,
       round(sum(moving_time_s) / 60) AS moving_minutes
FROM activities
WHERE sport = 'running' AND local_date IS NOT NULL
GROUP BY ALL
ORDER BY client_id, week_start""",
    ),
    ExampleQuery(
        "Which indicators were raised, how often, for how many clients?",
        """SELECT indicator, count(*) AS episodes, sum(days) AS days_raised,
       count(DISTINCT client_id) AS clients
FROM indicators
WHERE indicator <> 'insufficient_data'
GROUP BY indicator
ORDER BY days_raised DESC, indicator""",
    ),
    ExampleQuery(
        "Which files were refused, and why?",
        """SELECT reason_code, any_value(reason_message) AS reason, count(*) AS files
FROM files
WHERE outcome = 'quarantined'
GROUP BY reason_code
ORDER BY files DESC, reason_code""",
    ),
)
"""Five questions for the README; each is run by the tests against a hand-made warehouse."""


def database_path(warehouse: Path) -> Path:
    """``<warehouse>/mindmiles.duckdb``."""
    return warehouse / DATABASE_NAME


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _model_columns(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    """Column name -> Polars dtype, in the model's order."""
    columns: dict[str, pl.DataType] = {}
    for name, column in model.to_schema().columns.items():
        dtype = column.dtype.type
        if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
            dtype = dtype()
        if not isinstance(dtype, pl.DataType):
            raise TypeError(f"column {name!r} of {model.__name__} has no Polars dtype")
        columns[name] = dtype
    return columns


@cache
def _types_connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB per process to ask for type names (a connection costs 15 ms)."""
    return duckdb.connect(":memory:")


_TYPES_LOCK = threading.Lock()


@cache
def _duckdb_types(model: type[pa.DataFrameModel]) -> dict[str, str]:
    """DuckDB type names of a model's columns, as DuckDB itself maps them through Arrow.

    Asked of DuckDB once per model and process.
    """
    columns = _model_columns(model)
    if not columns:
        return {}
    empty = pl.DataFrame(schema=columns).to_arrow()
    with _TYPES_LOCK:
        relation = _types_connection().from_arrow(empty)
        pairs = zip(relation.columns, relation.types, strict=True)
        return {name: str(kind) for name, kind in pairs}


def table_view_sql(
    spec: TableSpec, files: list[str], *, stored: Collection[str] | None = None
) -> str:
    """Return the ``SELECT`` behind a table's view.

    Parameters
    ----------
    spec
        The table.
    files
        Absolute paths of the data files of the table's current Delta version; with none (never
        written, or empty), the view is an empty, typed ``SELECT`` so that queries still work.
    stored
        The columns the files hold, when they may lack some the model has gained since (a
        table written by an older mindmiles): those read as typed nulls.

    Returns
    -------
    str
        ``SELECT <model columns, partition columns last> FROM read_parquet(...)``.
    """
    model_columns = _model_columns(spec.model)
    types = _duckdb_types(spec.model)
    extra = [c for c in spec.partition_by if c not in model_columns]
    names = [*model_columns, *extra]
    if not files:
        typed = [
            f"CAST(NULL AS {types.get(c, PARTITION_TYPE_DEFAULT)}) AS {_quote_ident(c)}"
            for c in names
        ]
        return "SELECT " + ", ".join(typed) + " WHERE false"
    pattern = "[" + ", ".join(_quote_literal(f) for f in files) + "]"
    options = ""
    if spec.partition_by:
        hive_types = ", ".join(
            f"{_quote_literal(c)}: {_quote_literal(types.get(c, PARTITION_TYPE_DEFAULT))}"
            for c in spec.partition_by
        )
        options = f", hive_partitioning = true, hive_types = {{{hive_types}}}"
    else:
        options = ", hive_partitioning = false"
    held = set(names) if stored is None else {*stored, *spec.partition_by}
    select = ", ".join(
        _quote_ident(c)
        if c in held
        else f"CAST(NULL AS {types.get(c, PARTITION_TYPE_DEFAULT)}) AS {_quote_ident(c)}"
        for c in names
    )
    return f"SELECT {select} FROM read_parquet({pattern}{options})"


def _create_views(con: duckdb.DuckDBPyConnection, warehouse: Path) -> list[str]:
    """Create every view on ``con``; return their names in creation order.

    Every analyst table gets its view, written or not (a run writes an empty version of each
    table, see :meth:`TableStore.ensure_all`; a warehouse before its first run has none).
    """
    store = TableStore(warehouse)
    created: list[str] = []
    for name, spec in TABLES.items():
        if spec.restricted:
            continue
        sql = table_view_sql(spec, store.files(name), stored=store.stored_columns(name))
        con.execute(f"CREATE OR REPLACE VIEW {_quote_ident(name)} AS {sql}")
        created.append(name)
    for view in CONVENIENCE_VIEWS:
        if all(t in created for t in view.requires):
            con.execute(f"CREATE OR REPLACE VIEW {_quote_ident(view.name)} AS {view.sql}")
            created.append(view.name)
    return created


def write_database(warehouse: Path) -> Path:
    """(Re)write ``<warehouse>/mindmiles.duckdb`` with the views, atomically.

    Call it after every run, while holding the warehouse lock (temporary files a killed writer
    left behind are removed first).

    Parameters
    ----------
    warehouse
        The warehouse root; made absolute (views store absolute paths).

    Returns
    -------
    Path
        The database file.
    """
    warehouse = warehouse.absolute()
    target = database_path(warehouse)
    warehouse.mkdir(parents=True, exist_ok=True, mode=0o700)
    for stale in warehouse.glob(f".{DATABASE_NAME}.*.tmp*"):
        stale.unlink(missing_ok=True)
    tmp = temp_path(target)
    try:
        con = duckdb.connect(str(tmp))
        try:
            created = _create_views(con, warehouse)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        install_private(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    log.info("wrote %s with %d views", DATABASE_NAME, len(created))
    return target


def _file_is_current(con: duckdb.DuckDBPyConnection, warehouse: Path) -> bool:
    """Tell whether the database's table views point into ``warehouse`` (it was not moved)."""
    rows = con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall()
    marker = str(warehouse.absolute() / "")
    table_views = [sql for (sql,) in rows if "read_parquet(" in sql]
    return all(marker in sql for sql in table_views)


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB connection whose views are the warehouse's tables and convenience views.

    Opens ``<warehouse>/mindmiles.duckdb`` read-only when it exists and points at this folder;
    otherwise builds the same views in an in-memory database (before the first run, or after the
    warehouse was moved).
    """
    path = database_path(warehouse)
    if path.is_file():
        con = duckdb.connect(str(path), read_only=True)
        if _file_is_current(con, warehouse):
            return con
        con.close()
        log.warning("%s points at another folder; using in-memory views", DATABASE_NAME)
    con = duckdb.connect(":memory:")
    _create_views(con, warehouse.absolute())
    return con


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to a spreadsheet (OWASP CSV injection)."""


def spreadsheet_safe(value: object) -> object:
    """Prefix a text cell that a spreadsheet would run as a formula with ``'`` (OWASP).

    Numbers are left alone: ``-5`` stays a number.

    Examples
    --------
    >>> [spreadsheet_safe(v) for v in ("=HYPERLINK(1)", "@SUM(A1)", "-2+3", "walk", -5)]
    ["'=HYPERLINK(1)", "'@SUM(A1)", "'-2+3", 'walk', -5]
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_rows(columns: list[str], rows: list[tuple[object, ...]], output: OutputFormat) -> str:
    """Render a result as CSV (header first, formulas neutralised), a JSON array or JSON lines.

    Examples
    --------
    >>> print(render_rows(["a", "b"], [(1, "x"), (2, None)], "json"), end="")
    [{"a": 1, "b": "x"}, {"a": 2, "b": null}]
    >>> print(render_rows(["a"], [(1,), (2,)], "ndjson"), end="")
    {"a": 1}
    {"a": 2}
    """
    if output == "json":
        objects = [dict(zip(columns, row, strict=True)) for row in rows]
        return json.dumps(objects, default=str) + "\n"
    if output == "ndjson":
        return "".join(
            json.dumps(dict(zip(columns, row, strict=True)), default=str) + "\n" for row in rows
        )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([spreadsheet_safe(c) for c in columns])
    writer.writerows([spreadsheet_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


def confine(con: duckdb.DuckDBPyConnection, warehouse: Path) -> None:
    """Let ``con`` read the analyst tables' files and nothing else, for good.

    No other file (``read_text('/etc/shadow')``, ``glob``, ``restricted/``), no ``COPY ... TO``,
    ``ATTACH``, ``INSTALL`` or ``LOAD``; ``lock_configuration`` keeps any statement from lifting
    it. DuckDB's ``allowed_directories`` with ``enable_external_access = false``.
    """
    root = warehouse.absolute()
    allowed = [f"{root / name}/" for name, spec in TABLES.items() if not spec.restricted]
    con.execute("SET allowed_directories = ?", [allowed])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def run_query(warehouse: Path, sql: str, *, output: OutputFormat = "table") -> str:
    """Run ``sql`` over the warehouse and render the result.

    Parameters
    ----------
    warehouse
        The warehouse root.
    sql
        Any DuckDB SQL; tables and convenience views are named as in ``docs/tables.md``.
    output
        ``table`` (DuckDB's box rendering, long results elided), ``csv``, ``json`` (one array of
        row objects) or ``ndjson`` (one object a line).

    Returns
    -------
    str
        The rendered result; empty for a statement that returns no relation.

    Raises
    ------
    QueryRefused
        The SQL is invalid, or reaches for something outside the analyst tables (files,
        ``restricted/``, ``COPY ... TO``, extensions); the message is DuckDB's first line.
    """
    con = connect(warehouse)
    try:
        confine(con, warehouse)
        relation = con.sql(sql)
        if relation is None:
            return ""
        if output == "table":
            return str(relation) + "\n"
        return render_rows(list(relation.columns), relation.fetchall(), output)
    except duckdb.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise QueryRefused(first) from exc
    finally:
        con.close()
