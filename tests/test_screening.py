"""The one-query screen (schemas.screening) against pandera's own verdict, which is the oracle.

Every table of the demo clinic's warehouse is a frame pandera accepts; each test breaks it, one rule
at a time or at random, and asks both. The screen may say "ask pandera" where pandera accepts (a
type pandera would coerce), never "meets" where pandera refuses, and what it passes is what pandera
would return.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
import pytest
from pandera.errors import SchemaError, SchemaErrors
from polars.testing import assert_frame_equal

from ingest.parse import FRAME_MODELS
from schemas.screening import screen_of, screened
from warehouse.store import TableStore
from warehouse.tables import TABLES

MODELS = {spec.name: spec.model for spec in TABLES.values()}


def _pandera_accepts(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> pl.DataFrame | None:
    try:
        return model.validate(frame, lazy=True)
    except (SchemaError, SchemaErrors, pl.exceptions.PolarsError):  # a missing column: Polars'
        return None


def _hand_written_wellness() -> pl.DataFrame:
    """Three daily resting heart rates of two clients (the demo clinic has no wellness files)."""
    utc = dt.UTC
    return pl.DataFrame(
        {
            "client_id": ["a" * 64, "a" * 64, "b" * 64],
            "date": [dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 2)],
            "resting_hr_bpm": [52, 49, 61],
            "source": ["garmin_monitoring"] * 3,
            "measured_utc": [
                dt.datetime(2026, 3, 2, 23, 59, tzinfo=utc),
                dt.datetime(2026, 3, 3, 23, 59, tzinfo=utc),
                dt.datetime(2026, 3, 2, 22, 0, tzinfo=utc),
            ],
            "source_sha256": ["c" * 64, "d" * 64, "e" * 64],
        }
    )


HAND_WRITTEN = {"daily_wellness": _hand_written_wellness}
"""Rows for the tables the demo clinic leaves empty, so that every model is screened on data."""


@pytest.fixture(scope="module")
def tables(demo_clinic: tuple[Path, Path]) -> dict[str, pl.DataFrame]:
    """Each table of the demo warehouse, with the model's columns only (partition columns off)."""
    store = TableStore(demo_clinic[1])
    frames = {}
    for name, model in MODELS.items():
        columns = list(screen_of(model).schema) if screen_of(model) else []
        frame = store.read(name).select(columns)
        if frame.is_empty() and name in HAND_WRITTEN:
            frame = HAND_WRITTEN[name]().cast(frame.schema)  # type: ignore[arg-type]
        frames[name] = frame
    return frames


def _at_row(frame: pl.DataFrame, column: str, value: Any, row: int = 0) -> pl.DataFrame:
    """``frame`` with one cell replaced (the column keeps its type where the value allows)."""
    dtype = frame.schema[column]
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == row)
        .then(pl.lit(value, dtype=dtype))
        .otherwise(pl.col(column))
        .alias(column)
    )


def _breaking_values(check: Any) -> list[Any]:
    """Values that break a built-in check, from its statistics (independent of the screen)."""
    stats, name = check.statistics, check.name
    step: Any = dt.timedelta(days=1)

    def below(v: Any) -> Any:
        return v - (step if isinstance(v, dt.datetime | dt.date) else 1)

    def above(v: Any) -> Any:
        return v + (step if isinstance(v, dt.datetime | dt.date) else 1)

    match name:
        case "greater_than_or_equal_to":
            return [below(stats["min_value"])]
        case "greater_than":
            return [stats["min_value"]]
        case "less_than_or_equal_to":
            return [above(stats["max_value"])]
        case "less_than":
            return [stats["max_value"]]
        case "in_range":
            return [below(stats["min_value"]), above(stats["max_value"])]
        case "isin":
            return ["zz-not-allowed"]
        case "str_length":
            values = []
            if stats.get("max_value") is not None:
                values.append("x" * (stats["max_value"] + 1))
            if stats.get("min_value"):
                values.append("x" * (stats["min_value"] - 1))
            return values
        case "str_matches" | "str_startswith":
            return ["!! does not match"]
    raise AssertionError(f"no breaking value known for check {name}")


