"""Whether a frame already meets its pandera model, asked in one Polars query.

pandera's Polars backend runs each check, each nullability and each uniqueness test as a query of
its own and collects it (``0.5-1 ms`` each, however few the rows): validating the 31 columns of a
batch of activities costs ``50-90 ms`` whatever its size, several seconds over a backfill.
:func:`meets` asks the same questions of a frame in one query, with the model's own check functions
(pandera's built-in checks and the model's ``@dataframe_check`` methods, applied and reduced as
pandera applies and reduces them) and the tests pandera makes itself: the exact column names, the
exact types (so that coercing would change nothing), no nulls where the model allows none (nor NaN
in a float column, which pandera counts as null), no repeated value in a unique column or
set of columns.

A frame that meets its model is what pandera would return for it, unchanged; any other frame goes
through pandera, which finds and reports the failures (:func:`schemas.base.validate_frame`). A
model using a feature the screen does not ask about (defaults, regex or optional columns, parsers,
element-wise checks) is never screened: pandera validates it every time.
The tests hold the screen to pandera's verdict on every model, one broken rule at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

__all__ = ["meets", "screen_of", "screened"]

_OUTPUT = "check_output"


@dataclass(frozen=True)
class Screen:
    """What a frame must be to meet a model without pandera's help."""

    schema: dict[str, pl.DataType]
    """Column names in order, each with its exact Polars type."""
    not_null: tuple[str, ...]
    not_nan: tuple[str, ...]
    unique: tuple[str, ...]
    unique_rows: tuple[tuple[str, ...], ...]
    """Column sets whose values, taken together, never repeat (the model's ``Config.unique``)."""
    checks: tuple[tuple[str, Callable[[PolarsData], Any], bool], ...]
    """(column, or ``*`` for the whole frame; the check's function with its arguments; whether a
    null outcome passes) of every check of the model."""

    def questions(self, frame: pl.DataFrame) -> pl.LazyFrame:
        """One row of booleans, one per rule, every one ``True`` when ``frame`` meets the model."""
        lazy = frame.lazy()
        answers: list[pl.LazyFrame] = []
        rules: list[pl.Expr] = [pl.col(c).is_not_null().all() for c in self.not_null]
        rules += [pl.col(c).is_not_nan().all() for c in self.not_nan]
        rules += [pl.col(c).is_duplicated().not_().all() for c in self.unique]
        rules += [pl.struct(s).is_duplicated().not_().all() for s in self.unique_rows]
        if rules:
            answers.append(lazy.select([r.alias(f"rule_{i}") for i, r in enumerate(rules)]))
        for i, (key, check_fn, ignore_na) in enumerate(self.checks):
            answers.append(
                _answer(out=check_fn(PolarsData(lazy, key)), ignore_na=ignore_na, name=f"check_{i}")
            )
        return pl.concat(answers, how="horizontal") if answers else pl.LazyFrame({"none": [True]})


def _answer(*, out: pl.LazyFrame | bool, ignore_na: bool, name: str) -> pl.LazyFrame:
    """A check's one-row verdict, reduced as pandera's Polars check backend reduces its output.

    Several output columns are and-ed (Kleene logic, as pandera's fold); with ``ignore_na`` a null
    outcome passes, otherwise it fails; every row must pass.
    """
    if isinstance(out, bool):
        return pl.LazyFrame({name: [out]})
    verdict = pl.all_horizontal(pl.all()).fill_null(ignore_na)
    return out.select(verdict.all().alias(name))


def _check_function(check: Any) -> Callable[[PolarsData], Any]:
    """The function pandera runs for ``check``, its arguments bound.

    A built-in check's function is looked up again for Polars data, as ``Check.__call__`` does.
    """
    function = check._check_fn
    name = getattr(function, "__name__", None)
    if name is not None and check.is_builtin_check(name):
        function = check.get_builtin_check_fn(name)
    return functools.partial(function, **check._check_kwargs)


def _polars_type(column: Any) -> pl.DataType:
    dtype = column.dtype.type
    return dtype() if isinstance(dtype, type) else dtype  # type: ignore[no-any-return]


def _screenable(schema: Any) -> bool:
    """Whether every rule of ``schema`` is one the screen asks about."""
    if (
        schema.add_missing_columns
        or schema.drop_invalid_rows
        or getattr(schema, "parsers", None)
        or not schema.strict
    ):
        return False
    checks = list(schema.checks)
    for column in schema.columns.values():
        if column.regex or not column.required or column.default is not None:
            return False
        if getattr(column, "parsers", None):
            return False
        if getattr(column, "drop_invalid_rows", False):
            return False
        checks += column.checks
    return not any(
        check.element_wise or getattr(check, "groupby", None) is not None for check in checks
    )


def _unique_rows(unique: Any) -> tuple[tuple[str, ...], ...]:
    """``Config.unique`` (``None``, one list of columns, or a list of lists) as column sets."""
    if not unique:
        return ()
    if all(isinstance(name, str) for name in unique):
        return (tuple(unique),)
    return tuple(tuple(names) for names in unique)


@functools.cache
def screen_of(model: type[pa.DataFrameModel]) -> Screen | None:
    """The screen of ``model``; ``None`` when pandera must validate it every time."""
    schema = model.to_schema()
    schema.register_default_backends(pl.LazyFrame)  # pandera's built-in checks, as validate() does
    if not _screenable(schema):
        return None
    columns = schema.columns
    types = {name: _polars_type(column) for name, column in columns.items()}
    return Screen(
        schema=types,
        not_null=tuple(n for n, c in columns.items() if not c.nullable),
        not_nan=tuple(n for n, c in columns.items() if not c.nullable and types[n].is_float()),
        unique=tuple(n for n, c in columns.items() if c.unique),
        unique_rows=_unique_rows(schema.unique),
        checks=tuple(
            (key, _check_function(check), bool(check.ignore_na))
            for key, checks in [*((n, c.checks) for n, c in columns.items()), ("*", schema.checks)]
            for check in checks
        ),
    )


def meets(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> bool:
    """Whether pandera would accept ``frame`` for ``model`` and return it unchanged.

    ``False`` means "ask pandera", not "invalid": a frame whose types pandera would coerce, or a
    model the screen does not cover, is answered ``False``.

    Examples
    --------
    >>> class Load(pa.DataFrameModel):
    ...     load: float = pa.Field(ge=0)
    ...
    ...     class Config:
    ...         strict = True
    ...         coerce = True
    >>> meets(Load, pl.DataFrame({"load": [1.0, 2.5]}))
    True
    >>> meets(Load, pl.DataFrame({"load": [1.0, -2.5]}))
    False
    >>> meets(Load, pl.DataFrame({"load": [1, 2]}))  # pandera would coerce to Float64
    False
    """
    return screened(model, frame) is not None


def screened(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> pl.DataFrame | None:
    """``frame`` as pandera would return it when it meets ``model``, else ``None`` (ask pandera).

    The one coercion done here is pandera's own for a column with no values at all (Polars type
    ``Null``, what a concatenation of all-missing columns gives): cast to the model's type, as
    pandera casts it, it holds the same nulls.
    """
    screen = screen_of(model)
    if screen is None or frame.schema.keys() != screen.schema.keys():
        return None
    empty = [
        pl.col(name).cast(screen.schema[name])
        for name, dtype in frame.schema.items()
        if dtype == pl.Null and screen.schema[name] != pl.Null
    ]
    if empty:
        frame = frame.with_columns(empty)
    if dict(frame.schema) != screen.schema:
        return None
    answers = screen.questions(frame).collect()
    return frame if all(answers.row(0)) else None
