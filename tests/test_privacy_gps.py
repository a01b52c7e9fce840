"""Privacy zones (transform/privacy.py).

Geometry is built by hand along a meridian: on a sphere of radius R, one degree of latitude is
``R * pi / 180`` metres of arc, so points ``k * 50 m`` apart have latitudes ``k * 50 / (R*pi/180)``
and the distance between points ``i`` and ``j`` is exactly ``|i - j| * 50`` m. Expected kept and
blanked indices below are read off that spacing, not computed by the code under test.
"""

from __future__ import annotations

import math

import polars as pl
import pytest
from polars.testing import assert_frame_equal, assert_series_equal

from transform.privacy import PrivacyZone, privacy_radii, trim_home_zones

R = 6_371_008.8
M_PER_DEG = R * math.pi / 180  # metres of arc per degree of latitude
STEP_M = 50.0
LON = 10.0


def line(n: int, *, activity: str = "a1", client: str = "c1", start_m: float = 0.0) -> pl.DataFrame:
    """N points northwards along the meridian 10 E, 50 m apart, 1 s apart."""
    lats = [45.0 + (start_m + k * STEP_M) / M_PER_DEG for k in range(n)]
    return pl.DataFrame(
        {
            "activity_id": [activity] * n,
            "client_id": [client] * n,
            "elapsed_s": [float(k) for k in range(n)],
            "distance_m": [k * STEP_M for k in range(n)],
            "hr_bpm": pl.Series([120 + k for k in range(n)], dtype=pl.Int16),
            "lat_deg": lats,
            "lon_deg": [LON] * n,
            "altitude_m": [100.0] * n,
        }
    )


def radii(**by_client: float) -> pl.DataFrame:
    return pl.DataFrame({"client_id": list(by_client), "radius_m": list(by_client.values())})


def kept(frame: pl.DataFrame) -> list[int]:
    """Indices (elapsed_s) of rows that still carry a position."""
    return [int(e) for e in frame.filter(pl.col("lat_deg").is_not_null())["elapsed_s"]]


def test_straight_line_loses_both_ends_within_radius() -> None:
    # 21 points: 0, 50, ..., 1000 m. Radius 220 m: 0..200 m from the start (indices 0-4) and
    # 0..200 m from the end (indices 16-20) are blanked; 250..750 m (indices 5-15) stay.
    out = trim_home_zones(line(21), radii(c1=220.0))
    assert kept(out) == list(range(5, 16))


def test_radius_between_points() -> None:
    # Radius 199 m: 200 m is outside, so only 0..150 m from each end (4 points) goes.
    out = trim_home_zones(line(21), radii(c1=199.0))
    assert kept(out) == list(range(4, 17))


def test_rows_and_relative_columns_are_kept() -> None:
    samples = line(21)
    out = trim_home_zones(samples, radii(c1=220.0))
    assert out.height == 21
    assert out.schema == samples.schema
    for column in ("activity_id", "client_id", "elapsed_s", "distance_m", "hr_bpm"):
        assert_series_equal(out[column], samples[column])
    # Altitude goes with the position, and only there.
    assert out["altitude_m"].is_null().to_list() == out["lat_deg"].is_null().to_list()
    assert out["lon_deg"].is_null().sum() == 10


def test_zone_centres_on_first_positioned_point() -> None:
    # No fix for the first two samples (the watch was still searching): the zone is centred on
    # index 2; with 120 m it covers indices 2-4 (0, 50, 100 m from it), and 18-20 at the end.
    samples = line(21).with_columns(
        lat_deg=pl.when(pl.col("elapsed_s") < 2).then(None).otherwise(pl.col("lat_deg")),
        lon_deg=pl.when(pl.col("elapsed_s") < 2).then(None).otherwise(pl.col("lon_deg")),
    )
    out = trim_home_zones(samples, radii(c1=120.0))
    assert kept(out) == list(range(5, 18))


