"""Shared pieces of the pandera models: the UTC timestamp field and validation with evidence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime
from pandera.errors import SchemaError, SchemaErrors

from schemas.errors import SchemaViolation, TableInvalid
from schemas.screening import screened

__all__ = [
    "UTC",
    "DateTime",
    "column_names",
    "polars_schema",
    "utc_field",
    "validate_frame",
    "validate_table",
]

UTC = {"time_unit": "us", "time_zone": "UTC"}
"""``dtype_kwargs`` of every timestamp column: microseconds, UTC."""

MAX_EVIDENCE_ROWS = 20


PLAUSIBLE_SINCE = dt.datetime(1989, 12, 31, tzinfo=dt.UTC)
"""The FIT epoch: no watch recorded anything earlier."""
PLAUSIBLE_BEFORE = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
"""No recording is dated this far ahead (a file dated 9999 is damaged or forged)."""
MIN_TIME_AXIS_S = 1.0
"""Times of two or more points all within this span (s) are one instant stamped on every point (a
logger's placeholder), not a time axis: such a track is not a recorded workout."""


def utc_field(description: str, *, nullable: bool = False, plausible: bool = False) -> Any:
    """A ``Datetime("us", "UTC")`` column with a description.

    With ``plausible=True`` the values must lie in [:data:`PLAUSIBLE_SINCE`,
    :data:`PLAUSIBLE_BEFORE`): recorded times, as opposed to e.g. planned dates.
    """
    bounds: dict[str, Any] = {"ge": PLAUSIBLE_SINCE, "lt": PLAUSIBLE_BEFORE} if plausible else {}
    return pa.Field(nullable=nullable, dtype_kwargs=UTC, description=description, **bounds)


def validate_frame(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> pl.DataFrame:
    """Validate an eager frame against ``model``; translate failures into :class:`SchemaViolation`.

    The failure cases (column, check, offending value) are kept as evidence for the quarantine note,
    at most :data:`MAX_EVIDENCE_ROWS` of them.
    """
    if (checked := screened(model, frame)) is not None:
        return checked
    try:
        return model.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases.head(MAX_EVIDENCE_ROWS)
        evidence: list[Mapping[str, Any]] = [
            {"column": row["column"], "check": row["check"], "value": str(row["failure_case"])}
            for row in cases.iter_rows(named=True)
        ]
        raise SchemaViolation(
            "schema_failed",
            "Some values in this file are physically impossible (for example a heart rate of "
            "300 or a position outside the globe), so it was not taken in.",
            detail=f"{model.__name__}: {exc.failure_cases.height} failing value(s)",
            evidence=evidence,
        ) from exc
    except SchemaError as exc:
        raise SchemaViolation(
            "schema_failed",
            "This file's data does not have the expected shape, so it was not taken in.",
            detail=f"{model.__name__}: {exc}",
        ) from exc


def validate_table(
    model: type[pa.DataFrameModel], frame: pl.DataFrame, *, table: str
) -> pl.DataFrame:
    """Validate rows the run is about to write to ``table``; a failure is :class:`TableInvalid`.

    Unlike :func:`validate_frame` (a file's frames, whose failure quarantines the file), the
    failure names the table, the clients of the failing rows and the columns, never a file.

    Examples
    --------
    >>> class Load(pa.DataFrameModel):
    ...     client_id: str
    ...     load: float = pa.Field(ge=0)
    >>> frame = pl.DataFrame({"client_id": ["c1", "c2"], "load": [1.0, -2e-15]})
    >>> try:
    ...     validate_table(Load, frame, table="daily_load")
    ... except TableInvalid as exc:
    ...     print(exc.table, exc.clients, exc.columns)
    daily_load ['c2'] ['load']
    """
    if (checked := screened(model, frame)) is not None:
        return checked
    try:
        return model.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        rows = [i for i in cases["index"].to_list() if i is not None]
        clients: list[str] = []
        if rows and "client_id" in frame.columns:
            picked = frame["client_id"].gather([i for i in rows if 0 <= i < frame.height])
            clients = sorted({str(c) for c in picked.to_list() if c is not None})
        columns = sorted({str(c) for c in cases["column"].to_list() if c is not None})
        checks = sorted({str(c) for c in cases["check"].to_list() if c is not None})[:5]
        raise TableInvalid(table, clients=clients, columns=columns, checks=checks) from exc
    except SchemaError as exc:
        raise TableInvalid(
            table, clients=[], columns=[str(exc.schema.name or "")], checks=[str(exc)[:200]]
        ) from exc


def polars_schema(
    model: type[pa.DataFrameModel], *, without: tuple[str, ...] = ()
) -> dict[str, pl.DataType]:
    """The Polars type of each column of ``model``, in order: column lists come from here.

    Examples
    --------
    >>> from schemas.hrv import Hrv
    >>> polars_schema(Hrv, without=("activity_id", "client_id"))
    {'rr_index': Int64, 'rr_s': Float64}
    """
    columns = model.to_schema().columns
    return {name: column.dtype.type for name, column in columns.items() if name not in without}


def column_names(model: type[pa.DataFrameModel]) -> tuple[str, ...]:
    """The columns of ``model``, in order."""
    return tuple(model.to_schema().columns)
