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
import math
from dataclasses import dataclass
from typing import Any

import pandera.polars as pa
import polars as pl

from ingest.frames import SAMPLE_COLUMNS
from schemas.activities import Activities
from schemas.base import MIN_TIME_AXIS_S, PLAUSIBLE_SINCE
from schemas.motion import MAX_SAMPLE_GAP_S, MOVING_SPEED_MPS
from schemas.samples import Samples

__all__ = [
    "SAMPLE_BOUNDS",
    "CleanedSamples",
    "clean_samples",
    "one_instant",
    "refused_summary_values",
    "summarize_activity",
    "without_unset_clock",
]

ALTITUDE_SMOOTHING_SAMPLES = 5

POSITION = ("lat_deg", "lon_deg")
"""A position is a pair: when either half is impossible, both become null."""

NOT_VALUES = frozenset({"activity_id", "client_id", "timestamp", "elapsed_s"})
"""Columns that are not measured values: ids and the time axis (a sample's time is its place in
the activity; a file whose clock is impossible is refused whole by the schema)."""


SENTINELS: dict[str, float] = {"hr_bpm": 0}
"""Values devices write for "no reading": nulled, not counted as refused."""

Bounds = tuple[float | None, float | None]


def _bounds(model: type[pa.DataFrameModel], skip: frozenset[str]) -> dict[str, Bounds]:
    """``{column: (min, max)}`` read from the model's own ``ge``/``le`` checks (never restated)."""
    out: dict[str, Bounds] = {}
    for name, column in model.to_schema().columns.items():
        if name in skip:
            continue
        low = high = None
        for check in column.checks:
            low = check.statistics.get("min_value", low)
            high = check.statistics.get("max_value", high)
        if low is not None or high is not None:
            out[name] = (low, high)
    return out


SAMPLE_BOUNDS: dict[str, Bounds] = _bounds(Samples, NOT_VALUES)
"""The physical range of every measured sample channel, from :class:`schemas.samples.Samples`."""

SUMMARY_MEASURES = (
    "distance_m",
    "hr_mean_bpm",
    "hr_max_bpm",
    "cadence_mean_rpm",
    "cadence_max_rpm",
    "elevation_gain_m",
)
"""Summary values that may come from the device's own totals, checked like the samples."""

SUMMARY_DURATIONS = ("duration_s", "moving_time_s")
"""Summary times, refused as values only above their maximum.

A duration longer than the schema allows (seven days) is a session left paused for weeks, its
records all readable (a bike computer started for 4 s, then ridden 27 days later): the value is
refused, the workout kept. A negative one means the time axis itself is broken (a sample dated
before the start), and such a workout is still refused whole."""

SUMMARY_BOUNDS: dict[str, Bounds] = {
    name: bounds if name in SUMMARY_MEASURES else (None, bounds[1])
    for name, bounds in _bounds(Activities, frozenset()).items()
    if name in SUMMARY_MEASURES + SUMMARY_DURATIONS
}
"""Ranges of the summary measures (maxima only of the durations), from
:class:`schemas.activities.Activities`."""


@dataclass(frozen=True)
class CleanedSamples:
    """What :func:`clean_samples` made of a reader's samples.

    Attributes
    ----------
    samples
        The frame with sentinels and impossible values null.
    flags
        Quality flags raised: ``values_refused`` when any value was nulled as impossible,
        ``speed_glitches_removed`` when a speed above the schema's maximum was among them.
    refused
        ``{channel: number of samples nulled}`` for impossible values (``position`` counts
        samples whose latitude/longitude pair was nulled); sentinels are not counted.
    """

    samples: pl.DataFrame
    flags: set[str]
    refused: dict[str, int]

    @property
    def n_refused(self) -> int:
        """Samples' values nulled, all channels together."""
        return sum(self.refused.values())


def _outside(name: str, bounds: Bounds) -> pl.Expr:
    """True where a value is NaN or outside its bounds (null stays null: not a failure)."""
    low, high = bounds
    value = pl.col(name)
    bad = value.cast(pl.Float64).is_nan()
    if low is not None:
        bad = bad | (value < low)
    if high is not None:
        bad = bad | (value > high)
    return bad.fill_null(value=False)