def test_every_table_and_file_model_is_screened() -> None:
    # A model the screen cannot cover would silently lose the speed-up: say so here instead.
    for model in [*MODELS.values(), *FRAME_MODELS.values()]:
        assert screen_of(model) is not None, model.__name__


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_valid_table_meets_its_model_unchanged(
    name: str, tables: dict[str, pl.DataFrame]
) -> None:
    frame = tables[name]
    expected = _pandera_accepts(MODELS[name], frame)
    assert expected is not None, "the demo warehouse holds a table pandera refuses"
    got = screened(MODELS[name], frame)
    assert got is not None
    assert_frame_equal(got, expected)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_each_broken_rule_is_refused_by_both(name: str, tables: dict[str, pl.DataFrame]) -> None:
    model, frame = MODELS[name], tables[name]
    if frame.height < 2:
        frame = pl.concat([frame, frame, frame]) if frame.height else frame
    if frame.height < 2:
        pytest.skip(f"the demo clinic's {name} table is empty")
    schema = model.to_schema()
    broken: list[tuple[str, pl.DataFrame]] = []
    for column_name, column in schema.columns.items():
        for check in column.checks:
            for value in _breaking_values(check):
                try:
                    broken.append(
                        (
                            f"{column_name} {check.name} {value!r}",
                            _at_row(frame, column_name, value),
                        )
                    )
                except (TypeError, pl.exceptions.PolarsError):
                    continue  # the value cannot live in the column's type: nothing to test
        if not column.nullable:
            broken.append((f"{column_name} null", _at_row(frame, column_name, None)))
            if frame.schema[column_name].is_float():
                broken.append((f"{column_name} NaN", _at_row(frame, column_name, math.nan)))
        if column.unique:
            second = frame[column_name][1]
            broken.append((f"{column_name} repeated", _at_row(frame, column_name, second)))
    if schema.unique:
        broken.append(("rows repeated", pl.concat([frame, frame.head(1)])))
    broken.append(("extra column", frame.with_columns(pl.lit(1).alias("extra"))))
    broken.append(("missing column", frame.drop(frame.columns[-1])))
    assert len(broken) >= 3
    for what, bad in broken:
        assert _pandera_accepts(model, bad) is None, f"{name}: pandera accepts {what}"
        assert screened(model, bad) is None, f"{name}: the screen passes {what}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_random_damage_same_verdict_as_pandera(name: str, tables: dict[str, pl.DataFrame]) -> None:
    """Cells replaced at random (nulls, NaN, signs flipped, extremes, another row's value): the
    screen passes a frame only when pandera does, and then returns what pandera returns. This
    reaches the models' dataframe-level checks, which no single-column value breaks on purpose."""
    model, frame = MODELS[name], tables[name]
    if frame.height < 2:
        pytest.skip(f"the demo clinic's {name} table has fewer than two rows")
    rng = random.Random(f"screen-{name}")
    passed = refused = 0
    for _ in range(12):
        bad = frame
        for _ in range(rng.randint(1, 2)):
            column = rng.choice(frame.columns)
            row = rng.randrange(frame.height)
            current = frame[column][row]
            pool: list[Any] = [None, frame[column][rng.randrange(frame.height)]]
            if isinstance(current, int | float) and not isinstance(current, bool):
                pool += [-current, current * 1000 + 1, 0]
                if isinstance(current, float):
                    pool.append(math.nan)
            elif isinstance(current, bool):
                pool.append(not current)
            elif isinstance(current, str):
                pool += ["", current + "?"]
            try:
                bad = _at_row(bad, column, rng.choice(pool), row)
            except (TypeError, pl.exceptions.PolarsError):
                continue
        expected = _pandera_accepts(model, bad)
        got = screened(model, bad)
        if expected is None:
            assert got is None, f"{name}: the screen passes a frame pandera refuses"
            refused += 1
        elif got is not None:
            assert_frame_equal(got, expected)
            passed += 1
    assert passed + refused > 0


def test_a_type_pandera_would_coerce_is_left_to_pandera() -> None:
    class Load(pa.DataFrameModel):
        load: float = pa.Field(ge=0, nullable=True)

        class Config:
            strict = True
            coerce = True

    integers = pl.DataFrame({"load": [1, 2]})
    assert screened(Load, integers) is None
    assert _pandera_accepts(Load, integers) is not None
    # A column with no values at all is cast as pandera casts it.
    empty = pl.DataFrame({"load": [None, None]})
    expected = _pandera_accepts(Load, empty)
    got = screened(Load, empty)
    assert expected is not None
    assert got is not None
    assert_frame_equal(got, expected)
