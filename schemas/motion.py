"""When a sample is moving: the two rules every room shares (summaries, load, decoupling).

Stated once here; the activity summaries in ``ingest/`` use them directly and
:class:`transform.load_config.LoadConfig` takes them as the defaults of its own settings.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_SAMPLE_GAP_S", "MOVING_SPEED_MPS"]

MOVING_SPEED_MPS: Final = 0.5
"""Below this speed (m/s) a sample counts as stopped."""

MAX_SAMPLE_GAP_S: Final = 10.0
"""A gap between samples longer than this (s) is a pause: it counts as neither moving nor load."""
