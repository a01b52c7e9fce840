"""ingest.columnar: the direct Polars constructors give what the public ones give; and the FIT
frames built cheaply with them (laps, a session's rows) equal what the public Polars calls build."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ingest import columnar, fit_common
from ingest.frames import LAP_COLUMNS


def test_direct_constructors_are_in_use_with_the_pinned_polars() -> None:
    assert columnar.DIRECT, "polars._plr moved: the small frames fall back to the slow constructors"


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.5, np.nan, -3.0, 0.0]),
        np.array([np.nan, np.nan]),
        np.empty(0),
        np.arange(12.0)[::3],  # not contiguous: the public constructor
        np.arange(4, dtype=np.float32),  # not float64: the public constructor
    ],
)
def test_float_series_equals_the_public_constructor(values: np.ndarray) -> None:
    built = columnar.float_series("x", values)
    assert built.equals(pl.Series("x", values, nan_to_null=True), check_names=True)
    assert built.dtype == pl.Series("x", values, nan_to_null=True).dtype


def test_optional_float_series_equals_the_public_constructor() -> None:
    values = [1.0, None, 2.5, 3]
    built = columnar.optional_float_series("y", values)
    assert built.equals(pl.Series("y", values, dtype=pl.Float64), check_names=True)
    assert built.dtype == pl.Float64


def test_optional_int_series_casts_as_the_public_constructor() -> None:
    values = [0, None, 1_700_000_000_000_000]
    utc = pl.Datetime("us", "UTC")
    built = columnar.optional_int_series("t", values, utc)
    assert built.equals(pl.Series("t", values, dtype=pl.Int64).cast(utc), check_names=True)
    assert built.dtype == utc
    assert columnar.optional_int_series("i", range(3), pl.Int32).to_list() == [0, 1, 2]


def test_laps_frame_equals_the_public_row_constructor() -> None:
    """Hand-written laps: values, a missing key, a lap without start, one with every value null."""
    start = datetime(2024, 5, 1, 6, 30, 15, tzinfo=UTC)
    laps: list[dict[str, Any]] = [
        {"elapsed_s": 300.5, "timer_s": 290.0, "distance_m": 1000.0, "start_utc": start},
        {"elapsed_s": None, "hr_mean_bpm": 151.0, "start_utc": None},
        dict.fromkeys(LAP_COLUMNS),
    ]
    expected = pl.from_dicts(
        [{**lap, "lap_index": i} for i, lap in enumerate(laps)], schema=LAP_COLUMNS, strict=False
    )
    assert_frame_equal(fit_common._laps_frame(laps), expected)
    assert fit_common._laps_frame([]).schema == pl.Schema(LAP_COLUMNS)


@pytest.mark.parametrize(
    "mask",
    [
        [True, True, True, True, True],
        [False, True, True, True, False],  # a run: a slice
        [True, False, True, False, True],  # not a run: a filter
        [False] * 5,
        [True, False, False, False, False],
    ],
)
def test_rows_of_a_mask_equal_polars_filter(mask: list[bool]) -> None:
    frame = pl.DataFrame({"a": [1.0, 2.0, None, 4.0, 5.0], "b": ["v", "w", "x", "y", "z"]})
    kept = fit_common._rows(frame, np.asarray(mask))
    assert_frame_equal(kept, frame.filter(pl.Series(mask)))


def test_float_frame_equals_the_public_constructors() -> None:
    """Types given as classes and as instances, a column of nulls, arrays the direct path copies."""
    schema: dict[str, Any] = {
        "t": pl.Datetime("us", "UTC"),
        "a": pl.Float64,
        "b": pl.Float64(),
        "hr": pl.Int16,
        "none": pl.Float64,
        "gap": pl.Int32(),
        "big": pl.Int16,  # out of range: null, never the type's limit
        "byte": pl.UInt8,
    }
    stamps = np.array([1.7e15, np.nan, 1.7e15 + 1_000_001.0])
    columns = [
        stamps,
        np.array([1.5, np.nan, -2.0]),
        np.arange(9.0)[::3],  # not contiguous
        np.array([150.0, np.nan, 61.0], dtype=np.float32),  # not float64
        None,
        None,
        np.array([40000.0, -40000.0, 5.0]),
        np.array([-1.0, 256.0, 7.0]),
    ]
    expected = pl.DataFrame(
        [
            pl.Series(name, np.full(3, np.nan) if values is None else values, nan_to_null=True)
            .cast(pl.Float64)
            .cast(dtype, strict=False)
            for (name, dtype), values in zip(schema.items(), columns, strict=True)
        ]
    )
    built = columnar.float_frame(schema, columns, 3)
    assert_frame_equal(built, expected)
    assert built["t"].to_list()[2] == datetime(2023, 11, 14, 22, 13, 21, 1, tzinfo=UTC)
    assert built["hr"].to_list() == [150, None, 61]
    assert built["big"].to_list() == [None, None, 5]
    assert built["byte"].to_list() == [None, None, 7]
    with pytest.raises(ValueError, match="2 columns for a schema of 8"):
        columnar.float_frame(schema, columns[:2], 3)


def test_rearranged_equals_a_frame_of_the_chosen_columns() -> None:
    frame = pl.DataFrame({"a": [1.0, 2.0], "b": [3, None], "c": ["x", "y"]})
    new = pl.Series("n", [0.5, None])
    built = columnar.rearranged(frame, [2, new, 0])
    assert_frame_equal(built, pl.DataFrame([frame["c"], new, frame["a"]]))
    with pytest.raises(pl.exceptions.DuplicateError):
        columnar.rearranged(frame, [0, 0])


def test_list_frame_equals_the_public_constructors() -> None:
    schema: dict[str, Any] = {
        "i": pl.Int32,
        "t": pl.Datetime("us", "UTC"),
        "x": pl.Float64,
        "y": pl.Float64(),
        "u": pl.UInt8,  # no direct constructor: read as Int64, cast
    }
    columns: list[Any] = [
        range(3),
        [0, None, 1_700_000_000_000_001],
        [1.5, None, 2],
        [None] * 3,
        [1, 2, None],
    ]
    expected = pl.DataFrame(
        [
            pl.Series(name, list(values), dtype=pl.Int64).cast(dtype)
            if not (dtype is pl.Float64 or isinstance(dtype, pl.Float64))
            else pl.Series(name, values, dtype=pl.Float64)
            for (name, dtype), values in zip(schema.items(), columns, strict=True)
        ]
    )
    assert_frame_equal(columnar.list_frame(schema, columns), expected)
    with pytest.raises(ValueError, match="1 columns for a schema of 5"):
        columnar.list_frame(schema, columns[:1])
    with pytest.raises(TypeError):  # strict, as the public constructor
        columnar.list_frame({"x": pl.Float64}, [["a"]])
