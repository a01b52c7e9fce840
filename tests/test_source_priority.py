"""Cross-source copies of one run: matching and the richer-source rule, on hand-made rows.

Every expected value below is worked out by hand from the rows written here.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import polars as pl
import pytest

from transform.source_priority import resolve_copies, same_run

T0 = dt.datetime(2025, 3, 3, 6, 42, 10, tzinfo=dt.UTC)


def row(activity_id: str, fmt: str, kind: str, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "activity_id": activity_id,
        "client_id": "c1",
        "sport": "running",
        "start_utc": T0,
        "duration_s": 1800.0,
        "distance_m": 5000.0,
        "source_format": fmt,
        "source_kind": kind,
        "source_type": None,
        "perceived_exertion": None,
        "n_samples": 1800,
        "has_hr": True,
        "has_gps": True,
    }
    return {**base, **changes}


def frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema_overrides={"source_type": pl.String, "perceived_exertion": pl.Float64}
    )


FIT = row("f1", "fit", "garmin")
TCX = row(
    "t1",
    "tcx",
    "strava",
    start_utc=T0 + dt.timedelta(seconds=2),
    perceived_exertion=6.0,
    source_type="Run",
)
GPX = row("g1", "gpx", "strava", start_utc=T0 + dt.timedelta(seconds=1), distance_m=5600.0)
APPLE = row("a1", "apple_health", "apple", start_utc=T0 - dt.timedelta(seconds=30), n_samples=360)
MANUAL = row("m1", "manual", "strava", n_samples=0, has_hr=False, has_gps=False)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"start_utc": T0 + dt.timedelta(seconds=60)}, True),  # tolerance is inclusive
        ({"start_utc": T0 + dt.timedelta(seconds=61)}, False),
        ({"sport": "walking"}, False),
        ({"client_id": "c2"}, False),
        ({"duration_s": 1980.0}, True),  # 180 s = 9.1 % of 1980 s
        ({"duration_s": 2040.0}, False),  # 240 s = 11.8 % of 2040 s, and > 120 s
        ({"duration_s": 1700.0, "distance_m": 6500.0}, True),  # 1500 m = 23 % of 6500 m
        ({"distance_m": 7000.0}, False),  # 2000 m = 28.6 % of 7000 m, and > 500 m
        ({"distance_m": None}, True),  # an absent value is not checked
        ({"start_utc": None}, False),  # no clock, no match
    ],
)
def test_same_run(changes: dict[str, Any], expected: bool) -> None:
    assert same_run(FIT, {**FIT, "activity_id": "x", **changes}) is expected


def test_fit_wins_over_every_other_source_and_takes_the_strava_exertion() -> None:
    result = resolve_copies(frame([APPLE, MANUAL, GPX, TCX, FIT]))
    assert result.dropped == {"a1": "f1", "m1": "f1", "g1": "f1", "t1": "f1"}
    assert result.kept.rows(named=True) == [
        {
            "activity_id": "f1",
            "kept_reason": (
                "fit/garmin kept over tcx/strava, gpx/strava, apple_health/apple, manual/strava: "
                "richer format"
            ),
            "perceived_exertion": 6.0,
            "source_kind": "garmin",
            "source_type": None,
            "sport": "running",
        }
    ]
    assert result.donors == {
        "f1": [
            ("t1", "tcx/strava"),
            ("g1", "gpx/strava"),
            ("a1", "apple_health/apple"),
            ("m1", "manual/strava"),
        ]
    }


def test_order_of_arrival_never_changes_the_choice() -> None:
    rows = [APPLE, MANUAL, GPX, TCX, FIT]
    outcomes = set()
    for order in itertools.permutations(rows):
        result = resolve_copies(frame(list(order)))
        outcomes.add((tuple(sorted(result.dropped.items())), tuple(result.kept.rows())))
    assert len(outcomes) == 1


def test_within_one_format_more_samples_then_hr_then_id() -> None:
    a = row("b2", "gpx", "strava", n_samples=900)
    b = row("b1", "gpx", "file", n_samples=1000)
    assert resolve_copies(frame([a, b])).dropped == {"b2": "b1"}
    assert resolve_copies(frame([a, b])).kept["kept_reason"].to_list() == [
        "gpx/file kept over gpx/strava: more samples"
    ]
    c = row("c2", "gpx", "strava", has_hr=False)
    d = row("c1", "gpx", "strava", has_hr=True)
    assert resolve_copies(frame([c, d])).dropped == {"c2": "c1"}
    e, f = row("e2", "gpx", "strava"), row("e1", "gpx", "file")
    result = resolve_copies(frame([e, f]))
    assert result.dropped == {"e2": "e1"}
    assert result.kept["kept_reason"].to_list() == ["gpx/file kept over gpx/strava: same content"]


def test_identical_bytes_from_two_exports_are_one_activity() -> None:
    strava_copy = {**FIT, "source_kind": "strava", "perceived_exertion": 4.0, "source_type": "Run"}
    result = resolve_copies(frame([strava_copy, FIT]))
    assert result.dropped == {}
    assert result.kept.rows() == [("f1", None, 4.0, "garmin", None, "running")]


def test_different_runs_are_left_alone() -> None:
    morning = row("r1", "fit", "garmin")
    evening = row("r2", "gpx", "strava", start_utc=T0 + dt.timedelta(hours=9))
    warmup = row(
        "r3",
        "gpx",
        "strava",
        start_utc=T0 + dt.timedelta(seconds=30),
        duration_s=600.0,
        distance_m=1500.0,
    )
    result = resolve_copies(frame([morning, evening, warmup]))
    assert result.dropped == {}
    assert result.kept.height == 0


def test_copies_group_transitively() -> None:
    # a-b 50 s apart, b-c 50 s apart, a-c 100 s apart: one run seen three times
    a = row("x1", "gpx", "strava")
    b = row("x2", "fit", "garmin", start_utc=T0 + dt.timedelta(seconds=50))
    c = row("x3", "apple_health", "apple", start_utc=T0 + dt.timedelta(seconds=100))
    assert resolve_copies(frame([a, b, c])).dropped == {"x1": "x2", "x3": "x2"}


@pytest.mark.parametrize(
    ("other_sport", "changes", "matched"),
    [
        ("other", {}, True),  # a TCX "Other" copy of a swim
        ("unknown", {}, True),  # a GPX whose sport could not be inferred
        ("cycling", {}, False),  # two named sports that differ: never one workout
        ("other", {"distance_m": None}, False),  # generic: duration and distance both needed
        ("other", {"duration_s": 3600.0}, False),
    ],
)
def test_copies_match_across_a_generic_sport(
    other_sport: str, changes: dict[str, Any], matched: bool
) -> None:
    swim = row("f1", "fit", "file", sport="swimming", has_hr=False)
    copy = row("t1", "tcx", "file", sport=other_sport, **changes)
    result = resolve_copies(frame([copy, swim]))
    assert result.dropped == ({"t1": "f1"} if matched else {})
    if matched:
        # The kept FIT keeps its specific sport; the TCX is its donor.
        assert result.kept.select("activity_id", "sport").rows() == [("f1", "swimming")]
        assert result.donors == {"f1": [("t1", "tcx/file")]}
