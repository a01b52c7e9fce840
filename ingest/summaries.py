"""Per-activity summaries computed from samples (pure: frames in, frames out).

Values are computed from the samples so that every format is summarised the same way; where the
samples lack a channel the device's own session totals (``meta``) are used instead.

Rules
-----
* ``start_utc``: the first sample's time; the session's own start where the reader says to use it
  (``meta["start_utc_from_session"]``: FIT swims).
* ``duration_s``: last sample time minus ``start_utc``; device-reported elapsed time when there is none.
* ``moving_time_s``: the reader's own (``meta["moving_time_s"]``: a FIT swim's active lengths and
  timer time) where it has one; else the sum of the gaps between consecutive samples that are at most
  :data:`MAX_SAMPLE_GAP_S` long and whose speed is at least :data:`MOVING_SPEED_MPS`; with no speed channel,
  the device's timer time, else the duration.
* ``distance_m``: span of the cumulative distance channel; else the device's total.
* ``elevation_gain_m``: sum of rises of the altitude after a centred 5-sample rolling mean (to
  suppress barometric and GPS jitter); else the device's total ascent.
* HR and cadence means are over samples that carry a value (cadence: non-zero values only).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from ingest.frames import SAMPLE_COLUMNS
from schemas.motion import MAX_SAMPLE_GAP_S, MOVING_SPEED_MPS

__all__ = ["MAX_PLAUSIBLE_SPEED_MPS", "clean_samples", "summarize_activity"]

MAX_PLAUSIBLE_SPEED_MPS = 60.0
"""Speeds above this (216 km/h) are GPS glitches and become null."""

ALTITUDE_SMOOTHING_SAMPLES = 5


def clean_samples(samples: pl.DataFrame) -> tuple[pl.DataFrame, set[str]]:
    """Normalise sentinel readings that devices write instead of "no value".

    Heart rate 0 (strap not worn) becomes null; speeds above :data:`MAX_PLAUSIBLE_SPEED_MPS`
    become null; a position at exactly (0, 0) becomes null.

    Returns
    -------
    tuple
        The cleaned frame and the quality flags raised (``speed_glitches_removed``).

    Examples
    --------
    >>> frame = pl.DataFrame({"hr_bpm": [0, 120], "speed_mps": [3.0, 900.0],
    ...                       "lat_deg": [0.0, 1.0], "lon_deg": [0.0, 1.0]})
    >>> clean_samples(frame)[0]["hr_bpm"].to_list()
    [None, 120]
    """
    flags: set[str] = set()
    glitches = samples.filter(pl.col("speed_mps") > MAX_PLAUSIBLE_SPEED_MPS).height
    if glitches:
        flags.add("speed_glitches_removed")
    null_island = (pl.col("lat_deg") == 0.0) & (pl.col("lon_deg") == 0.0)
    cleaned = samples.with_columns(
        hr_bpm=pl.when(pl.col("hr_bpm") > 0).then(pl.col("hr_bpm")),
        speed_mps=pl.when(pl.col("speed_mps") <= MAX_PLAUSIBLE_SPEED_MPS).then(pl.col("speed_mps")),
        lat_deg=pl.when(~null_island).then(pl.col("lat_deg")),
        lon_deg=pl.when(~null_island).then(pl.col("lon_deg")),
    )
    return cleaned, flags


def _span(values: pl.Series) -> float:
    """Largest minus smallest value of a non-empty numeric series."""
    return float(values.cast(pl.Float64).max() - values.cast(pl.Float64).min())  # type: ignore[operator,arg-type]


def _scalar(frame: pl.DataFrame, expr: pl.Expr) -> Any:
    return frame.select(expr).item()


def _moving_time(samples: pl.DataFrame) -> float | None:
    if samples["speed_mps"].null_count() == samples.height:
        return None
    gap = pl.col("elapsed_s").diff().shift(-1)
    moving = (gap <= MAX_SAMPLE_GAP_S) & (pl.col("speed_mps") >= MOVING_SPEED_MPS)
    return float(_scalar(samples, pl.when(moving).then(gap).sum()))


def _elevation_gain(samples: pl.DataFrame) -> float | None:
    altitude = samples["altitude_m"].drop_nulls()
    if altitude.len() < 2:
        return None
    smooth = altitude.rolling_mean(ALTITUDE_SMOOTHING_SAMPLES, center=True, min_samples=1)
    rises = smooth.diff().clip(lower_bound=0.0).sum()
    return float(rises)


def summarize_activity(samples: pl.DataFrame, meta: dict[str, Any]) -> dict[str, Any]:
    """Summarise one activity's samples into the measure columns of the ``activities`` table.

    Parameters
    ----------
    samples
        A reader's samples frame (columns of :data:`ingest.frames.SAMPLE_COLUMNS`).
    meta
        The device-reported session values (``total_elapsed_s``, ``total_timer_s``,
        ``total_distance_m``, ``total_ascent_m``, ``start_utc``), used as fallbacks.

    Returns
    -------
    dict
        ``start_utc``, ``end_utc``, ``duration_s``, ``moving_time_s``, ``distance_m``,
        ``hr_mean_bpm``, ``hr_max_bpm``, ``cadence_mean_rpm``, ``cadence_max_rpm``,
        ``elevation_gain_m``, ``n_samples``, ``has_gps``, ``has_hr``.

    Examples
    --------
    >>> import datetime as dt
    >>> t0 = dt.datetime(2026, 3, 2, 7, tzinfo=dt.UTC)
    >>> frame = pl.DataFrame({"timestamp": [t0, t0 + dt.timedelta(seconds=2)],
    ...     "elapsed_s": [0.0, 2.0], "speed_mps": [3.0, 3.0], "distance_m": [0.0, 6.0]})
    >>> summarize_activity(frame, {})["distance_m"]
    6.0
    """
    samples = samples.with_columns(
        [
            pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in SAMPLE_COLUMNS.items()
            if name not in samples.columns
        ]
    )
    times = samples["timestamp"].drop_nulls()
    start: dt.datetime | None = times.min() if times.len() else meta.get("start_utc")  # type: ignore[assignment]
    if meta.get("start_utc_from_session"):  # a reader that knows the session's own start (swims)
        start = meta["start_utc"]
    end: dt.datetime | None = times.max() if times.len() else None  # type: ignore[assignment]
    elapsed = samples["elapsed_s"].drop_nulls()
    if start is not None and end is not None:
        duration: float | None = (end - start).total_seconds()
    elif elapsed.len():
        duration = _span(elapsed)
    else:
        duration = meta.get("total_elapsed_s")
    if end is None and start is not None and duration is not None:
        end = start + dt.timedelta(seconds=duration)
    # a reader's own moving time first (FIT swims: active lengths and timer), else from speed
    moving = meta.get("moving_time_s")
    if moving is not None and duration is not None:
        moving = min(moving, duration)  # timer sums round up past the records' span
    if moving is None:
        moving = _moving_time(samples)
    if moving is None:
        moving = meta.get("total_timer_s") or duration
    distance_channel = samples["distance_m"].drop_nulls()
    distance = _span(distance_channel) if distance_channel.len() else meta.get("total_distance_m")
    hr = samples["hr_bpm"].drop_nulls()
    reported_hr = {
        k: meta.get(k) if (meta.get(k) or 0) > 0 else None for k in ("hr_mean_bpm", "hr_max_bpm")
    }
    cadence = samples["cadence_rpm"].drop_nulls()
    cadence = cadence.filter(cadence > 0)
    gain = _elevation_gain(samples)
    return {
        "start_utc": start,
        "end_utc": end,
        "duration_s": duration,
        "moving_time_s": moving,
        "distance_m": distance,
        "hr_mean_bpm": float(hr.mean()) if hr.len() else reported_hr["hr_mean_bpm"],  # type: ignore[arg-type]
        "hr_max_bpm": float(hr.max()) if hr.len() else reported_hr["hr_max_bpm"],  # type: ignore[arg-type]
        "cadence_mean_rpm": float(cadence.mean()) if cadence.len() else None,  # type: ignore[arg-type]
        "cadence_max_rpm": float(cadence.max()) if cadence.len() else None,  # type: ignore[arg-type]
        "elevation_gain_m": gain if gain is not None else meta.get("total_ascent_m"),
        "n_samples": samples.height,
        "has_gps": samples["lat_deg"].drop_nulls().len() > 0,
        "has_hr": hr.len() > 0,
    }
