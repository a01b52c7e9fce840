"""The data dictionary, ``docs/tables.md``, generated from the pandera models.

Everything in it comes from code: each model in ``schemas/`` (description, dtype, nullability,
uniqueness and allowed range/values of every column; its cross-column rules), the storage layout
of :data:`warehouse.tables.TABLES` (key, Hive partitioning, restricted or not), the convenience
views and example queries of :mod:`warehouse.sql`. A column's unit is its ``Field(metadata=
{"unit": ...})`` when given, else read from the column name's suffix (DESIGN.md: "units are SI
and named in the column") with :data:`UNIT_SUFFIXES`.

Regenerate with ``python -m warehouse.dictionary`` (a test fails when the file is out of date).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandera.polars as pa

import schemas
from warehouse.sql import CONVENIENCE_VIEWS, DATABASE_NAME, EXAMPLE_QUERIES, table_view_sql
from warehouse.tables import TABLES, TableSpec

__all__ = [
    "DICTIONARY_PATH",
    "UNIT_NAMES",
    "UNIT_SUFFIXES",
    "TableEntry",
    "collect_tables",
    "column_unit",
    "main",
    "render_dictionary",
    "render_examples",
]

DICTIONARY_PATH = Path(__file__).resolve().parents[1] / "docs" / "tables.md"
"""Where the generated dictionary lives in the repository."""

UNIT_NAMES: Mapping[str, str] = {
    "hr_rest": "bpm",
    "hr_max": "bpm",
    "lthr": "bpm",
    "minutes": "min",
    "load": "TRIMP (a.u.)",
    "atl": "TRIMP/day",
    "ctl": "TRIMP/day",
    "tsb": "TRIMP/day",
    "ewma_acute": "TRIMP/day",
    "ewma_chronic": "TRIMP/day",
    "strain": "a.u.",
    "trimp_banister": "a.u.",
    "trimp_edwards": "a.u.",
    "srpe": "a.u.",
    "hrtss": "a.u. (100 = 1 h at LTHR)",
    "mood": "scale points (1 to mood_scale_max)",
    "birth_year": "year",
}
"""Units of columns whose name carries none (exact names)."""

UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("_mpm_per_bpm", "(m/min)/bpm"),
    ("_utc", "UTC, µs"),
    ("_mps", "m/s"),
    ("_bpm", "bpm"),
    ("_rpm", "1/min"),
    ("_pct", "%"),
    ("_frac", "fraction (0-1)"),
    ("_deg", "degrees (WGS84)"),
    ("_km", "km"),
    ("_ms", "ms"),
    ("_m", "m"),
    ("_s", "s"),
    ("_h", "h"),
    ("_hours", "h"),
    ("_minutes", "min"),
    ("_days", "days"),
    ("_z", "SD (z-score)"),
    ("_c", "°C"),
    ("_w", "W"),
    ("_sha256", "hex digest"),
)
"""Column-name suffix -> unit, tried in order (longer suffixes first where they overlap)."""

_CHECK_TEXT: Mapping[str, str] = {
    "greater_than_or_equal_to": ">= {min_value}",
    "greater_than": "> {min_value}",
    "less_than_or_equal_to": "<= {max_value}",
    "less_than": "< {max_value}",
    "equal_to": "= {value}",
    "not_equal_to": "!= {value}",
    "in_range": "{min_value} to {max_value}",
    "str_matches": "matches `{pattern}`",
    "str_startswith": "starts with `{string}`",
    "str_endswith": "ends with `{string}`",
}
"""How each pandera check reads in the ``allowed`` column (``isin``/``str_length`` are special)."""


@dataclass(frozen=True)
class TableEntry:
    """One table of the dictionary: its model and, when registered, its storage layout."""

    name: str
    model: type[pa.DataFrameModel]
    spec: TableSpec | None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _schema_models() -> list[type[pa.DataFrameModel]]:
    """Every pandera model defined in a module of the ``schemas`` package."""
    models: list[type[pa.DataFrameModel]] = []
    for info in sorted(pkgutil.iter_modules(schemas.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"schemas.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, pa.DataFrameModel) and obj.__module__ == module.__name__:
                models.append(obj)
    return models


def collect_tables(tables: Mapping[str, TableSpec] | None = None) -> list[TableEntry]:
    """Every table to document, sorted by name.

    Parameters
    ----------
    tables
        The registry; default :data:`warehouse.tables.TABLES`.

    Returns
    -------
    list of TableEntry
        The registered tables, plus one entry per model in ``schemas/`` not (yet) registered,
        named after the model in snake case.
    """
    registry = TABLES if tables is None else tables
    entries = {name: TableEntry(name, spec.model, spec) for name, spec in registry.items()}
    registered = {spec.model for spec in registry.values()}
    for model in _schema_models():
        name = _snake(model.__name__)
        if model not in registered and name not in entries:
            entries[name] = TableEntry(name, model, None)
    return [entries[name] for name in sorted(entries)]


def column_unit(name: str, metadata: Mapping[str, Any] | None = None) -> str:
    """Return a column's unit: its metadata's ``unit``, else from its name; ``""`` when none.

    Examples
    --------
    >>> column_unit("speed_mps"), column_unit("moving_time_s"), column_unit("load")
    ('m/s', 's', 'TRIMP (a.u.)')
    >>> column_unit("sport")
    ''
    """
    if metadata and "unit" in metadata:
        return str(metadata["unit"])
    if name in UNIT_NAMES:
        return UNIT_NAMES[name]
    for suffix, unit in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return unit
    return ""


def _allowed(checks: Iterable[Any]) -> str:
    parts: list[str] = []
    for check in checks:
        stats = dict(check.statistics or {})
        if check.name == "isin":
            parts.append("one of " + ", ".join(f"`{v}`" for v in stats["allowed_values"]))
        elif check.name == "str_length":
            low, high = stats.get("min_value"), stats.get("max_value")
            exact = stats.get("exact_value")
            if exact is None and low is not None and low == high:
                exact = low
            if exact is not None:
                parts.append(f"length {exact}")
            else:
                parts.append(
                    "length "
                    + " and ".join(
                        t
                        for t in (
                            f">= {low}" if low is not None else "",
                            f"<= {high}" if high is not None else "",
                        )
                        if t
                    )
                )
        elif check.name in _CHECK_TEXT:
            parts.append(_CHECK_TEXT[check.name].format(**stats))
        else:
            parts.append(check.name)
    return "; ".join(parts)


_TAG_START = re.compile(r"<(?=[A-Za-z/!])")
"""A ``<`` that Markdown would take for the start of an HTML tag (``<br>``), not ``<=``."""


def _cell(text: str) -> str:
    """Make one Markdown table cell: one line, ``|`` escaped, ``<`` escaped outside code."""
    pieces = " ".join(text.split()).replace("``", "`").replace("|", "\\|").split("`")
    return "`".join(p if i % 2 else _TAG_START.sub("&lt;", p) for i, p in enumerate(pieces))


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return " ".join(inspect.cleandoc(doc).split("\n\n", 1)[0].split()).replace("``", "`")


def _codes(names: Sequence[str]) -> str:
    return ", ".join(f"`{n}`" for n in names) if names else "—"


def _render_table(entry: TableEntry) -> list[str]:
    schema = entry.model.to_schema()
    lines = [f"## `{entry.name}`", "", _first_paragraph(entry.model.__doc__), ""]
    model_path = f"`{entry.model.__module__}.{entry.model.__name__}`"
    spec = entry.spec
    if spec is None:
        lines.append(f"- Model: {model_path} (not registered in `warehouse.tables.TABLES`)")
    else:
        access = (
            "restricted: under `<warehouse>/restricted/`, no SQL view"
            if spec.restricted
            else f"analyst table: `<warehouse>/{entry.name}/`, view `{entry.name}` in "
            f"`{DATABASE_NAME}`"
        )
        lines += [
            f"- Model: {model_path}",
            f"- Access: {access}",
            f"- Key (rows replaced together on upsert): {_codes(spec.key)}",
            f"- Hive partitions: {_codes(spec.partition_by)}",
            f"- Sorted by: {_codes(spec.sort_by)}",
        ]
    unique = schema.unique
    unique_cols = [unique] if isinstance(unique, str) else list(unique or [])
    unique_cols += [n for n, c in schema.columns.items() if c.unique]
    if unique_cols:
        lines.append(f"- Unique: {_codes(unique_cols)}")
    rules = [f"`{c.name}`: {_cell(c.description or '').rstrip('.')}" for c in schema.checks]
    if rules:
        lines.append("- Rules: " + "; ".join(rules) + ".")
    lines += [
        "",
        "| column | type | nullable | unit | allowed | description |",
        "|---|---|---|---|---|---|",
    ]
    for name, column in schema.columns.items():
        lines.append(
            f"| `{name}` | {_cell(str(column.dtype))} | {'yes' if column.nullable else 'no'} "
            f"| {_cell(column_unit(name, column.metadata))} | {_cell(_allowed(column.checks))} "
            f"| {_cell(column.description or '')} |"
        )
    if spec is not None:
        extra = [c for c in spec.partition_by if c not in schema.columns]
        for name in extra:
            lines.append(
                f"| `{name}` | Int32 | no | {_cell(column_unit(name))} |  "
                "| Hive partition column (folder name), not stored in the Parquet files. |"
            )
    lines.append("")
    return lines


def _view_columns(entries: Sequence[TableEntry]) -> dict[str, list[tuple[str, str]]]:
    """Columns of each convenience view whose tables are registered, from DuckDB itself."""
    registered = {e.name: e.spec for e in entries if e.spec is not None and not e.spec.restricted}
    con = duckdb.connect(":memory:")
    out: dict[str, list[tuple[str, str]]] = {}
    try:
        for name, spec in registered.items():
            assert spec is not None
            sql = table_view_sql(spec, [])
            con.execute(f'CREATE VIEW "{name}" AS {sql}')
        for view in CONVENIENCE_VIEWS:
            if all(t in registered for t in view.requires):
                con.execute(f'CREATE VIEW "{view.name}" AS {view.sql}')
                rows = con.execute(f'DESCRIBE "{view.name}"').fetchall()
                out[view.name] = [(str(r[0]), str(r[1])) for r in rows]
    finally:
        con.close()
    return out


def render_dictionary(entries: Sequence[TableEntry] | None = None) -> str:
    """Render the whole ``docs/tables.md``.

    Parameters
    ----------
    entries
        The tables; default :func:`collect_tables`.
    """
    entries = collect_tables() if entries is None else entries
    lines = [
        "<!-- Generated by `python -m warehouse.dictionary` from schemas/, warehouse/tables.py "
        "and warehouse/sql.py. Do not edit by hand. -->",
        "",
        "# Data dictionary",
        "",
        "Every table of the warehouse: its grain, key, partitioning and each column's type, "
        "unit, allowed values and meaning. Timestamps are UTC; local dates use the client's "
        "roster time zone; `client_id` is a keyed pseudonym, never the clinic's code.",
        "",
        f"SQL: `{DATABASE_NAME}` in the warehouse folder holds one view per analyst table and "
        "the convenience views below (views only, no data; restricted tables have none). "
        'Query it with `mindmiles query --warehouse DIR "SQL"`, or open it in DuckDB '
        "(its views use absolute paths: after moving the warehouse, run the pipeline once).",
        "",
        "| table | model | grain |",
        "|---|---|---|",
    ]
    for entry in entries:
        lines.append(
            f"| [`{entry.name}`](#{entry.name}) | `{entry.model.__name__}` "
            f"| {_cell(_first_paragraph(entry.model.__doc__))} |"
        )
    lines.append("")
    for entry in entries:
        lines += _render_table(entry)
    lines += ["# Convenience views", ""]
    columns = _view_columns(entries)
    for view in CONVENIENCE_VIEWS:
        lines += [f"## `{view.name}`", "", view.description, ""]
        lines.append(f"- Reads: {_codes(view.requires)}")
        if view.name in columns:
            lines.append("- Columns: " + ", ".join(f"`{n}` ({t})" for n, t in columns[view.name]))
        else:
            lines.append("- Created once the tables it reads are registered and written.")
        lines += ["", "```sql", view.sql.strip(), "```", ""]
    lines += ["# Example questions", "", render_examples()]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_examples() -> str:
    """Render the example questions of :data:`warehouse.sql.EXAMPLE_QUERIES` as Markdown.

    The same text is pasted into the README between ``<!-- example-queries:start -->`` and
    ``<!-- example-queries:end -->``; a test checks that it matches.
    """
    lines: list[str] = []
    for number, example in enumerate(EXAMPLE_QUERIES, start=1):
        lines += [f"{number}. {example.question}", "", "   ```sql"]
        lines += [f"   {line}".rstrip() for line in example.sql.strip().splitlines()]
        lines += ["   ```", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the dictionary to ``docs/tables.md`` (or to the path given); return 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    target = Path(args[0]) if args else DICTIONARY_PATH
    target.write_text(render_dictionary(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