def test_out_and_back_blanks_the_return_through_the_zone() -> None:
    # Out 0..500 m (indices 0-10), then back 450..0 m (indices 11-20): start and end are the same
    # place, so the zone of 160 m (0..150 m) covers indices 0-3 and 17-20 (150, 100, 50, 0 m).
    out_leg = [k * STEP_M for k in range(11)]
    back_leg = [500.0 - k * STEP_M for k in range(1, 11)]
    metres = out_leg + back_leg
    samples = line(21).with_columns(lat_deg=pl.Series([45.0 + m / M_PER_DEG for m in metres]))
    out = trim_home_zones(samples, radii(c1=160.0))
    assert kept(out) == list(range(4, 17))


def test_each_activity_and_client_has_its_own_zone() -> None:
    first = line(21, activity="a1", client="c1")
    second = line(21, activity="a2", client="c2", start_m=5_000.0)
    out = trim_home_zones(pl.concat([first, second]), radii(c1=220.0, c2=120.0))
    assert kept(out.filter(pl.col("activity_id") == "a1")) == list(range(5, 16))
    assert kept(out.filter(pl.col("activity_id") == "a2")) == list(range(3, 18))


def test_client_without_radius_loses_every_position() -> None:
    out = trim_home_zones(line(5, client="unknown"), radii(c1=220.0))
    assert out["lat_deg"].null_count() == 5
    assert out["lon_deg"].null_count() == 5


def test_activity_without_positions_is_unchanged() -> None:
    samples = line(5).with_columns(
        lat_deg=pl.lit(None, pl.Float64), lon_deg=pl.lit(None, pl.Float64)
    )
    assert_frame_equal(trim_home_zones(samples, radii(c1=220.0)), samples)


def test_empty_samples() -> None:
    empty = line(0)
    assert_frame_equal(trim_home_zones(empty, radii(c1=220.0)), empty)


def test_radii_are_keyed_and_within_the_documented_range() -> None:
    ids = [f"client-{i}" for i in range(500)]
    one = privacy_radii(ids, b"secret-one")
    again = privacy_radii(reversed(ids), b"secret-one")
    other = privacy_radii(ids, b"secret-two")
    assert_frame_equal(one, again)
    assert one.height == 500
    assert one["radius_m"].min() >= 200.0
    assert one["radius_m"].max() < 400.0
    # Spread over the whole range, not a constant (500 draws: min < 210 m and max > 390 m).
    assert one["radius_m"].min() < 210.0
    assert one["radius_m"].max() > 390.0
    # Another secret gives other radii for (nearly) every client.
    changed = (one["radius_m"] != other["radius_m"]).sum()
    assert changed > 490


def test_zero_spread_gives_the_base_radius() -> None:
    out = privacy_radii(["a", "b"], b"k", zone=PrivacyZone(base_m=250.0, spread_m=0.0))
    assert out["radius_m"].to_list() == [250.0, 250.0]


def test_negative_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        PrivacyZone(base_m=-1.0)


def test_line_along_a_parallel() -> None:
    # Eastwards at 45 N, 50 m apart along the parallel: every point has the start's latitude, so
    # the latitude alone rules nothing out and the great-circle distance decides. With 220 m the
    # first 5 (0..200 m) and the last 5 points go, as on the meridian.
    metres_per_degree_lon = M_PER_DEG * math.cos(math.radians(45.0))
    samples = line(21).with_columns(
        lat_deg=pl.lit(45.0), lon_deg=LON + pl.col("distance_m") / metres_per_degree_lon
    )
    out = trim_home_zones(samples, radii(c1=220.0))
    assert kept(out) == list(range(5, 16))


def test_interleaved_activities_are_trimmed_as_each_alone() -> None:
    first = line(21, activity="a1", client="c1")
    second = line(21, activity="a2", client="c2", start_m=5_000.0)
    alone = pl.concat(
        [trim_home_zones(first, radii(c1=220.0)), trim_home_zones(second, radii(c2=120.0))]
    )
    mixed = pl.concat([first, second]).sort("elapsed_s", "activity_id")
    out = trim_home_zones(mixed, radii(c1=220.0, c2=120.0))
    assert_frame_equal(out.sort("activity_id", "elapsed_s"), alone)
