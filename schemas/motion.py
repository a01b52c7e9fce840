"""When a sample is moving, and which sport a session's speed and cadence are compatible with.

Stated once here; the activity summaries in ``ingest/`` use them directly and
:class:`transform.load_config.LoadConfig` takes the moving rules as the defaults of its own
settings. The sport ranges are the data :func:`ingest.sports.decide_sport` judges a session by
when its file names no sport.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "CYCLING_ONLY_P95_MPS",
    "MAX_HR_EVENT_AGE_S",
    "MAX_SAMPLE_GAP_S",
    "MIN_EVIDENCE_SAMPLES",
    "MOVING_SPEED_MPS",
    "POWERED_SHARE",
    "SPORT_CADENCE",
    "SPORT_SPEED_BANDS_MPS",
    "SPORT_SPEED_MPS",
]

MOVING_SPEED_MPS: Final = 0.5
"""Below this speed (m/s) a sample counts as stopped."""

MAX_SAMPLE_GAP_S: Final = 10.0
"""A gap between samples longer than this (s) is a pause: it counts as neither moving nor load."""


SportRanges = tuple[tuple[str, tuple[tuple[float, float], ...]], ...]

SPORT_SPEED_MPS: Final[SportRanges] = (
    ("walking", ((MOVING_SPEED_MPS, 2.2),)),
    ("running", ((1.7, 5.0),)),
    ("cycling", ((2.5, 25.0),)),
)
"""Median moving speed (m/s) each sport is compatible with (running 6-18 km/h: a whole session's
median above 18 km/h is not a clinic client's run; cycling from 9 km/h)."""

SPORT_CADENCE: Final[SportRanges] = (
    ("walking", ((90.0, 139.0), (45.0, 69.0))),
    ("running", ((140.0, 210.0), (70.0, 105.0))),
    ("cycling", ((50.0, 120.0),)),
)
"""Median non-zero cadence each sport is compatible with: steps/min, or per leg (strides/min, as
FIT, TCX ``RunCadence`` and Garmin GPX store running cadence); cycling in crank rpm."""

SPORT_SPEED_BANDS_MPS: Final[tuple[tuple[float, str], ...]] = (
    (1.9, "walking"),
    (4.5, "running"),
    (float("inf"), "cycling"),
)
"""When speed and cadence leave several sports possible: upper bounds of the median moving speed
(m/s) that pick one of them (below 6.8 km/h walking, below 16.2 km/h running, else cycling)."""

CYCLING_ONLY_P95_MPS: Final = 8.5
"""A 95th-percentile moving speed above this (30.6 km/h) is a vehicle on wheels, not feet."""

POWERED_SHARE: Final = 0.5
"""Power counts as present when at least this share of moving samples carries a non-zero value."""

MIN_EVIDENCE_SAMPLES: Final = 10
"""A channel is evidence only with at least this many moving samples carrying it."""

MAX_HR_EVENT_AGE_S: Final = 5.0
"""A FIT record without heart rate takes that of the last beat a strap stored apart (``hr``
messages: HRM-Swim, HRM-Tri, HRM-Pro) at most this many seconds (s) before it; none older."""
