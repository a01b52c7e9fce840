"""Sport names: every source's vocabulary mapped to the warehouse's small set."""

from __future__ import annotations

import polars as pl

SPORTS = ("running", "walking", "hiking", "cycling", "swimming", "rowing", "transition", "other")
"""The sports the warehouse knows."""

SPORT_ALIASES: dict[str, str] = {
    # FIT sport enum names
    "running": "running",
    "walking": "walking",
    "hiking": "hiking",
    "cycling": "cycling",
    "e_biking": "cycling",
    "swimming": "swimming",
    "rowing": "rowing",
    "transition": "transition",
    "generic": "other",
    "fitness_equipment": "other",
    "training": "other",
    # TCX Sport attribute, Strava/Garmin GPX <type>
    "run": "running",
    "biking": "cycling",
    "bike": "cycling",
    "ride": "cycling",
    "virtualride": "cycling",
    "virtualrun": "running",
    "walk": "walking",
    "hike": "hiking",
    "swim": "swimming",
    "trail_running": "running",
    "treadmill_running": "running",
    "street_running": "running",
    "9": "running",  # Strava's numeric GPX type for Run
    "1": "cycling",  # Strava's numeric GPX type for Ride
    "10": "walking",  # Strava's numeric GPX type for Walk
}
"""Lower-cased source sport name -> warehouse sport."""

SPEED_BANDS_MPS: tuple[tuple[float, str], ...] = ((1.9, "walking"), (6.5, "running"))
"""Upper bounds of median moving speed used to infer a sport a file does not name."""

MOVING_SPEED_MPS = 0.5
"""Below this speed a sample counts as stopped."""


def normalise_sport(name: object) -> str | None:
    """Map a source's sport name to the warehouse vocabulary; ``None`` when absent.

    Examples
    --------
    >>> normalise_sport("Biking"), normalise_sport("running"), normalise_sport("kitesurf")
    ('cycling', 'running', 'other')
    """
    if name is None:
        return None
    text = str(name).strip().lower()
    if not text:
        return None
    return SPORT_ALIASES.get(text, "other")


def infer_sport(speed_mps: pl.Series) -> str:
    """Infer walking, running or cycling from the median moving speed (``other`` if unknown)."""
    moving = speed_mps.drop_nulls().filter(speed_mps.drop_nulls() > MOVING_SPEED_MPS)
    if moving.is_empty():
        return "other"
    median = moving.median()
    assert isinstance(median, float)
    for upper, sport in SPEED_BANDS_MPS:
        if median < upper:
            return sport
    return "cycling"
