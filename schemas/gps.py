"""How a distance is measured from GPS positions when a file carries none of its own.

Stated once here; the GPX and TCX readers in ``ingest/`` use them (see :mod:`ingest.geo`).
"""

from __future__ import annotations

from typing import Final

__all__ = ["GPS_JITTER_M", "GPS_SMOOTHING_HALF_WINDOW_S"]

GPS_SMOOTHING_HALF_WINDOW_S: Final = 2.0
"""Each position is replaced by the mean of the positions recorded within this many seconds of it
(a centred 5 s window at 1 Hz; points further apart than this are left as they are)."""

GPS_JITTER_M: Final = 3.0
"""Displacement (m) a smoothed position must move from the last counted one before the step counts:
the horizontal accuracy of a consumer GNSS fix in open sky, so that a fix wandering within its own
error while the wearer stands still or moves slowly adds no distance."""
