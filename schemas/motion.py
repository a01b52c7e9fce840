"""When a sample is moving: the two rules every room shares (summaries, load, decoupling).

Stated once here; the activity summaries in ``ingest/`` use them directly and
:class:`transform.load_config.LoadConfig` takes them as the defaults of its own settings.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_HR_EVENT_AGE_S", "MAX_SAMPLE_GAP_S", "MOVING_SPEED_MPS"]

MOVING_SPEED_MPS: Final = 0.5
"""Below this speed (m/s) a sample counts as stopped."""

MAX_SAMPLE_GAP_S: Final = 10.0
"""A gap between samples longer than this (s) is a pause: it counts as neither moving nor load."""

MAX_HR_EVENT_AGE_S: Final = 5.0
"""A FIT record without heart rate takes that of the last beat a strap stored apart (``hr``
messages: HRM-Swim, HRM-Tri, HRM-Pro) at most this many seconds (s) before it; none older."""