def _without_impossible_steps(
    samples: pl.DataFrame, refused_position: pl.Expr | None
) -> tuple[pl.DataFrame, int]:
    """Take out of the cumulative distance the steps to and from a refused position.

    A reader that measures distance along the positions adds the jump to a position off the
    globe and back. A step into or out of a sample whose position was refused, and that would
    need more than the ``samples`` schema's top speed over its time (at least one second), is
    removed (the distance after it shifts back by the jump) and counted as a refused value. Other
    steps are the device's own and are left alone.
    """
    if refused_position is None or not {"distance_m", "elapsed_s"} <= set(samples.columns):
        return samples, 0
    top = SAMPLE_BOUNDS["speed_mps"][1]
    if top is None:
        return samples, 0
    step = pl.col("distance_m").diff()
    seconds = pl.col("elapsed_s").diff().clip(lower_bound=1.0)
    near = refused_position | refused_position.shift(1).fill_null(value=False)
    jump = (near & step.is_not_nan() & (step.abs() > top * seconds)).fill_null(value=False)
    count = int(samples.select(jump.sum()).item())
    if not count:
        return samples, 0
    shift = pl.when(jump).then(step).otherwise(0.0).cum_sum()
    return samples.with_columns(distance_m=pl.col("distance_m") - shift), count


def one_instant(earliest: dt.datetime, latest: dt.datetime, points: int) -> bool:
    """True when ``points`` timed points, two or more, all lie within :data:`MIN_TIME_AXIS_S`.

    One instant stamped on every point (GPSBabel's 1901-12-13T20:45:52, the signed 32-bit epoch's
    minimum) gives no time axis: the track is skipped as an untimed one is, not refused.

    Examples
    --------
    >>> t = dt.datetime(1901, 12, 13, 20, 45, 52, 207343, tzinfo=dt.UTC)
    >>> one_instant(t, t + dt.timedelta(microseconds=343), 184), one_instant(t, t, 1)
    (True, False)
    """
    return points > 1 and (latest - earliest).total_seconds() < MIN_TIME_AXIS_S


def without_unset_clock(samples: pl.DataFrame) -> pl.DataFrame | None:
    """The samples with their times blanked when every one lies before any plausible date.

    A device whose clock was never set (or a GPS week rollover) dates a whole track decades back
    (1980, 1999 minus 1,024 weeks): the track and its elapsed times are real, its date is not.
    Returns ``None`` when the clock looks set, when there are no times, or when every point has
    the same instant (then there is no time axis to keep either); otherwise the activity is kept
    without a date, as a FIT file's unset clock is.

    Examples
    --------
    >>> t = dt.datetime(1980, 1, 6, 0, 0, tzinfo=dt.UTC)
    >>> frame = pl.DataFrame({"timestamp": [t, t + dt.timedelta(seconds=5)], "elapsed_s": [0.0, 5.0]})
    >>> without_unset_clock(frame)["timestamp"].null_count()
    2
    >>> without_unset_clock(frame.with_columns(timestamp=pl.lit(dt.datetime(2024, 1, 1, tzinfo=dt.UTC)))) is None
    True
    """
    if "timestamp" not in samples.columns:
        return None
    times = samples["timestamp"].drop_nulls()
    latest, earliest = times.max(), times.min()
    if not isinstance(latest, dt.datetime) or not isinstance(earliest, dt.datetime):
        return None
    if latest >= PLAUSIBLE_SINCE:
        return None
    if one_instant(earliest, latest, times.len()):
        return None  # no time axis either (not a workout)
    return samples.with_columns(pl.lit(None, dtype=samples.schema["timestamp"]).alias("timestamp"))


