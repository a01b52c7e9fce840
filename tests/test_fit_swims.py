"""Issue 16, item 6: swims get their moving time from lengths and laps, their pool length, and the
session's own start.

Expected values come from fitdecode (``length``, ``lap`` and ``session`` messages of the same files)
and the corpus catalog; never from the code under test. Before the fix the moving time came from a
speed threshold (108 s of a 4,410 s swim).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conftest import corpus_bytes, fitdecode_messages

pytestmark = pytest.mark.corpus

POOL_SWIMS = (
    "goldencheetah__GarminHRMswim.FIT",  # FR920XT, 50 m pool, rests between lengths
    "goldencheetah__2024-10-20-104352-Pool Swim-BingiWatch.fit",  # Apple Watch via Bingi, 25 m
    "fitparse__event_timestamp.fit",  # FR735XT, 25 yd pool, 5 chained headers
)
OPEN_WATER = "goldencheetah__Garmin945swimRRdata.fit"


def messages(name: str, kind: str) -> list[dict[str, Any]]:
    return fitdecode_messages(corpus_bytes(name), kind)


@pytest.mark.parametrize("name", POOL_SWIMS)
def test_pool_swim_moving_time_is_its_active_lengths(name: str, parsed_corpus: Any) -> None:
    lengths = messages(name, "length")
    active = [m for m in lengths if m.get("length_type") == "active"]
    assert active
    expected = sum(m["total_timer_time"] for m in active)
    [session] = messages(name, "session")
    activity = parsed_corpus(name).activities.row(0, named=True)
    assert activity["sport"] == "swimming"
    assert activity["moving_time_s"] == pytest.approx(expected, abs=1e-6)
    assert activity["moving_time_s"] < activity["duration_s"]
    assert activity["pool_length_m"] == pytest.approx(session["pool_length"], abs=1e-9)
    start = session["start_time"].astimezone(dt.UTC)
    assert activity["start_utc"] == start


def test_open_water_swim_moving_time_is_its_laps_timer_time(parsed_corpus: Any) -> None:
    laps = messages(OPEN_WATER, "lap")
    [session] = messages(OPEN_WATER, "session")
    activity = parsed_corpus(OPEN_WATER).activities.row(0, named=True)
    assert not messages(OPEN_WATER, "length")
    expected = sum(lap["total_timer_time"] for lap in laps)
    # the laps' timer sum may pass the records' span by under a second: capped at the duration
    assert activity["moving_time_s"] == pytest.approx(min(expected, activity["duration_s"]))
    assert activity["moving_time_s"] > 0.95 * activity["duration_s"]
    assert activity["pool_length_m"] is None
    assert activity["start_utc"] == session["start_time"].astimezone(dt.UTC)
