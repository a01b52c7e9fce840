"""Privacy zones: no position near where a run starts or ends reaches the analyst tables.

Most runs start and end at home (or at work, or at the clinic). For every activity, each sample
whose position lies within a radius of the activity's first or last positioned sample loses its
position: ``lat_deg``, ``lon_deg`` and ``altitude_m`` become null. The row itself stays, so heart
rate, cadence, speed and the time series used for load and decoupling are complete.
``distance_m``, ``elapsed_s`` and ``timestamp`` are kept: they are relative to the run's own start
and carry no place, but see ``docs/threat-model.md`` for what start and end *times* still reveal.

The radius differs per client (so that the edge of the blanked zone does not announce a fixed,
known distance) and is derived from the clinic secret by :func:`privacy_radii`:
``radius_m = base_m + (HMAC-SHA256(secret, "privacy-zone:" + client_id) mod spread_cm) / 100``.
:func:`trim_home_zones` takes the radii as a frame, so it stays pure (no secret, no clock).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

__all__ = ["EARTH_RADIUS_M", "PrivacyZone", "privacy_radii", "trim_home_zones"]

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG), metres; the same sphere as ``ingest.geo``."""

POSITION_COLUMNS = ("lat_deg", "lon_deg", "altitude_m")
"""Columns blanked inside a zone (altitude too: with a map it narrows down the place)."""

LATITUDE_BOUND_SLACK_M = 1.0
"""Metres added to the radius before rows are ruled out by their latitude alone (rounding)."""

KEY_LABEL = b"privacy-zone:"
"""Domain separation: the radius key never equals a ``client_id`` pseudonym computation."""


@dataclass(frozen=True)
class PrivacyZone:
    """How large the blanked zones are.

    Attributes
    ----------
    base_m
        Smallest radius, metres (documented default 200 m).
    spread_m
        Radii are spread uniformly over ``[base_m, base_m + spread_m)``, per client.
    """

    base_m: float = 200.0
    spread_m: float = 200.0

    def __post_init__(self) -> None:
        if self.base_m < 0 or self.spread_m < 0:
            raise ValueError("privacy zone sizes must not be negative")


def privacy_radii(
    client_ids: Iterable[str], secret: bytes, *, zone: PrivacyZone | None = None
) -> pl.DataFrame:
    """The zone radius of each client, keyed by the clinic secret.

    Parameters
    ----------
    client_ids
        Client pseudonyms (``client_id``).
    secret
        The clinic secret (the one behind ``client_id``).
    zone
        Base and spread of the radius (defaults of :class:`PrivacyZone`).

    Returns
    -------
    pl.DataFrame
        ``client_id`` (String), ``radius_m`` (Float64), one row per distinct id, sorted.

    Examples
    --------
    >>> radii = privacy_radii(["a1", "b2"], b"secret")
    >>> radii["radius_m"].is_between(200, 400, closed="left").all()
    True
    """
    zone = zone or PrivacyZone()
    spread_cm = round(zone.spread_m * 100)
    rows = []
    for client_id in sorted(set(client_ids)):
        digest = hmac.new(secret, KEY_LABEL + client_id.encode("utf-8"), hashlib.sha256).digest()
        offset_cm = int.from_bytes(digest[:8], "big") % spread_cm if spread_cm else 0
        rows.append({"client_id": client_id, "radius_m": zone.base_m + offset_cm / 100})
    return pl.DataFrame(rows, schema={"client_id": pl.String, "radius_m": pl.Float64})


def _distance_m(lat: pl.Expr, lon: pl.Expr, lat0: pl.Expr, lon0: pl.Expr) -> pl.Expr:
    """Great-circle (haversine) distance in metres between two positions given in degrees."""
    dlat = (lat - lat0).radians()
    dlon = (lon - lon0).radians()
    a = (dlat / 2).sin() ** 2 + lat.radians().cos() * lat0.radians().cos() * (dlon / 2).sin() ** 2
    return 2 * EARTH_RADIUS_M * a.sqrt().clip(upper_bound=1.0).arcsin()


