"""``docs/tables.md``: generated from the pandera models, and failing here when out of date."""

from __future__ import annotations

import difflib

from warehouse.dictionary import (
    DICTIONARY_PATH,
    collect_tables,
    column_unit,
    render_dictionary,
    render_examples,
)
from warehouse.tables import TABLES


def test_docs_tables_md_is_up_to_date() -> None:
    expected = render_dictionary()
    actual = DICTIONARY_PATH.read_text(encoding="utf-8") if DICTIONARY_PATH.exists() else ""
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    actual.splitlines(True),
                    expected.splitlines(True),
                    "docs/tables.md",
                    "generated",
                )
            )[:40]
        )
        raise AssertionError(
            "docs/tables.md is out of date: run `.venv/bin/python -m warehouse.dictionary`\n" + diff
        )


def test_every_model_and_column_is_documented() -> None:
    text = render_dictionary()
    entries = collect_tables()
    assert {e.name for e in entries} >= set(TABLES)
    for entry in entries:
        assert f"## `{entry.name}`" in text
        for name, column in entry.model.to_schema().columns.items():
            assert column.description, f"{entry.name}.{name} has no description"
            assert f"| `{name}` |" in text


def test_rows_read_as_written_by_hand() -> None:
    text = render_dictionary()
    assert "| `speed_mps` | Float64 | yes | m/s | >= 0; <= 60 | Speed, metres per second. |" in text
    assert "| `source_sha256` | String | no | hex digest | length 64 |" in text
    assert "| `kind` | String | no |  | one of `pre_run`, `post_run`, `daily` |" in text
    assert "| `year` | Int32 | no |  |  | Hive partition column" in text
    assert "- Hive partitions: `client_id`, `year`" in text
    assert "restricted: under `<warehouse>/restricted/`, no SQL view" in text
    assert "`monday`: week_start is a Monday; `one_row_per_week`: At most one row" in text


def test_units_from_metadata_names_and_suffixes() -> None:
    assert column_unit("hr_mean_bpm") == "bpm"
    assert column_unit("ef_first_half_mpm_per_bpm") == "(m/min)/bpm"
    assert column_unit("hrv_rmssd_ms") == "ms"
    assert column_unit("moving_time_s") == "s"
    assert column_unit("mood_week_mean_frac") == "fraction (0-1)"
    assert column_unit("atl") == "TRIMP/day"
    assert column_unit("sport") == ""
    assert column_unit("load", {"unit": "AU"}) == "AU"


def test_a_model_not_registered_is_still_documented() -> None:
    registry = {name: spec for name, spec in TABLES.items() if name != "roster"}
    entries = {e.name: e for e in collect_tables(registry)}
    assert entries["roster"].spec is None
    text = render_dictionary(list(entries.values()))
    assert "(not registered in `warehouse.tables.TABLES`)" in text


def test_readme_shows_the_five_example_queries() -> None:
    readme = (DICTIONARY_PATH.parents[1] / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- example-queries:start -->", "<!-- example-queries:end -->"
    missing = "README.md has no example-queries section: paste render_examples() between markers"
    assert start in readme, missing
    assert end in readme, missing
    block = readme.split(start, 1)[1].split(end, 1)[0]
    assert block.strip() == render_examples().strip(), "README example queries are out of date"
