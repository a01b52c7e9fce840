"""Aerobic decoupling (Pa:HR) and efficiency factor.

Definition (Friel, "The Training Bible"; TrainingPeaks Pa:HR): EF = pace / HR per half,
decoupling = (EF first half - EF second half) / EF first half * 100. Expected values are
worked by hand in the comments.
"""

from __future__ import annotations

import polars as pl
import pytest

from transform.decoupling import decoupling_metrics


def _run(segments: list[tuple[int, float, int]], *, activity: str = "a1") -> pl.DataFrame:
    """1 Hz samples from (seconds, speed m/s, HR) segments."""
    speed: list[float] = []
    hr: list[int] = []
    for seconds, v, bpm in segments:
        speed += [v] * seconds
        hr += [bpm] * seconds
    n = len(speed)
    return pl.DataFrame(
        {
            "activity_id": [activity] * n,
            "client_id": ["c1"] * n,
            "timestamp": [None] * n,
            "elapsed_s": [float(i) for i in range(n)],
            "speed_mps": speed,
            "hr_bpm": hr,
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC"), "hr_bpm": pl.Int16},
    )


def _activities(sport: str = "running", activity: str = "a1") -> pl.DataFrame:
    return pl.DataFrame({"activity_id": [activity], "client_id": ["c1"], "sport": [sport]})


def test_hr_drift_on_steady_hour() -> None:
    # 10 min warm-up (dropped), then 25 min at 3.0 m/s & HR 140, then 25 min + 1 s at 150.
    # Remainder = 3000 s; halves of 1500 s each.
    # EF1 = 180 m/min / 140 = 1.285714; EF2 = 180 / 150 = 1.2
    # decoupling = (1.285714 - 1.2) / 1.285714 * 100 = (1 - 140/150) * 100 = 6.6667 %
    # EF of the remainder = 180 / 145 = 1.241379
    samples = _run([(600, 2.5, 120), (1500, 3.0, 140), (1501, 3.0, 150)])
    out = decoupling_metrics(samples, _activities()).row(0, named=True)
    assert out["steady_run"] is True
    assert out["ef_first_half_mpm_per_bpm"] == pytest.approx(1.285714, abs=1e-6)
    assert out["ef_second_half_mpm_per_bpm"] == pytest.approx(1.2)
    assert out["efficiency_factor_mpm_per_bpm"] == pytest.approx(1.241379, abs=1e-6)
    assert out["decoupling_pct"] == pytest.approx(6.6667, abs=1e-4)


def test_stops_are_excluded() -> None:
    # Same run with a 5-minute stop (speed 0, HR 100) inside each half: the stopped samples
    # are dropped, so halves and result are unchanged: 6.6667 %.
    samples = _run(
        [
            (600, 2.5, 120),
            (700, 3.0, 140),
            (300, 0.0, 100),
            (800, 3.0, 140),
            (800, 3.0, 150),
            (300, 0.2, 100),
            (701, 3.0, 150),
        ]
    )
    out = decoupling_metrics(samples, _activities()).row(0, named=True)
    assert out["decoupling_pct"] == pytest.approx(6.6667, abs=1e-4)


def test_negative_decoupling_when_hr_falls() -> None:
    # HR 150 then 140 at the same pace: (1/150 - 1/140) / (1/150) * 100 = (1 - 150/140) * 100
    # = -7.1429 %
    samples = _run([(600, 2.5, 120), (1500, 3.0, 150), (1501, 3.0, 140)])
    out = decoupling_metrics(samples, _activities()).row(0, named=True)
    assert out["decoupling_pct"] == pytest.approx(-7.1429, abs=1e-4)


def test_short_run_not_judged() -> None:
    # 35 min total: 25 min left after the warm-up < 30 min -> not steady, all null.
    samples = _run([(600, 2.5, 120), (1501, 3.0, 140)])
    out = decoupling_metrics(samples, _activities()).row(0, named=True)
    assert out["steady_run"] is False
    assert out["decoupling_pct"] is None
    assert out["efficiency_factor_mpm_per_bpm"] is None


def test_interval_session_not_steady() -> None:
    # Alternating 1 min at 2 m/s and 1 min at 5 m/s: mean 3.5, SD 1.5, CV 0.43 > 0.25.
    segments = [(600, 2.5, 120)] + [(60, 2.0, 140), (60, 5.0, 170)] * 25 + [(1, 2.0, 140)]
    out = decoupling_metrics(_run(segments), _activities()).row(0, named=True)
    assert out["steady_run"] is False
    assert out["decoupling_pct"] is None


def test_only_runs_are_judged() -> None:
    samples = _run([(600, 2.5, 120), (1500, 3.0, 140), (1501, 3.0, 150)])
    assert decoupling_metrics(samples, _activities("cycling")).height == 0


def test_run_without_hr_not_steady() -> None:
    samples = _run([(3601, 3.0, 0)])
    out = decoupling_metrics(samples, _activities()).row(0, named=True)
    assert out["steady_run"] is False
