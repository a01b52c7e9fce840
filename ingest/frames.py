"""Typed results that every format reader returns.

A reader turns the bytes of one file into a :class:`ParsedFile`: one :class:`ParsedActivity` per
session (a multi-sport FIT gives several), each with its 1 Hz samples, laps and RR intervals as Polars
frames in the column layout of :data:`SAMPLE_COLUMNS`, :data:`LAP_COLUMNS` and :data:`RR_COLUMNS`.
Identifiers (``activity_id``, ``client_id``) are added later, by the pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from schemas.base import polars_schema
from schemas.hrv import Hrv
from schemas.laps import Laps
from schemas.samples import Samples

log = logging.getLogger(__name__)

UTC_US = pl.Datetime("us", "UTC")

IDS = ("activity_id", "client_id")
"""Identifier columns the pipeline adds to a reader's frames."""

SAMPLE_COLUMNS: dict[str, pl.DataType] = polars_schema(Samples, without=IDS)
"""Columns of a reader's samples frame, in order (the ``samples`` table less its ids)."""

LAP_COLUMNS: dict[str, pl.DataType] = polars_schema(Laps, without=IDS)
"""Columns of a reader's laps frame, in order (the ``laps`` table less its ids)."""

RR_COLUMNS: dict[str, pl.DataType] = polars_schema(Hrv, without=IDS)
"""Columns of a reader's RR-interval frame, in order (the ``hrv`` table less its ids)."""


def empty_frame(columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """Return an empty frame with the given columns."""
    return pl.DataFrame(schema=columns)


def frame_from_rows(rows: list[dict[str, Any]], columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """Build a frame with exactly ``columns`` from row dicts (missing keys become null)."""
    if not rows:
        return empty_frame(columns)
    data = {name: [row.get(name) for row in rows] for name in columns}
    return pl.DataFrame(data, schema=columns, strict=False)


def read_with_fallback(
    data: bytes,
    *,
    fast: Callable[[bytes], ParsedFile],
    reference: Callable[[bytes], ParsedFile],
    refused: type[Exception],
    fast_name: str,
    reference_name: str,
) -> ParsedFile:
    """Read with a fast reader; when it refuses (``refused``), with the reference reader.

    After a fallback the first warning says why, e.g. ``"fast decoder refused: crc mismatch;
    decoded with fitparse"``, so the ``files`` ledger and the tests can see which path ran.
    """
    try:
        return fast(data)
    except refused as why:
        log.info(
            "%s refused a file (%s); using %s",
            fast_name,
            getattr(why, "reason", ""),
            reference_name,
        )
        parsed = reference(data)
        parsed.warnings.insert(0, f"{fast_name} refused: {why}; decoded with {reference_name}")
        return parsed


@dataclass
class ParsedActivity:
    """One session decoded from a file.

    ``meta`` holds what the device reported about the session (``sport``, ``sub_sport``,
    ``start_utc``, ``total_elapsed_s``, ``total_timer_s``, ``total_distance_m``, ...); summaries
    prefer values computed from the samples and fall back to these.
    """

    meta: dict[str, Any]
    samples: pl.DataFrame
    laps: pl.DataFrame = field(default_factory=lambda: empty_frame(LAP_COLUMNS))
    rr: pl.DataFrame = field(default_factory=lambda: empty_frame(RR_COLUMNS))


@dataclass
class ParsedFile:
    """Everything a reader decoded from one file."""

    source_format: str
    activities: list[ParsedActivity]
    device: str | None = None
    decoder: str = ""
    flags: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
