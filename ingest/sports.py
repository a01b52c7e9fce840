"""Sport names: every source's vocabulary mapped to the warehouse's small set."""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from schemas.activities import UNKNOWN_SPORT
from schemas.motion import (
    CYCLING_ONLY_P95_MPS,
    MIN_EVIDENCE_SAMPLES,
    MOVING_SPEED_MPS,
    POWERED_SHARE,
    SPORT_CADENCE,
    SPORT_SPEED_BANDS_MPS,
    SPORT_SPEED_MPS,
    SportRanges,
)

UNKNOWN = UNKNOWN_SPORT
"""The sport of a session whose evidence disagrees (or that has none)."""

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
    # Garmin Connect activity type keys (GPX <type> of its exports)
    "track_running": "running",
    "indoor_running": "running",
    "road_biking": "cycling",
    "mountain_biking": "cycling",
    "gravel_cycling": "cycling",
    "indoor_cycling": "cycling",
    "virtual_ride": "cycling",
    "cyclocross": "cycling",
    "track_cycling": "cycling",
    "recumbent_cycling": "cycling",
    "e_bike_fitness": "cycling",
    "e_bike_mountain": "cycling",
    "casual_walking": "walking",
    "speed_walking": "walking",
    "lap_swimming": "swimming",
    "open_water_swimming": "swimming",
    "indoor_rowing": "rowing",
    # Strava activity types (GPX <type> and activities.csv), with their spaces dropped
    "trailrun": "running",
    "mountainbikeride": "cycling",
    "gravelride": "cycling",
    "ebikeride": "cycling",
    "emountainbikeride": "cycling",
    "velomobile": "cycling",
    "handcycle": "cycling",
    # Komoot sport keys
    "jogging": "running",
    "touringbicycle": "cycling",
    "e_touringbicycle": "cycling",
    "racebike": "cycling",
    "e_racebike": "cycling",
    "mtb": "cycling",
    "e_mtb": "cycling",
    "mtb_easy": "cycling",
    "mtb_advanced": "cycling",
    "citybike": "cycling",
    "mountaineering": "hiking",
    # other apps' plain words (RunGap, Runkeeper, Apple-derived GPX)
    "cycle": "cycling",
    "bicycle": "cycling",
    "road_cycling": "cycling",
    "outdoor_run": "running",
    "outdoor_walk": "walking",
    "outdoor_cycle": "cycling",
    "pool_swim": "swimming",
    "open_water_swim": "swimming",
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


def normalise_sport(name: object, sub_sport: object = None) -> str | None:
    """Map a source's sport name to the warehouse vocabulary; ``None`` when absent.

    A generic sport (``fitness_equipment``, ``generic``) is refined by its sub-sport.

    Examples
    --------
    >>> normalise_sport("Biking"), normalise_sport("running"), normalise_sport("kitesurf")
    ('cycling', 'running', 'other')
    >>> normalise_sport("fitness_equipment", "indoor_rowing")
    'rowing'
    >>> normalise_sport("Road Biking"), normalise_sport("TrailRun"), normalise_sport("9")
    ('cycling', 'running', 'running')
    """
    if name is None:
        return None
    text = re.sub(r"[\s\-]+", "_", str(name).strip().lower())
    if not text:
        return None
    sport = SPORT_ALIASES.get(text) or SPORT_ALIASES.get(text.replace("_", ""), "other")
    if sport == "other" and sub_sport is not None:
        return SUB_SPORT_ALIASES.get(str(sub_sport).strip().lower(), sport)
    return sport


CREATOR_SPORTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"\bedge\s*\d|\belemnt\b|\bkaroo\b|\bbryton\b|\blezyne\b|\bipbike\b|\bifor_powell\b",
            re.I,
        ),
        "cycling",
    ),
    (re.compile(r"\bnike\s*run\b|\bstryd\b", re.I), "running"),
)
"""Creator applications and devices that record one sport (bike computers, running-only apps)."""


@dataclass(frozen=True)
class DataEvidence:
    """What a session's samples say about its sport.

    ``candidates`` is the set of sports every present channel is compatible with (``None``: no
    channel to judge by); ``median_speed_mps`` picks among several; ``powered`` is power present.
    """

    candidates: frozenset[str] | None
    median_speed_mps: float | None = None
    powered: bool = False


def _compatible(value: float, table: SportRanges) -> frozenset[str]:
    return frozenset(
        sport for sport, ranges in table if any(low <= value <= high for low, high in ranges)
    )


