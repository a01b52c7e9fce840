"""Polars columns and frames built straight from numpy arrays, for the readers' small frames.

``pl.Series(name, values, nan_to_null=True)`` spends about 4 µs inspecting its arguments before it
calls the one Polars constructor that does the work, and ``pl.DataFrame(series)`` about 9 µs; a
small FIT file builds a dozen of each, which is most of its decoding time. These helpers call that
constructor directly (``polars._plr``, the compiled part of the pinned Polars), and fall back to the
public constructors for anything else or when a Polars release moves it.
``tests/test_columnar.py`` checks that both give equal frames and that the direct path is in use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

__all__ = [
    "DIRECT",
    "float_frame",
    "float_series",
    "list_frame",
    "optional_float_series",
    "optional_int_series",
    "rearranged",
]

try:
    from polars._plr import PyDataFrame, PySeries

    DIRECT = all(
        hasattr(PySeries, f"new_{kind}")
        for kind in ("f64", "opt_f64", "opt_i8", "opt_i16", "opt_i32", "opt_i64")
    )
except ImportError:  # pragma: no cover - a Polars release that moved its compiled constructors
    DIRECT = False
"""Whether the direct constructors are available (else every helper uses the public ones)."""


def float_series(name: str, values: npt.NDArray[np.float64]) -> pl.Series:
    """A Float64 column of ``values`` with NaN as null: ``pl.Series(name, values, nan_to_null=True)``.

    Like that constructor, the column may share ``values``' memory: do not change them afterwards.
    """
    if not DIRECT or values.dtype != np.float64 or not values.flags.c_contiguous:
        return pl.Series(name, values, nan_to_null=True)
    return pl.Series._from_pyseries(PySeries.new_f64(name, values, nan_is_null=True))


def optional_float_series(name: str, values: Sequence[float | None]) -> pl.Series:
    """A Float64 column of Python floats and ``None``: ``pl.Series(name, values, pl.Float64)``."""
    if not DIRECT:
        return pl.Series(name, values, dtype=pl.Float64)
    return pl.Series._from_pyseries(PySeries.new_opt_f64(name, values, strict=True))


def optional_int_series(
    name: str, values: Sequence[int | None], dtype: pl.DataType | type[pl.DataType]
) -> pl.Series:
    """A column of ``dtype`` from Python ints and ``None``: ``pl.Series(name, values, dtype)``.

    An integer ``dtype`` is built directly; any other is read as Int64 and cast (e.g.
    microseconds since 1970 to a ``pl.Datetime("us", "UTC")`` column).
    """
    direct = _INT_CONSTRUCTORS.get(dtype) if DIRECT else None
    if direct is not None:
        return pl.Series._from_pyseries(direct(name, values, strict=True))
    if DIRECT:
        built = pl.Series._from_pyseries(PySeries.new_opt_i64(name, values, strict=True))
    else:
        built = pl.Series(name, values, dtype=pl.Int64)
    return built.cast(dtype)


_INT_CONSTRUCTORS: dict[Any, Any] = (
    {
        pl.Int8: PySeries.new_opt_i8,
        pl.Int16: PySeries.new_opt_i16,
        pl.Int32: PySeries.new_opt_i32,
        pl.Int64: PySeries.new_opt_i64,
    }
    if DIRECT
    else {}
)
"""Polars' constructor of each signed integer type from Python ints and ``None``."""


def float_frame(
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
    columns: Sequence[npt.NDArray[np.float64] | None],
    height: int,
) -> pl.DataFrame:
    """A frame of ``schema`` from float64 columns (NaN as null; ``None``: a column of nulls).

    Each column is read as Float64 and cast to its type in ``schema`` (without ``strict``, as
    ``pl.Series(name, values, nan_to_null=True).cast(dtype, strict=False)`` does); the columns
    may share the arrays' memory, so do not change them afterwards.
    """
    if len(columns) != len(schema):
        raise ValueError(f"{len(columns)} columns for a schema of {len(schema)}")
    if not DIRECT:
        return pl.DataFrame(
            [
                pl.Series(
                    name, np.full(height, np.nan) if values is None else values, nan_to_null=True
                ).cast(dtype, strict=False)
                for (name, dtype), values in zip(schema.items(), columns, strict=True)
            ]
        )
    native: list[Any] = []
    nulls: Any = None  # the first column of nulls, copied (cheaply) for the others
    for (name, dtype), values in zip(schema.items(), columns, strict=True):
        if values is None:
            if nulls is None:
                empty = np.empty(height)
                empty.fill(np.nan)
                built = nulls = PySeries.new_f64(name, empty, nan_is_null=True)
            else:
                built = nulls.clone()
                built.rename(name)
        else:
            if values.dtype is not _FLOAT64 or not values.flags.c_contiguous:
                values = np.ascontiguousarray(values, dtype=np.float64)
            built = PySeries.new_f64(name, values, nan_is_null=True)
        # the class or an instance (a Polars dtype's == costs a Python call)
        as_read = dtype is pl.Float64 or isinstance(dtype, pl.Float64)
        native.append(built if as_read else built.cast(dtype, strict=False, wrap_numerical=False))
    return pl.DataFrame._from_pydf(PyDataFrame(native))


_FLOAT64 = np.dtype(np.float64)


def rearranged(frame: pl.DataFrame, order: Sequence[int | pl.Series]) -> pl.DataFrame:
    """A frame of ``frame``'s columns at the positions in ``order``, and the columns given there.

    ``pl.DataFrame([frame.to_series(i) if isinstance(i, int) else i for i in order])``, without
    wrapping each column.
    """
    if not DIRECT:
        return pl.DataFrame([frame.to_series(i) if isinstance(i, int) else i for i in order])
    existing = frame._df.get_columns()
    native: list[Any] = [existing[i] if isinstance(i, int) else i._s for i in order]
    return pl.DataFrame._from_pydf(PyDataFrame(native))


def list_frame(
    schema: Mapping[str, pl.DataType | type[pl.DataType]], columns: Sequence[Sequence[Any]]
) -> pl.DataFrame:
    """A frame of ``schema`` from Python lists, a column each.

    A Float64 column from floats and ``None`` (:func:`optional_float_series`); any other from
    ints and ``None`` (:func:`optional_int_series`).
    """
    if len(columns) != len(schema):
        raise ValueError(f"{len(columns)} columns for a schema of {len(schema)}")
    if not DIRECT:
        return pl.DataFrame(
            [
                optional_float_series(name, values)
                if dtype is pl.Float64 or isinstance(dtype, pl.Float64)
                else optional_int_series(name, values, dtype)
                for (name, dtype), values in zip(schema.items(), columns, strict=True)
            ]
        )
    native: list[Any] = []
    for (name, dtype), values in zip(schema.items(), columns, strict=True):
        if dtype is pl.Float64 or isinstance(dtype, pl.Float64):
            native.append(PySeries.new_opt_f64(name, values, strict=True))
            continue
        direct = _INT_CONSTRUCTORS.get(dtype)
        if direct is not None:
            native.append(direct(name, values, strict=True))
        else:
            built = PySeries.new_opt_i64(name, values, strict=True)
            native.append(built.cast(dtype, strict=True, wrap_numerical=False))
    return pl.DataFrame._from_pydf(PyDataFrame(native))
