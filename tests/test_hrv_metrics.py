"""HRV from RR intervals after the artefact filter.

Definitions: Task Force of the ESC and NASPE (1996), Circulation 93:1043 - SDNN (SD of NN
intervals), RMSSD (root mean square of successive differences), pNN50 (share of successive
differences > 50 ms). Expected values worked by hand in the comments.
"""

from __future__ import annotations

import polars as pl
import pytest

from transform.hrv_metrics import hrv_metrics
from transform.load_config import LoadConfig

FEW_BEATS = LoadConfig(hrv_min_beats=5)


def _rr(ms: list[float], *, activity: str = "a1") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "activity_id": [activity] * len(ms),
            "client_id": ["c1"] * len(ms),
            "rr_index": list(range(len(ms))),
            "rr_s": [v / 1000.0 for v in ms],
        }
    )


def test_clean_series() -> None:
    # RR 800, 860, 820, 880, 840 ms (all within 20 % of the previous).
    # Successive differences 60, -40, 60, -40: RMSSD = sqrt((3600+1600+3600+1600)/4)
    #   = sqrt(2600) = 50.990 ms; pNN50 = 2 of 4 > 50 ms = 50 %.
    # SDNN: mean 840, deviations -40, 20, -20, 40, 0 -> 4000 / (5-1) = 1000 -> 31.623 ms.
    out = hrv_metrics(_rr([800, 860, 820, 880, 840]), config=FEW_BEATS).row(0, named=True)
    assert out["hrv_rr_total"] == 5
    assert out["hrv_rr_rejected_pct"] == 0.0
    assert out["hrv_rmssd_ms"] == pytest.approx(50.990, abs=1e-3)
    assert out["hrv_sdnn_ms"] == pytest.approx(31.623, abs=1e-3)
    assert out["hrv_pnn50_pct"] == pytest.approx(50.0)


def test_artefacts_rejected_and_no_difference_across_gaps() -> None:
    # index: 0    1    2    3    4    5     6    7    8
    # RR:    800  860  250  820  880  1300  840  800  860 ms
    # 250 < 300 ms: out of range. 1300 vs 880: +47.7 % > 20 % -> rejected; 840 vs the
    # previous in-range 1300: -35.4 % -> rejected. Kept: 0, 1, 3, 4, 7, 8 -> 3 of 9 rejected
    # = 33.33 %. Adjacent kept pairs (0,1), (3,4), (7,8): differences 60, 60, 60 ->
    # RMSSD 60 ms, pNN50 100 %. SDNN of 800, 860, 820, 880, 800, 860: mean 836.667,
    # squared deviations sum 5933.33, / 5 = 1186.67 -> 34.448 ms.
    out = hrv_metrics(_rr([800, 860, 250, 820, 880, 1300, 840, 800, 860]), config=FEW_BEATS).row(
        0, named=True
    )
    assert out["hrv_rr_total"] == 9
    assert out["hrv_rr_rejected_pct"] == pytest.approx(100 / 3)
    assert out["hrv_rmssd_ms"] == pytest.approx(60.0)
    assert out["hrv_pnn50_pct"] == pytest.approx(100.0)
    assert out["hrv_sdnn_ms"] == pytest.approx(34.448, abs=1e-3)


def test_too_few_beats_gives_null_metrics_but_counts() -> None:
    # Default: at least 20 kept beats.
    out = hrv_metrics(_rr([800, 860, 820, 880, 840])).row(0, named=True)
    assert out["hrv_rr_total"] == 5
    assert out["hrv_rmssd_ms"] is None
    assert out["hrv_sdnn_ms"] is None


def test_all_rejected() -> None:
    out = hrv_metrics(_rr([100, 2500, 150, 3000, 120]), config=FEW_BEATS).row(0, named=True)
    assert out["hrv_rr_rejected_pct"] == 100.0
    assert out["hrv_rmssd_ms"] is None


def test_activities_kept_apart() -> None:
    frame = pl.concat([_rr([800, 860, 820, 880, 840]), _rr([1000] * 5, activity="a2")])
    out = hrv_metrics(frame, config=FEW_BEATS).sort("activity_id")
    assert out["activity_id"].to_list() == ["a1", "a2"]
    # a2: constant RR -> RMSSD 0, SDNN 0 (and no difference spans a1 -> a2).
    assert out["hrv_rmssd_ms"].to_list() == pytest.approx([50.990, 0.0], abs=1e-3)
