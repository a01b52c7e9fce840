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

log = logging.getLogger(__name__)

UTC_US = pl.Datetime("us", "UTC")

SAMPLE_COLUMNS: dict[str, pl.DataType] = {
    "timestamp": UTC_US,
    "elapsed_s": pl.Float64(),
    "distance_m": pl.Float64(),
    "speed_mps": pl.Float64(),
    "hr_bpm": pl.Int16(),
    "cadence_rpm": pl.Float64(),
    "altitude_m": pl.Float64(),
    "power_w": pl.Float64(),
    "lat_deg": pl.Float64(),
    "lon_deg": pl.Float64(),
    "temperature_c": pl.Float64(),
}
"""Columns of a reader's samples frame, in order."""

LAP_COLUMNS: dict[str, pl.DataType] = {
    "lap_index": pl.Int32(),
    "start_utc": UTC_US,
    "elapsed_s": pl.Float64(),
    "timer_s": pl.Float64(),
    "distance_m": pl.Float64(),
    "hr_mean_bpm": pl.Float64(),
    "hr_max_bpm": pl.Float64(),
    "cadence_mean_rpm": pl.Float64(),
    "speed_mean_mps": pl.Float64(),
    "ascent_m": pl.Float64(),
}
"""Columns of a reader's laps frame, in order."""

RR_COLUMNS: dict[str, pl.DataType] = {"rr_index": pl.Int64(), "rr_s": pl.Float64()}
"""Columns of a reader's RR-interval frame, in order."""


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
