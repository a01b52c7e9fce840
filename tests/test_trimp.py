"""Per-activity load: Banister/Edwards TRIMP, hrTSS, session-RPE, load precedence.

Expected values are worked by hand from the published formulas (arithmetic in the
comments, e^x from a pocket calculator), never by running the code under test.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import polars as pl
import pytest

from schemas.activity_metrics import ActivityMetrics
from schemas.codes import LOAD_SOURCES
from transform.decoupling import decoupling_metrics
from transform.hrv_metrics import hrv_metrics
from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig
from transform.trimp import (
    _load_sources,
    activity_metrics,
    hr_load,
    session_rpe,
    with_load,
    with_sample_dt,
)

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
FENIX2 = CORPUS / "files" / "fitparse__activity-small-fenix2-run.fit"


def _samples(hr: list[int | None], *, step_s: float = 10.0, activity: str = "a1") -> pl.DataFrame:
    """Samples every ``step_s`` seconds with the given HR (client ``c1``)."""
    n = len(hr)
    return pl.DataFrame(
        {
            "activity_id": [activity] * n,
            "client_id": ["c1"] * n,
            "timestamp": [None] * n,
            "elapsed_s": [i * step_s for i in range(n)],
            "hr_bpm": hr,
            "speed_mps": [3.0] * n,
            "distance_m": [i * step_s * 3.0 for i in range(n)],
        },
        schema_overrides={"timestamp": pl.Datetime("us", "UTC"), "hr_bpm": pl.Int16},
    )


def _roster(sex: str = "m", *, lthr: float | None = None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "client_id": ["c1"],
            "sex": [sex],
            "birth_year": [1990],
            "hr_rest": [60.0],
            "hr_max": [180.0],
            "timezone": ["Europe/Oslo"],
            "lthr": [lthr],
        },
        schema_overrides={"lthr": pl.Float64},
    )


# --- Banister TRIMP -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sex", "expected"),
    [
        # Morton, Fitz-Clarke & Banister 1990 (J Appl Physiol 69:1171): TRIMP = min * x * k e^(bx)
        # 30 min at HR 150, HRrest 60, HRmax 180: x = (150-60)/(180-60) = 0.75
        # men   k=0.64 b=1.92:  30 * 0.75 * 0.64 * e^1.44   = 14.4   * 4.220696 = 60.7780
        ("m", 60.7780),
        # women k=0.86 b=1.67:  30 * 0.75 * 0.86 * e^1.2525 = 19.35  * 3.499080 = 67.7072
        ("f", 67.7072),
        # sex x, mean of both k=0.75 b=1.795: 30 * 0.75 * 0.75 * e^1.34625 = 16.875 * 3.842987
        ("x", 64.8504),
    ],
)
def test_banister_trimp_constant_hr_by_sex(sex: str, expected: float) -> None:
    # 181 samples 10 s apart = 180 intervals = 30 min; the last sample counts 0.
    out = hr_load(_samples([150] * 181), _roster(sex))
    assert out["trimp_banister"][0] == pytest.approx(expected, abs=1e-3)
    assert out["sampled_time_s"][0] == 1800.0
    assert out["hr_coverage"][0] == 1.0


def test_banister_hr_clipped_to_reserve() -> None:
    # HR 50 < HRrest: x clipped to 0 -> 0. HR 200 > HRmax: x clipped to 1 ->
    # 0.64 * e^1.92 = 0.64 * 6.820958 = 4.36541 per minute; 10 min -> 43.6541.
    below = hr_load(_samples([50] * 61), _roster("m"))
    above = hr_load(_samples([200] * 61), _roster("m"))
    assert below["trimp_banister"][0] == 0.0
    assert above["trimp_banister"][0] == pytest.approx(43.6541, abs=1e-3)


def test_pause_counts_at_most_the_gap_cap() -> None:
    # 0..600 s every 10 s, pause, then 900..1500 s every 10 s (HR 150 throughout).
    # dt: 60 * 10 s + capped gap 10 s + 60 * 10 s + last 0 = 1210 s = 20.1667 min.
    # TRIMP = 20.1667 * 0.75 * 0.64 * e^1.44 = 20.1667 * 2.025934 = 40.8563
    first = _samples([150] * 61)
    second = _samples([150] * 61).with_columns(pl.col("elapsed_s") + 900.0)
    out = hr_load(pl.concat([first, second]), _roster("m"))
    assert out["sampled_time_s"][0] == 1210.0
    assert out["trimp_banister"][0] == pytest.approx(40.8563, abs=1e-3)


def test_sample_dt_from_timestamps_when_elapsed_missing() -> None:
    t0 = dt.datetime(2024, 1, 1, 8, tzinfo=dt.UTC)
    frame = pl.DataFrame(
        {
            "activity_id": ["a"] * 3,
            "timestamp": [t0 + dt.timedelta(seconds=s) for s in (4, 0, 2)],  # out of order
            "elapsed_s": [None, None, None],
        },
        schema_overrides={"elapsed_s": pl.Float64},
    )
    assert with_sample_dt(frame)["dt_s"].to_list() == [2.0, 2.0, 0.0]


def test_no_valid_hr_gives_null_trimp_and_zero_coverage() -> None:
    out = hr_load(_samples([None, 0, None, 255]), _roster("m"))
    assert out["trimp_banister"][0] is None
    assert out["trimp_edwards"][0] is None
    assert out["hr_coverage"][0] == 0.0


def test_client_missing_from_roster_gives_null_trimp() -> None:
    out = hr_load(_samples([150] * 10), _roster("m").with_columns(client_id=pl.lit("other")))
    assert out["trimp_banister"][0] is None


# --- Edwards TRIMP ------------------------------------------------------------------


def test_edwards_zones_and_weights() -> None:
    # Edwards 1993 (The Heart Rate Monitor Book): minutes in 50-60/60-70/70-80/80-90/90-100 %
    # HRmax weighted 1..5. HRmax 180, 10 min (60 intervals of 10 s) each at:
    # 81 bpm = 45 % -> 0; 99 = 55 % -> 1; 108 = 60 % exactly -> zone 2 (lower edge inclusive);
    # 135 = 75 % -> 3; 153 = 85 % -> 4; 171 = 95 % -> 5.
    # Edwards = 10 * (0 + 1 + 2 + 3 + 4 + 5) = 150.
    hr: list[int | None] = []
    for bpm in (81, 99, 108, 135, 153, 171):
        hr += [bpm] * 60
    out = hr_load(_samples([*hr, 171]), _roster("m"))
    assert out["trimp_edwards"][0] == pytest.approx(150.0)


# --- hrTSS --------------------------------------------------------------------------


def test_hrtss_one_hour_at_threshold_is_100() -> None:
    # By the definition of the TRIMP-ratio method: 60 min at LTHR scores exactly 100.
    out = hr_load(_samples([165] * 361), _roster("m", lthr=165.0))
    assert out["hrtss"][0] == pytest.approx(100.0)


def test_hrtss_ratio_method() -> None:
    # LTHR 165: x_L = (165-60)/120 = 0.875; TRIMP(60 min at LTHR) = 60*0.875*0.64*e^1.68
    #   = 33.6 * 5.365556 = 180.2827.  30 min at 150 = 60.7780 (see above).
    # hrTSS = 60.7780 / 180.2827 * 100 = 33.7126
    out = hr_load(_samples([150] * 181), _roster("m", lthr=165.0))
    assert out["hrtss"][0] == pytest.approx(33.7126, abs=1e-3)


def test_hrtss_null_without_lthr() -> None:
    assert hr_load(_samples([150] * 181), _roster("m"))["hrtss"][0] is None


# --- session-RPE --------------------------------------------------------------------


def test_session_rpe_foster() -> None:
    # Foster et al. 2001 (J Strength Cond Res 15:109): sRPE = CR-10 rating x minutes.
    # a: RPE 6 x 45 moving min = 270; b: moving time 0 -> elapsed 20 min x 3 = 60;
    # c: rating 11 is off the CR-10 scale -> ignored; d: two ratings 4 and 6 -> mean 5 x 30 = 150.
    activities = pl.DataFrame(
        {
            "activity_id": ["a", "b", "c", "d"],
            "duration_s": [3000.0, 1200.0, 1800.0, 1800.0],
            "moving_time_s": [2700.0, 0.0, 1800.0, 1800.0],
        }
    )
    rpe = pl.DataFrame({"activity_id": ["a", "b", "c", "d", "d"], "rpe": [6.0, 3.0, 11.0, 4, 6]})
    out = session_rpe(activities, rpe).sort("activity_id")
    assert out["activity_id"].to_list() == ["a", "b", "d"]
    assert out["srpe"].to_list() == pytest.approx([270.0, 60.0, 150.0])


# --- load precedence ----------------------------------------------------------------


def test_load_precedence() -> None:
    frame = pl.DataFrame(
        {
            "trimp_banister": [60.0, 60.0, None, None],
            "hr_coverage": [0.95, 0.5, None, None],
            "srpe": [None, 240.0, 240.0, None],
            "duration_s": [1800.0] * 4,
            "moving_time_s": [1800.0] * 4,
            "sex": ["m", "m", "m", "m"],
        }
    )
    out = with_load(frame)
    # 1. HR covers 95 % >= 80 %: Banister TRIMP 60.
    # 2. HR covers 50 %: sRPE 240 * 0.5 = 120.
    # 3. no HR: sRPE 240 * 0.5 = 120.
    # 4. nothing: 30 moving min at 55 % HRR, men: 30 * 0.55 * 0.64 * e^(1.92*0.55)
    #    = 10.56 * e^1.056 = 10.56 * 2.874849 = 30.3584
    assert out["load_source"].to_list() == [
        "banister_trimp",
        "srpe_scaled",
        "srpe_scaled",
        "duration_estimate",
    ]
    assert out["load"].to_list() == pytest.approx([60.0, 120.0, 120.0, 30.3584], abs=1e-3)
    assert set(out["load_source"]) <= set(LOAD_SOURCES)


def test_duration_estimate_unknown_sex_uses_mean_constants() -> None:
    # k=0.75, b=1.795: 30 * 0.55 * 0.75 * e^(0.98725) = 12.375 * 2.683865 = 33.2128
    frame = pl.DataFrame(
        {
            "trimp_banister": [None],
            "hr_coverage": [None],
            "srpe": [None],
            "duration_s": [1800.0],
            "moving_time_s": [1800.0],
            "sex": [None],
        },
        schema_overrides={
            "trimp_banister": pl.Float64,
            "hr_coverage": pl.Float64,
            "srpe": pl.Float64,
            "sex": pl.Utf8,
        },
    )
    assert with_load(frame)["load"][0] == pytest.approx(33.2128, abs=1e-3)


def test_activity_metrics_table_validates() -> None:
    activities = pl.DataFrame(
        {
            "activity_id": ["a1", "a2"],
            "client_id": ["c1", "c1"],
            "sport": ["running", "walking"],
            "local_date": [dt.date(2024, 1, 1), None],
            "duration_s": [1800.0, 600.0],
            "moving_time_s": [1800.0, 600.0],
            "distance_m": [5400.0, None],
        }
    )
    samples = _samples([150] * 181)
    hrv = pl.DataFrame(
        {
            "activity_id": ["a1"] * 3,
            "client_id": ["c1"] * 3,
            "rr_index": [0, 1, 2],
            "rr_s": [0.8, 0.81, 0.8],
        }
    )
    roster = _roster("m", lthr=165.0)
    out = activity_metrics(
        activities,
        roster,
        hr_loads=hr_load(samples, roster),
        rpe=pl.DataFrame({"activity_id": ["a2"], "rpe": [2.0]}),
        decoupling=decoupling_metrics(samples, activities),
        hrv=hrv_metrics(hrv),
    )
    validated = ActivityMetrics.validate(out, lazy=True)
    rows = {r["activity_id"]: r for r in validated.iter_rows(named=True)}
    assert rows["a1"]["load_source"] == "banister_trimp"
    assert rows["a1"]["load"] == pytest.approx(60.7780, abs=1e-3)
    # a2: no samples; sRPE 2 x 10 min = 20, scaled by 0.5 -> 10.
    assert rows["a2"]["load_source"] == "srpe_scaled"
    assert rows["a2"]["load"] == pytest.approx(10.0)
    assert rows["a2"]["hrv_rr_total"] == 0
    assert rows["a1"]["hrv_rr_total"] == 3
    assert rows["a1"]["config_json"] == DEFAULT_LOAD_CONFIG.to_json()


def test_activity_metrics_without_optional_inputs_validates() -> None:
    activities = pl.DataFrame(
        {
            "activity_id": ["a1"],
            "client_id": ["c1"],
            "sport": ["running"],
            "local_date": [dt.date(2024, 1, 1)],
            "duration_s": [1800.0],
            "moving_time_s": [1800.0],
            "distance_m": [5400.0],
        }
    )
    roster = _roster("f")
    out = activity_metrics(activities, roster, hr_loads=hr_load(_samples([150] * 181), roster))
    assert ActivityMetrics.validate(out).height == 1


def test_activity_metrics_of_an_activity_whose_duration_was_refused() -> None:
    # A session paused for weeks keeps its records but not its duration (null, values_refused):
    # the load stands on the moving time. 30 moving min at 55 % HRR, men (as above): 30.3584.
    activities = pl.DataFrame(
        {
            "activity_id": ["a1"],
            "client_id": ["c1"],
            "sport": ["cycling"],
            "local_date": [dt.date(2021, 6, 20)],
            "duration_s": [None],
            "moving_time_s": [1800.0],
            "distance_m": [56911.91],
        },
        schema_overrides={"duration_s": pl.Float64},
    )
    roster = _roster("m")
    no_hr = _samples([None] * 181)
    out = activity_metrics(activities, roster, hr_loads=hr_load(no_hr, roster))
    row = ActivityMetrics.validate(out).row(0, named=True)
    assert (row["duration_s"], row["moving_time_s"]) == (None, 1800.0)
    assert row["load_source"] == "duration_estimate"
    assert row["load"] == pytest.approx(30.3584, abs=1e-3)


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="acwr_chronic_days"):
        LoadConfig(acwr_acute_days=28, acwr_chronic_days=7)


# --- real device file ---------------------------------------------------------------


@pytest.mark.corpus
@pytest.mark.skipif(
    not FENIX2.exists(),
    reason="needs ../shared/corpus (real-device FIT files); absent on a fresh clone",
)
def test_banister_trimp_of_fenix2_run_matches_independent_loop() -> None:
    """Banister TRIMP of a real fenix 2 run vs a plain per-sample loop over fitparse's HR."""
    import fitparse

    hr_rest, hr_max = 55.0, 185.0  # stated for this test (a man)
    k, b = 0.64, 1.92
    records = [
        (m.get_value("timestamp"), m.get_value("heart_rate"))
        for m in fitparse.FitFile(str(FENIX2)).get_messages("record")
    ]
    assert len(records) == 2809  # catalog.csv: 2809 records

    # Independent computation: each record weighs the seconds to the next record (capped at
    # 10 s, the last record weighs 0); HR outside 30-240 bpm or missing contributes nothing.
    expected = 0.0
    for i in range(len(records) - 1):
        t, hr = records[i]
        dt_s = min((records[i + 1][0] - t).total_seconds(), 10.0)
        if hr is None or not 30 <= hr <= 240:
            continue
        x = (hr - hr_rest) / (hr_max - hr_rest)
        x = min(max(x, 0.0), 1.0)
        expected += dt_s / 60.0 * x * k * math.exp(b * x)

    t0 = records[0][0]
    samples = pl.DataFrame(
        {
            "activity_id": ["fenix2"] * len(records),
            "client_id": ["c1"] * len(records),
            "timestamp": [t.replace(tzinfo=dt.UTC) for t, _ in records],
            "elapsed_s": [(t - t0).total_seconds() for t, _ in records],
            "hr_bpm": [hr for _, hr in records],
        },
        schema_overrides={"hr_bpm": pl.Int16},
    )
    roster = _roster("m").with_columns(hr_rest=pl.lit(hr_rest), hr_max=pl.lit(hr_max))
    out = hr_load(samples, roster)
    assert expected > 50.0  # a 47-minute run at 69-178 bpm: a sanity bound
    assert out["trimp_banister"][0] == pytest.approx(expected, rel=1e-9)


def test_load_precedence_names_are_the_schema_codes() -> None:
    """The ``load_source`` rungs ``with_load`` applies are exactly the codes the schema allows."""
    assert tuple(source.name for source in _load_sources(DEFAULT_LOAD_CONFIG)) == LOAD_SOURCES
