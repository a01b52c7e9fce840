"""Issue 16, item 1: what a FIT decoder cannot decode is skipped and counted, never what follows.

Expected values come from fitdecode (a lenient decoder other than ours and fitparse) and from the
corpus catalogs; never from the decoders under test.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from ingest.fit import read_fit
from ingest.fit_common import SKIPPED_FLAG
from ingest.fit_fast import DECODER_NAME, read_fit_fast
from tests.conftest import catalog_rows, corpus_bytes, fitdecode_frames, fitdecode_messages

pytestmark = pytest.mark.corpus

COROS = "fitparse__coros-pace-2-cycling-misaligned-fields.fit"
HRV_REDEFINED = ("sports-lib__6909950168.fit", "goldencheetah__IpBike-HRV-Data.fit")
"""hrv.time redefined with 1 to 3 (Suunto) and 1 to 4 (IpBike) values: a 1-value field too."""


def catalog(name: str, *, added: bool) -> dict[str, str]:
    [row] = [row for row in catalog_rows(added=added) if row["name"] == name]
    return row


def test_bad_field_sizes_read_every_record_as_fitdecode_does() -> None:
    """Regression: fitparse stops at a uint32 field declared with 1 byte (1,785 of 11,272)."""
    data = corpus_bytes(COROS)
    records = fitdecode_messages(data, "record")
    assert len(records) == int(catalog(COROS, added=False)["records"]) == 11272
    parsed = read_fit_fast(data)
    assert parsed.decoder == DECODER_NAME
    assert SKIPPED_FLAG in parsed.flags
    [warning] = [w for w in parsed.warnings if "skipped" in w]
    assert "bad field size" in warning
    samples = parsed.activities[0].samples
    assert samples.height == len(records)
    expected_hr = [r.get("heart_rate") or None for r in records]
    assert samples["hr_bpm"].to_list() == expected_hr
    expected_times = [r["timestamp"] for r in records]
    assert samples["timestamp"].to_list() == expected_times


@pytest.mark.parametrize(
    ("name", "read"),
    [
        pytest.param(HRV_REDEFINED[0], read_fit_fast, id="columnar-suunto"),
        pytest.param(HRV_REDEFINED[1], read_fit_fast, id="columnar-ipbike"),
        # the fitparse path on the smaller file only (fitparse is slow)
        pytest.param(HRV_REDEFINED[0], read_fit, id="fitparse-suunto"),
    ],
)
def test_hrv_arrays_of_any_length_decode(name: str, read: Any) -> None:
    """Regression: a 1-value hrv.time (a scalar to fitparse) refused the file or stopped it."""
    data = corpus_bytes(name)
    expected = []
    lengths = set()
    for message in fitdecode_messages(data, "hrv"):
        values = message["time"]
        values = values if isinstance(values, tuple) else (values,)
        lengths.add(len(values))
        expected += [v for v in values if v is not None]
    assert 1 in lengths  # the shape under test is in the file
    row = catalog(name, added=True)
    assert len(expected) == int(row["rr_intervals"])
    parsed = read(data)
    assert not parsed.flags & {"recovered", SKIPPED_FLAG}
    [activity] = parsed.activities
    assert activity.samples.height == int(row["records"])
    assert activity.rr["rr_s"].to_list() == pytest.approx(expected, abs=1e-9)


HRM_SWIM = "goldencheetah__GarminHRMswim.FIT"


@pytest.mark.parametrize("read", [read_fit_fast, read_fit], ids=["columnar", "fitparse"])
def test_hr_messages_fill_the_records_heart_rate(read: Any) -> None:
    """Regression: an HRM-Swim strap stores heart rate in ``hr`` messages only; the swim had none.

    fitdecode expands each message's packed 12-bit event times and its filtered_bpm; its absolute
    anchor differs (it restarts the accumulator per definition), so the records are checked
    against its beats by value and over the same span, not to the millisecond.
    """
    data = corpus_bytes(HRM_SWIM)
    beats: list[tuple[Any, int]] = []
    for message in fitdecode_hr(data):
        beats += [(t, b) for t, b in message if b]
    assert len(beats) > 5000
    records = fitdecode_messages(data, "record")
    assert all(r.get("heart_rate") is None for r in records)  # none in the records themselves
    parsed = read(data)
    samples = parsed.activities[0].samples
    assert samples.height == len(records) == int(catalog(HRM_SWIM, added=True)["records"])
    hr = samples["hr_bpm"]
    assert hr.null_count() == 0
    assert set(hr.to_list()) <= {b for _, b in beats}
    # the records sample the heart rate once a second: their mean is fitdecode's beats' mean
    # weighted by how long each rate held (a beat-weighted mean leans to the faster rates)
    first, last = records[0]["timestamp"], records[-1]["timestamp"]
    in_span = [(t, b) for t, b in beats if first <= t <= last]
    held = [
        ((t_next - t).total_seconds(), b) for (t, b), (t_next, _) in itertools.pairwise(in_span)
    ]
    time_weighted = sum(s * b for s, b in held) / sum(s for s, _ in held)
    assert abs(hr.mean() - time_weighted) < 0.5  # type: ignore[operator]


def fitdecode_hr(data: bytes) -> list[list[tuple[Any, int]]]:
    """Per hr message with packed event times: (event time, bpm) pairs as fitdecode reads them."""
    return [
        list(
            zip(
                [f.value for f in frame.fields if f.name == "event_timestamp"],
                frame.get_value("filtered_bpm"),
                strict=False,
            )
        )
        for frame in fitdecode_frames(data, "hr")
        if frame.has_field("event_timestamp_12")
    ]
