"""Small geodesy helpers shared by the GPX and TCX readers."""

from __future__ import annotations

import polars as pl

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), metres."""


def cumulative_distance_m(lat: pl.Expr, lon: pl.Expr) -> pl.Expr:
    """Cumulative haversine distance along consecutive points, starting at 0.

    Points with a null position add nothing. Used where a file carries positions but no distance.
    """
    lat_r, lon_r = lat.radians(), lon.radians()
    dlat = lat_r - lat_r.shift(1)
    dlon = lon_r - lon_r.shift(1)
    a = (dlat / 2).sin() ** 2 + lat_r.cos() * lat_r.shift(1).cos() * (dlon / 2).sin() ** 2
    step = 2 * EARTH_RADIUS_M * a.sqrt().arcsin()
    return step.fill_null(0.0).cum_sum()