def data_evidence(samples: pl.DataFrame) -> DataEvidence:
    """Judge the sports a session's speed, cadence and power are compatible with.

    Speed: the median moving speed against :data:`schemas.motion.SPORT_SPEED_MPS`, and a 95th
    percentile above :data:`schemas.motion.CYCLING_ONLY_P95_MPS` allows only cycling. Cadence: the
    median non-zero cadence against :data:`schemas.motion.SPORT_CADENCE` (running per leg or in
    steps). Each channel needs :data:`schemas.motion.MIN_EVIDENCE_SAMPLES` moving samples.
    """
    columns = set(samples.columns)
    speed = samples["speed_mps"] if "speed_mps" in columns else pl.Series([], dtype=pl.Float64)
    moving_mask = speed.fill_null(0.0) > MOVING_SPEED_MPS
    moving = samples.filter(moving_mask) if speed.len() else samples.clear()
    sets: list[frozenset[str]] = []
    median_speed: float | None = None
    if moving.height >= MIN_EVIDENCE_SAMPLES:
        values = moving["speed_mps"].cast(pl.Float64)
        median_speed = float(values.median())  # type: ignore[arg-type]
        speed_set = _compatible(median_speed, SPORT_SPEED_MPS)
        if float(values.quantile(0.95)) > CYCLING_ONLY_P95_MPS:  # type: ignore[arg-type]
            speed_set &= {"cycling"}
        sets.append(speed_set)
    frame = moving if moving.height else samples
    if "cadence_rpm" in columns:
        cadence = frame["cadence_rpm"].drop_nulls().cast(pl.Float64)
        cadence = cadence.filter(cadence > 0)
        if cadence.len() >= MIN_EVIDENCE_SAMPLES:
            sets.append(_compatible(float(cadence.median()), SPORT_CADENCE))  # type: ignore[arg-type]
    powered = False
    if "power_w" in columns and frame.height >= MIN_EVIDENCE_SAMPLES:
        power = frame["power_w"].fill_null(0.0)
        powered = float((power > 0).mean()) >= POWERED_SHARE  # type: ignore[arg-type]
    if not sets:
        return DataEvidence(None, median_speed, powered)
    candidates = frozenset.intersection(*sets)
    return DataEvidence(candidates, median_speed, powered)


def _pick(evidence: DataEvidence) -> str | None:
    """One sport from the data's candidates; ``None`` when there is no data evidence at all."""
    candidates = evidence.candidates
    if candidates is None:
        return None
    if len(candidates) == 1:
        return next(iter(candidates))
    if not candidates:
        return UNKNOWN
    if evidence.powered and "cycling" in candidates:
        return "cycling"
    if evidence.median_speed_mps is not None:
        band = next(s for upper, s in SPORT_SPEED_BANDS_MPS if evidence.median_speed_mps < upper)
        if band in candidates:
            return band
    return UNKNOWN


def creator_sport(creator: str | None) -> str | None:
    """The one sport a creator application or device records, if it records only one."""
    if not creator:
        return None
    return next((sport for pattern, sport in CREATOR_SPORTS if pattern.search(creator)), None)


def decide_sport(
    name: object,
    sub_sport: object = None,
    *,
    samples: pl.DataFrame | None,
    creator: str | None,
) -> tuple[str, set[str]]:
    """The sport of a session, from the file's own evidence first, then from its data.

    1. The sport the file names (FIT sport/sub-sport, TCX ``Sport``, GPX ``<type>`` in any of
       the spellings of :data:`SPORT_ALIASES`): taken as it is.
    2. Otherwise the creator application (:data:`CREATOR_SPORTS`) and the data
       (:func:`data_evidence`: speed and cadence must both allow the sport; power present
       prefers cycling; otherwise the speed band of :data:`schemas.motion.SPORT_SPEED_BANDS_MPS`).
       The result is flagged ``sport_inferred``. When the creator and the data disagree, or the
       channels allow no sport, or there is nothing to judge by, the sport is ``unknown``.

    Returns
    -------
    tuple
        The sport and the flags raised (``sport_inferred``).

    Examples
    --------
    >>> decide_sport("Ride", samples=None, creator=None)
    ('cycling', set())
    >>> ride = pl.DataFrame({"speed_mps": [5.6] * 20, "cadence_rpm": [85.0] * 20})
    >>> decide_sport(None, samples=ride, creator=None)
    ('cycling', {'sport_inferred'})
    >>> decide_sport(None, samples=ride.with_columns(cadence_rpm=pl.lit(170.0)), creator=None)
    ('unknown', {'sport_inferred'})
    """
    named = normalise_sport(name, sub_sport)
    if named is not None:
        return named, set()
    from_creator = creator_sport(creator)
    evidence = data_evidence(samples) if samples is not None else DataEvidence(None)
    if from_creator is not None:
        agrees = evidence.candidates is None or from_creator in evidence.candidates
        return (from_creator if agrees else UNKNOWN), {"sport_inferred"}
    return (_pick(evidence) or UNKNOWN), {"sport_inferred"}


def infer_sport(speed_mps: pl.Series) -> str:
    """Infer a sport from speed alone (readers without other channels): see :func:`decide_sport`."""
    return decide_sport(None, samples=pl.DataFrame({"speed_mps": speed_mps}), creator=None)[0]
