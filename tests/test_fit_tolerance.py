"""Issue 16, item 1: what a FIT decoder cannot decode is skipped and counted, never what follows.

Expected values come from fitdecode (a lenient decoder other than ours and fitparse) and from the
corpus catalogs; never from the decoders under test.
"""

from __future__ import annotations

from typing import Any

import fitdecode
import pytest

from ingest.fit import read_fit
from ingest.fit_common import SKIPPED_FLAG
from ingest.fit_fast import DECODER_NAME, read_fit_fast
from tests.conftest import catalog_rows, corpus_bytes

pytestmark = pytest.mark.corpus

COROS = "fitparse__coros-pace-2-cycling-misaligned-fields.fit"
HRV_REDEFINED = ("sports-lib__6909950168.fit", "goldencheetah__IpBike-HRV-Data.fit")
"""hrv.time redefined with 1 to 3 (Suunto) and 1 to 4 (IpBike) values: a 1-value field too."""


def fitdecode_messages(data: bytes, name: str) -> list[dict[str, Any]]:
    """Values of every ``name`` message as fitdecode reads them (bad field sizes as bytes)."""
    out = []
    with fitdecode.FitReader(
        data,
        error_handling=fitdecode.ErrorHandling.IGNORE,
        check_crc=fitdecode.CrcCheck.DISABLED,
    ) as reader:
        for frame in reader:
            if isinstance(frame, fitdecode.FitDataMessage) and frame.name == name:
                out.append({field.name: field.value for field in frame.fields})
    return out


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