def trim_home_zones(samples: pl.DataFrame, radii: pl.DataFrame) -> pl.DataFrame:
    """Blank positions within each client's radius of every activity's first and last fix.

    Parameters
    ----------
    samples
        Rows of the ``samples`` table (at least ``activity_id``, ``client_id``, ``lat_deg``,
        ``lon_deg``, ``altitude_m``), each activity's rows in recording order.
    radii
        ``client_id`` and ``radius_m``, as from :func:`privacy_radii`. A client missing from it
        gets no position at all (fail closed).

    Returns
    -------
    pl.DataFrame
        ``samples`` with the same rows, columns and order; positions within ``radius_m`` (distance
        ``<=`` radius) of the activity's first or last positioned sample set to null. Every other
        column, ``distance_m`` and ``elapsed_s`` included, is unchanged.

    Examples
    --------
    >>> samples = pl.DataFrame({"activity_id": ["a"] * 3, "client_id": ["c"] * 3,
    ...     "lat_deg": [0.0, 0.01, 0.02], "lon_deg": [0.0] * 3, "altitude_m": [5.0] * 3})
    >>> radii = pl.DataFrame({"client_id": ["c"], "radius_m": [300.0]})
    >>> trim_home_zones(samples, radii)["lat_deg"].to_list()
    [None, 0.01, None]
    """
    if samples.is_empty():
        return samples
    work = _with_ends_and_radius(samples, radii)
    lat, lon = pl.col("lat_deg"), pl.col("lon_deg")
    radius = pl.col("_radius_m")
    positioned = lat.is_not_null() & lon.is_not_null()
    # The exact (haversine) distance is computed only for the rows that may be near an end: the
    # distance along the meridian bounds the great-circle distance from below, so a row whose
    # latitude alone is farther than the radius (plus a metre, for rounding) is not near.
    metres_per_degree = math.radians(1.0) * EARTH_RADIUS_M
    reach = radius + LATITUDE_BOUND_SLACK_M
    may_be_near = positioned & (
        radius.is_null()
        | ((lat - pl.col("_lat0")).abs() * metres_per_degree <= reach)
        | ((lat - pl.col("_lat1")).abs() * metres_per_degree <= reach)
    )
    candidates = work.with_row_index("_row").filter(may_be_near)
    near = radius.is_null() | (
        (_distance_m(lat, lon, pl.col("_lat0"), pl.col("_lon0")) <= radius)
        | (_distance_m(lat, lon, pl.col("_lat1"), pl.col("_lon1")) <= radius)
    )
    rows = candidates.filter(near)["_row"]
    if rows.is_empty():
        return samples
    hidden = pl.repeat(value=False, n=samples.height, eager=True).scatter(rows, values=True)
    return samples.with_columns(
        [pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c) for c in POSITION_COLUMNS]
    ).cast(samples.schema)


def _with_ends_and_radius(samples: pl.DataFrame, radii: pl.DataFrame) -> pl.DataFrame:
    """Positions of ``samples`` with their activity's first and last fix and their radius.

    Each activity's ends are found once per activity and gathered back by the activity's ordinal
    (``rle_id`` when each activity's rows are contiguous, as readers and concatenation leave them;
    a join on the id otherwise): joining a million rows on a string key costs several times as
    much.
    """
    positioned = pl.col("lat_deg").is_not_null() & pl.col("lon_deg").is_not_null()
    ids = samples["activity_id"]
    ordinal = ids.rle_id()
    groups = ordinal[-1] + 1  # rle_id counts up from 0, one per run of equal ids
    if ids.n_unique() != groups:  # an activity's rows are not contiguous
        ordinal = ids.rank("dense").cast(pl.UInt32) - 1
        groups = ids.n_unique()
    ends = (
        samples.select("lat_deg", "lon_deg", _g=ordinal)
        .filter(positioned)
        .group_by("_g")
        .agg(
            _lat0=pl.col("lat_deg").first(),
            _lon0=pl.col("lon_deg").first(),
            _lat1=pl.col("lat_deg").last(),
            _lon1=pl.col("lon_deg").last(),
        )
    )
    every = pl.DataFrame({"_g": pl.arange(0, groups, eager=True)}).cast({"_g": ordinal.dtype})
    table = every.join(ends, on="_g", how="left").sort("_g")
    first = radii.unique(subset="client_id", keep="first", maintain_order=True)
    radius_of = dict(
        zip(
            first["client_id"].cast(pl.String).to_list(),
            first["radius_m"].cast(pl.Float64).to_list(),
            strict=True,
        )
    )
    return samples.select(
        "lat_deg",
        "lon_deg",
        *[table[c].gather(ordinal) for c in ("_lat0", "_lon0", "_lat1", "_lon1")],
        _radius_m=pl.col("client_id").replace_strict(
            radius_of, default=None, return_dtype=pl.Float64
        ),
    )
