"""Small geodesy helpers shared by the GPX and TCX readers.

Distance from positions (:func:`track_distance_m`) is used only where a file carries no distance of
its own. Raw GPS fixes wander by a few metres around the true path, and summing the straight lines
between consecutive fixes adds that wander to the distance (15-20 % on a 1 Hz run with 1 m of noise).
The method, in two steps:

1. **Smoothing in time**: each position is replaced by the mean of the positions recorded within
   :data:`~schemas.gps.GPS_SMOOTHING_HALF_WINDOW_S` seconds of it (a centred 5 s window at 1 Hz).
   Points recorded further apart than that (a watch in smart-recording mode) are left as they are,
   so that a sparse track's corners are not cut.
2. **Displacement threshold**: a step counts only once the smoothed position has moved at least
   :data:`~schemas.gps.GPS_JITTER_M` metres (the accuracy of a consumer fix) from the last counted
   one; the distance is then the length of the line through the counted points. Points between two
   counted ones get a distance interpolated in time, so that the cumulative distance never steps
   back and a standstill adds nothing.

Measured against the device's own distance on the corpus GPX/TCX files that carry both, and on the
demo's synthetic GPX runs against their FIT distance: see the README's "Distance from GPS".
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from ingest.summaries import SAMPLE_BOUNDS
from schemas.gps import GPS_JITTER_M, GPS_SMOOTHING_HALF_WINDOW_S

__all__ = ["EARTH_RADIUS_M", "cumulative_distance_m", "derived_speed_mps", "track_distance_m"]

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""


def cumulative_distance_m(lat: pl.Expr, lon: pl.Expr) -> pl.Expr:
    """Cumulative haversine distance along consecutive points, starting at 0 (no filtering).

    Points with a null position add nothing.
    """
    lat_r, lon_r = lat.radians(), lon.radians()
    dlat = lat_r - lat_r.shift(1)
    dlon = lon_r - lon_r.shift(1)
    a = (dlat / 2).sin() ** 2 + lat_r.cos() * lat_r.shift(1).cos() * (dlon / 2).sin() ** 2
    step = 2 * EARTH_RADIUS_M * a.sqrt().arcsin()
    return step.fill_null(0.0).cum_sum()


def _smoothed(values: np.ndarray, seconds: np.ndarray, half_window: float) -> np.ndarray:
    """Mean of ``values`` within ``half_window`` seconds of each point (``seconds`` sorted)."""
    low = np.searchsorted(seconds, seconds - half_window, side="left")
    high = np.searchsorted(seconds, seconds + half_window, side="right")
    sums = np.concatenate([[0.0], np.cumsum(values)])
    result: np.ndarray = (sums[high] - sums[low]) / (high - low)
    return result


def track_distance_m(
    lat: pl.Series,
    lon: pl.Series,
    elapsed_s: pl.Series,
    *,
    half_window_s: float = GPS_SMOOTHING_HALF_WINDOW_S,
    jitter_m: float = GPS_JITTER_M,
) -> pl.Series:
    """Cumulative distance along a track with the GPS jitter filtered out (see the module).

    Parameters
    ----------
    lat, lon
        Positions in degrees; null where a point has none.
    elapsed_s
        Seconds since the start (null where a point has no time). Smoothing needs them in
        non-decreasing order; otherwise positions are used unsmoothed.
    half_window_s, jitter_m
        The smoothing half-window and the displacement threshold.

    Returns
    -------
    pl.Series
        ``distance_m`` (Float64), one value per point: 0 before the first position, and a point
        without position keeps the distance of the point before it. Never decreasing.

    Examples
    --------
    A runner standing still for 10 s, each fix up to 2 m off, then 20 m due north:

    >>> lat = pl.Series([0.0, 0.000018, -0.000018, 0.000009, 0.0] + [0.0] * 6 + [0.00018])
    >>> lon = pl.Series([0.0, 0.0, 0.000018, 0.0, -0.000009] + [0.0] * 6 + [0.0])
    >>> seconds = pl.Series([float(s) for s in range(11)] + [30.0])
    >>> round(track_distance_m(lat, lon, seconds)[-1], 1)
    20.0
    """
    n = len(lat)
    # A position off the globe (or NaN) is no position: the sample bounds refuse it later, and
    # it must not pull the smoothed track (or the distance) with it.
    (lat_low, lat_high), (lon_low, lon_high) = SAMPLE_BOUNDS["lat_deg"], SAMPLE_BOUNDS["lon_deg"]
    present = (
        lat.is_between(lat_low, lat_high).fill_null(value=False)
        & lon.is_between(lon_low, lon_high).fill_null(value=False)
    ).to_numpy()
    index = np.flatnonzero(present)
    result = np.full(n, np.nan)
    if index.size:
        lat_deg = lat.to_numpy()[index].astype(float)
        lon_deg = lon.to_numpy()[index].astype(float)
        seconds = elapsed_s.to_numpy()[index].astype(float)
        timed = bool(np.isfinite(seconds).all()) and bool((np.diff(seconds) >= 0).all())
        if timed and half_window_s > 0:
            lat_deg = _smoothed(lat_deg, seconds, half_window_s)
            lon_deg = _smoothed(lon_deg, seconds, half_window_s)
        lat_r, lon_r = np.radians(lat_deg).tolist(), np.radians(lon_deg).tolist()
        anchors, totals = [0], [0.0]
        a_lat, a_lon, total = lat_r[0], lon_r[0], 0.0
        for i in range(1, len(lat_r)):
            # equirectangular at the pair's mean latitude: exact enough over a few metres
            dx = (lon_r[i] - a_lon) * math.cos((lat_r[i] + a_lat) / 2)
            step = EARTH_RADIUS_M * math.hypot(lat_r[i] - a_lat, dx)
            if step >= jitter_m:
                total += step
                anchors.append(i)
                totals.append(total)
                a_lat, a_lon = lat_r[i], lon_r[i]
        where = seconds if timed else np.arange(len(lat_r), dtype=float)
        result[index] = np.interp(where, where[anchors], totals)
    series = pl.Series("distance_m", result, dtype=pl.Float64, nan_to_null=True)
    return series.forward_fill().fill_null(0.0)


def derived_speed_mps() -> pl.Expr:
    """Speed from the ``distance_m`` and ``elapsed_s`` columns: distance step over time step.

    Null where time does not advance or where the cumulative distance steps back (a file's own
    distance can: a device correcting itself by a few metres), so that it is never negative.
    """
    d_distance = pl.col("distance_m").diff()
    d_time = pl.col("elapsed_s").diff()
    return (
        pl.when((d_time > 0) & (d_distance >= 0)).then(d_distance / d_time).otherwise(None)
    ).fill_nan(None)