def clean_samples(samples: pl.DataFrame) -> CleanedSamples:
    """Null sentinel readings and physically impossible values; count what was refused.

    Every reader's samples pass through here. Heart rate 0 (strap not worn) and a position at
    exactly (0, 0) are sentinels: they become null and are not counted. A value outside the
    range the ``samples`` schema allows for its channel (:data:`SAMPLE_BOUNDS`: heart rate
    20-250, speed 0-60 m/s, latitude -90-90 ...), or NaN, is refused: it becomes null and is
    counted per channel; the rest of the sample and of the workout is kept. So a speed a reader
    derived from a cumulative distance that steps back (negative) never reaches the tables, and
    a step of the cumulative distance to or from a refused position, faster than the top speed,
    is taken out of it (:func:`_without_impossible_steps`, counted under ``distance_m``).

    Examples
    --------
    >>> frame = pl.DataFrame({"hr_bpm": [0, 120, 300], "speed_mps": [3.0, 900.0, -1.0],
    ...                       "lat_deg": [0.0, 1.0, 95.0], "lon_deg": [0.0, 1.0, 1.0]})
    >>> cleaned = clean_samples(frame)
    >>> cleaned.samples["hr_bpm"].to_list(), cleaned.samples["lon_deg"].to_list()
    ([None, 120, None], [None, 1.0, None])
    >>> cleaned.refused
    {'speed_mps': 2, 'hr_bpm': 1, 'position': 1}
    """
    flags: set[str] = set()
    present = {n: b for n, b in SAMPLE_BOUNDS.items() if n in samples.columns}
    outside = {n: _outside(n, b) for n, b in present.items()}
    for name, sentinel in SENTINELS.items():
        if name in outside:
            outside[name] = outside[name] & pl.col(name).ne_missing(sentinel)
    position_bad: pl.Expr | None = None
    if all(n in present for n in POSITION):
        position_bad = outside[POSITION[0]] | outside[POSITION[1]]
    samples, jumps = _without_impossible_steps(samples, position_bad)
    channels = {n: e for n, e in outside.items() if n not in POSITION}
    if position_bad is not None:
        channels["position"] = position_bad
    counts = (
        samples.select(
            [e.sum().alias(n) for n, e in channels.items()]
            + (
                [(pl.col("speed_mps") > present["speed_mps"][1]).sum().alias("_fast")]
                if "speed_mps" in present and present["speed_mps"][1] is not None
                else []
            )
        ).row(0, named=True)
        if channels
        else {}
    )
    if counts.pop("_fast", 0):
        flags.add("speed_glitches_removed")
    if jumps:
        counts["distance_m"] = counts.get("distance_m", 0) + jumps
    refused = {n: int(c) for n, c in counts.items() if c}
    if refused:
        flags.add("values_refused")
    null_island = (pl.col("lat_deg") == 0.0) & (pl.col("lon_deg") == 0.0)
    updates: dict[str, pl.Expr] = {
        n: pl.when(~e).then(pl.col(n)) for n, e in outside.items() if n not in POSITION
    }
    updates.update(
        {
            n: pl.when(pl.col(n).ne_missing(v) & ~outside.get(n, pl.lit(value=False))).then(
                pl.col(n)
            )
            for n, v in SENTINELS.items()
            if n in samples.columns
        }
    )
    if all(n in samples.columns for n in POSITION):
        keep = ~null_island.fill_null(value=False)
        if position_bad is not None:
            keep = keep & ~position_bad
        updates.update({n: pl.when(keep).then(pl.col(n)) for n in POSITION})
    return CleanedSamples(samples.with_columns(**updates), flags, refused)


def refused_summary_values(summary: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """Null summary values outside the ``activities`` schema's ranges (:data:`SUMMARY_BOUNDS`).

    Device totals, mostly, and durations longer than the schema allows. Returns the summary with
    those values null, and ``{column: 1}`` for each one nulled.

    Examples
    --------
    >>> refused_summary_values({"distance_m": 5000.0, "hr_mean_bpm": 300.0})
    ({'distance_m': 5000.0, 'hr_mean_bpm': None}, {'hr_mean_bpm': 1})
    >>> refused_summary_values({"duration_s": 2_412_583.0, "moving_time_s": 7373.0})
    ({'duration_s': None, 'moving_time_s': 7373.0}, {'duration_s': 1})
    """
    out = dict(summary)
    refused: dict[str, int] = {}
    for name, (low, high) in SUMMARY_BOUNDS.items():
        value = out.get(name)
        if value is None:
            continue
        if (
            math.isnan(value)
            or (low is not None and value < low)
            or (high is not None and value > high)
        ):
            out[name] = None
            refused[name] = 1
    return out, refused


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
