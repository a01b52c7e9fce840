"""Sport names: every source's vocabulary mapped to the warehouse's small set."""

from __future__ import annotations

import polars as pl

from schemas.motion import MOVING_SPEED_MPS

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

SUB_SPORT_ALIASES: dict[str, str] = {
    "indoor_rowing": "rowing",
    "treadmill": "running",
    "indoor_running": "running",
    "trail": "running",
    "track": "running",
    "indoor_cycling": "cycling",
    "virtual_activity": "cycling",
    "spin": "cycling",
    "indoor_walking": "walking",
    "lap_swimming": "swimming",
    "open_water": "swimming",
}
"""FIT sub-sport -> warehouse sport, used when the sport itself is generic (fitness equipment)."""

SPEED_BANDS_MPS: tuple[tuple[float, str], ...] = ((1.9, "walking"), (6.5, "running"))
"""Upper bounds of median moving speed used to infer a sport a file does not name."""


def normalise_sport(name: object, sub_sport: object = None) -> str | None:
    """Map a source's sport name to the warehouse vocabulary; ``None`` when absent.

    A generic sport (``fitness_equipment``, ``generic``) is refined by its sub-sport.

    Examples
    --------
    >>> normalise_sport("Biking"), normalise_sport("running"), normalise_sport("kitesurf")
    ('cycling', 'running', 'other')
    >>> normalise_sport("fitness_equipment", "indoor_rowing")
    'rowing'
    """
    if name is None:
        return None
    text = str(name).strip().lower()
    if not text:
        return None
    sport = SPORT_ALIASES.get(text, "other")
    if sport == "other" and sub_sport is not None:
        return SUB_SPORT_ALIASES.get(str(sub_sport).strip().lower(), sport)
    return sport


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
