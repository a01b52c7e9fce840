"""The same workout from two sources: a FIT swim without heart rate and a TCX of the same session
(sport Other) with heart rate become one activity with both, whichever arrives first.

The files are built here with the project's FIT writer and by hand (TCX); the expected heart
rates are read back from the TCX with the standard library's ElementTree and the expected speeds
are the ones written into the FIT, never values computed by the code under test.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from xml.etree import ElementTree as ET

import polars as pl
import pytest

from ingest.parse import FileResult, parse_file
from pipelines.duplicate_resolution import mark_duplicates, replace_held
from synthetic.fit_writer import FitMessage, FitValue, encode_fit
from transform.source_priority import resolve_copies
from warehouse.store import TableStore
from warehouse.tables import with_sample_partition

T0 = dt.datetime(2026, 3, 2, 7, 0, tzinfo=dt.UTC)
SECONDS = 600
SPEED = [0.8 + 0.001 * (i % 50) for i in range(SECONDS)]
"""Speeds written into the FIT records, m/s."""
DISTANCE = [sum(SPEED[:i]) for i in range(SECONDS)]
TCX_NS = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"


def fit_swim() -> bytes:
    """A pool swim as a watch without a strap records it: speed and distance, no heart rate."""
    end = T0 + dt.timedelta(seconds=SECONDS - 1)
    records = [
        FitMessage(
            "record",
            {
                "timestamp": T0 + dt.timedelta(seconds=i),
                "distance": DISTANCE[i],
                "enhanced_speed": SPEED[i],
            },
        )
        for i in range(SECONDS)
    ]
    session: dict[str, FitValue] = {
        "timestamp": end,
        "start_time": T0,
        "total_elapsed_time": float(SECONDS - 1),
        "total_timer_time": float(SECONDS - 1),
        "total_distance": DISTANCE[-1],
        "sport": "swimming",
        "sub_sport": "lap_swimming",
    }
    return encode_fit(
        [
            FitMessage(
                "file_id", {"type": "activity", "manufacturer": "garmin", "time_created": T0}
            ),
            *records,
            FitMessage("session", session),
            FitMessage(
                "activity",
                {
                    "timestamp": end,
                    "num_sessions": 1,
                    "type": "manual",
                    "event": "activity",
                    "event_type": "stop",
                },
            ),
        ]
    )


def tcx_swim() -> bytes:
    """The same session from another app: sport Other, heart rate, a point every 2 s (0.4 s
    after the FIT's seconds, so that every FIT second has one nearest point)."""
    points = "".join(
        f"<Trackpoint><Time>{(T0 + dt.timedelta(seconds=i + 0.4)).isoformat()}</Time>"
        f"<DistanceMeters>{DISTANCE[i]:.2f}</DistanceMeters>"
        f"<HeartRateBpm><Value>{110 + (i // 10) % 40}</Value></HeartRateBpm></Trackpoint>"
        for i in range(0, SECONDS, 2)
    )
    return (
        f'<?xml version="1.0"?><TrainingCenterDatabase xmlns="{TCX_NS}"><Activities>'
        f'<Activity Sport="Other"><Id>{T0.isoformat()}</Id>'
        f'<Lap StartTime="{T0.isoformat()}"><Track>{points}</Track></Lap></Activity>'
        "</Activities></TrainingCenterDatabase>"
    ).encode()


def tcx_heart_rates(data: bytes) -> dict[dt.datetime, int]:
    """Heart rate by time, read with ElementTree (the oracle)."""
    ns = {"t": TCX_NS}
    out = {}
    for point in ET.fromstring(data).iter(f"{{{TCX_NS}}}Trackpoint"):
        when = dt.datetime.fromisoformat(point.findtext("t:Time", namespaces=ns) or "")
        out[when] = int(point.findtext("t:HeartRateBpm/t:Value", namespaces=ns) or 0)
    return out


def expected_hr(data: bytes) -> list[int]:
    """Each FIT second takes the TCX point nearest in time (at most 1.4 s away)."""
    rates = tcx_heart_rates(data)
    times = sorted(rates)
    out = []
    for i in range(SECONDS):
        t = T0 + dt.timedelta(seconds=i)
        nearest = min(times, key=lambda x: abs((x - t).total_seconds()))
        out.append(rates[nearest])
    return out


def parsed(data: bytes) -> FileResult:
    result = parse_file(data, client_id="c")
    assert result.outcome == "ingested", result.reason_message
    return result


def hold(store: TableStore, result: FileResult) -> None:
    assert result.activities is not None
    assert result.samples is not None
    store.upsert("activities", result.activities)
    store.upsert("samples", with_sample_partition(result.samples, result.activities))


def test_the_two_copies_differ_as_in_the_issue() -> None:
    fit, tcx = parsed(fit_swim()), parsed(tcx_swim())
    assert fit.activities is not None
    assert tcx.activities is not None
    assert fit.activities.select("sport", "has_hr").row(0) == ("swimming", False)
    assert tcx.activities.select("sport", "has_hr").row(0) == ("other", True)


@pytest.mark.parametrize("order", ["together", "fit_held", "tcx_held"])
def test_fit_without_hr_and_tcx_with_hr_become_one_activity_with_both(
    tmp_path: Path, order: str
) -> None:
    store = TableStore(tmp_path / "warehouse")
    fit, tcx = parsed(fit_swim()), parsed(tcx_swim())
    assert fit.activities is not None
    fit_id = fit.activities["activity_id"][0]
    if order == "together":
        new = [fit, tcx]
    else:
        first, new = (fit, [tcx]) if order == "fit_held" else (tcx, [fit])
        hold(store, first)
    replacement = mark_duplicates(new, store)
    replace_held(store, replacement)
    kept = [r for r in new if r.activities is not None and r.activities.height]
    for result in kept:
        hold(store, result)
    activities = store.read("activities")
    assert activities["activity_id"].to_list() == [fit_id]  # one activity: loads counted once
    row = activities.row(0, named=True)
    assert row["sport"] == "swimming"
    assert row["has_hr"] is True
    samples = store.read("samples").sort("elapsed_s")
    want = expected_hr(tcx_swim())
    assert samples["hr_bpm"].to_list() == want
    assert row["hr_mean_bpm"] == pytest.approx(sum(want) / len(want))
    assert row["hr_max_bpm"] == max(want)
    assert samples["speed_mps"].to_list() == pytest.approx(SPEED, abs=1e-3)  # the FIT's own
    assert row["channel_sources"] == "distance_m=fit/file,hr_bpm=tcx/file,speed_mps=fit/file"
    assert "fit/file kept over tcx/file" in row["kept_reason"]
    duplicates = [r for r in new if r.outcome == "duplicate"]
    assert len(duplicates) == (1 if order != "tcx_held" else 0)


def test_two_different_sports_are_never_merged() -> None:
    # Same start, duration and distance, but a run and a ride: both kept.
    fit = parsed(fit_swim())
    ride = parsed(tcx_swim().replace(b'Sport="Other"', b'Sport="Biking"'))
    assert fit.activities is not None
    assert ride.activities is not None
    pool = pl.concat([fit.activities, ride.activities], how="vertical_relaxed")
    assert resolve_copies(pool).dropped == {}
