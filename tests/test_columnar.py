"""ingest.columnar: the direct Polars constructors give what the public ones give."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from ingest import columnar


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


def test_frame_of_checks_what_the_public_constructor_checks() -> None:
    a = pl.Series("a", [1.0, 2.0])
    b = pl.Series("b", [1, None], dtype=pl.Int16)
    assert columnar.frame_of([a, b]).equals(pl.DataFrame([a, b]))
    with pytest.raises(pl.exceptions.ShapeError):
        columnar.frame_of([a, pl.Series("c", [1.0])])
    with pytest.raises(pl.exceptions.DuplicateError):
        columnar.frame_of([a, a])
