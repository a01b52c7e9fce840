"""Pandera model for the ``activity_metrics`` table (one row per activity)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from schemas.codes import LOAD_SOURCES

__all__ = ["HR_ZONE_COLUMNS", "ActivityMetrics"]

HR_ZONE_COLUMNS: tuple[str, ...] = (
    "hr_zone1_s",
    "hr_zone2_s",
    "hr_zone3_s",
    "hr_zone4_s",
    "hr_zone5_s",
)
"""The time-in-zone columns, zone 1 first (one per ``LoadConfig.edwards_zone_floor_fractions``)."""

_ZONE_RULE = (
    "of the roster HRmax, lower edge included (LoadConfig.edwards_zone_floor_fractions). Each "
    "sample with a valid HR (30-240 bpm) weighs the time to the next sample, capped at "
    "max_sample_gap_s (10 s), as in hr_time_s; HR below 50 % HRmax is in no zone, so the five "
    "zones sum to at most hr_time_s. Null when the activity has no valid HR time or the client "
    "no usable roster HRmax."
)


class ActivityMetrics(pa.DataFrameModel):
    """Per-activity training load, aerobic decoupling and HRV.

    Examples
    --------
    >>> import datetime as dt
    >>> row = {"activity_id": "a1", "client_id": "c1", "local_date": dt.date(2024, 1, 1),
    ...        "sport": "running", "duration_s": 1800.0, "moving_time_s": 1750.0,
    ...        "distance_m": 5000.0, "sampled_time_s": 1799.0, "hr_time_s": 1799.0,
    ...        "hr_coverage": 1.0, "hr_zone1_s": 0.0, "hr_zone2_s": 1197.0,
    ...        "hr_zone3_s": 602.0, "hr_zone4_s": 0.0, "hr_zone5_s": 0.0,
    ...        "trimp_banister": 40.0, "trimp_edwards": 70.0,
    ...        "hrtss": None, "rpe": 4.0, "srpe": 116.7, "load": 40.0,
    ...        "load_source": "banister_trimp", "steady_run": False,
    ...        "ef_first_half_mpm_per_bpm": None, "ef_second_half_mpm_per_bpm": None,
    ...        "efficiency_factor_mpm_per_bpm": None, "decoupling_pct": None,
    ...        "hrv_rr_total": 0, "hrv_rr_rejected_pct": None, "hrv_rmssd_ms": None,
    ...        "hrv_sdnn_ms": None, "hrv_pnn50_pct": None, "config_json": "{}",
    ...        "inputs_sha256": None}
    >>> ActivityMetrics.validate(pl.DataFrame([row])).height
    1
    """

    activity_id: str = pa.Field(
        unique=True,
        str_length={"min_value": 1},
        description="Activity id (as in the activities table).",
    )
    client_id: str = pa.Field(
        str_length={"min_value": 1}, description="Keyed pseudonym of the client."
    )
    local_date: pl.Date = pa.Field(
        nullable=True,
        description="Local calendar date of the activity start (null when the watch clock "
        "was never set; such activities are left out of daily_load).",
    )
    sport: str = pa.Field(str_length={"min_value": 1}, description="Sport of the activity.")
    duration_s: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="Elapsed duration, seconds; null where the activity's was refused (over 7 days).",
    )
    moving_time_s: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="Moving time, seconds; null where the activity's was refused (over 7 days).",
    )
    distance_m: pl.Float64 = pa.Field(nullable=True, ge=0, description="Distance, metres.")
    sampled_time_s: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="Time covered by samples: sum of the time to the next sample, each capped "
        "at max_sample_gap_s (10 s) so pauses do not count. Null without samples.",
    )
    hr_time_s: pl.Float64 = pa.Field(
        nullable=True, ge=0, description="Part of sampled_time_s with a valid HR (30-240 bpm)."
    )
    hr_coverage: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=1, description="hr_time_s / sampled_time_s (0-1)."
    )
    hr_zone1_s: pl.Float64 = pa.Field(
        nullable=True, ge=0, description=f"Seconds in HR zone 1, 50-60 % {_ZONE_RULE}"
    )
    hr_zone2_s: pl.Float64 = pa.Field(
        nullable=True, ge=0, description=f"Seconds in HR zone 2, 60-70 % {_ZONE_RULE}"
    )
    hr_zone3_s: pl.Float64 = pa.Field(
        nullable=True, ge=0, description=f"Seconds in HR zone 3, 70-80 % {_ZONE_RULE}"
    )
    hr_zone4_s: pl.Float64 = pa.Field(
        nullable=True, ge=0, description=f"Seconds in HR zone 4, 80-90 % {_ZONE_RULE}"
    )
    hr_zone5_s: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description=f"Seconds in HR zone 5, 90 % or more (over 100 % included) {_ZONE_RULE}",
    )
    trimp_banister: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="Banister TRIMP (Morton et al. 1990), summed per sample: dt_min * x * k * "
        "exp(b*x), x = (HR-HRrest)/(HRmax-HRrest) clipped to [0,1]; men k=0.64 b=1.92, women "
        "k=0.86 b=1.67, sex x the mean. Arbitrary units.",
    )
    trimp_edwards: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="Edwards TRIMP: minutes in 50-60/60-70/70-80/80-90/90-100 % HRmax times 1-5.",
    )
    hrtss: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="hrTSS, TRIMP-ratio method: trimp_banister / TRIMP of 60 min at LTHR * 100 "
        "(100 = one hour at threshold). Null without a roster lthr.",
    )
    rpe: pl.Float64 = pa.Field(
        nullable=True, ge=0, le=10, description="Post-run CR-10 rating of perceived exertion."
    )
    srpe: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        description="Session-RPE (Foster et al. 2001): rpe * moving minutes (elapsed minutes "
        "when the moving time is 0). Arbitrary units.",
    )
    load: pl.Float64 = pa.Field(
        ge=0,
        description="Load used downstream, TRIMP units: Banister TRIMP when HR covers >= 80 % "
        "of sampled time, else sRPE * 0.5, else moving minutes scored at 55 % HRR.",
    )
    load_source: str = pa.Field(
        isin=LOAD_SOURCES,
        description="Which rung of the load precedence gave `load`: banister_trimp, "
        "srpe_scaled or duration_estimate.",
    )
    steady_run: bool = pa.Field(
        description="True when the run passed the steady-run rule for decoupling (run; after "
        "the first 10 min and stops, >= 30 min left with speed CV <= 0.25)."
    )
    ef_first_half_mpm_per_bpm: pl.Float64 = pa.Field(
        nullable=True, gt=0, description="Efficiency factor of the first half: m/min per bpm."
    )
    ef_second_half_mpm_per_bpm: pl.Float64 = pa.Field(
        nullable=True, gt=0, description="Efficiency factor of the second half: m/min per bpm."
    )
    efficiency_factor_mpm_per_bpm: pl.Float64 = pa.Field(
        nullable=True,
        gt=0,
        description="Efficiency factor (mean speed in m/min / mean HR) of the judged part of a "
        "steady run; null otherwise.",
    )
    decoupling_pct: pl.Float64 = pa.Field(
        nullable=True,
        le=100,
        description="Aerobic decoupling Pa:HR (Friel): (EF first half - EF second half) / EF "
        "first half * 100; positive = HR drifted up relative to pace. Null unless steady_run.",
    )
    hrv_rr_total: pl.Int64 = pa.Field(ge=0, description="RR intervals recorded (0 when none).")
    hrv_rr_rejected_pct: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        le=100,
        description="Share of RR intervals rejected by the artefact filter (outside 0.3-2.0 s "
        "or > 20 % from the previous interval), percent.",
    )
    hrv_rmssd_ms: pl.Float64 = pa.Field(
        nullable=True, ge=0, description="RMSSD of kept, adjacent RR intervals, ms."
    )
    hrv_sdnn_ms: pl.Float64 = pa.Field(
        nullable=True, ge=0, description="SDNN (sample SD) of kept RR intervals, ms."
    )
    hrv_pnn50_pct: pl.Float64 = pa.Field(
        nullable=True,
        ge=0,
        le=100,
        description="Share of successive differences greater than 50 ms, percent.",
    )
    config_json: str = pa.Field(
        description="The LoadConfig used, as JSON (thresholds and constants)."
    )
    inputs_sha256: str = pa.Field(
        nullable=True,
        str_length={"min_value": 64, "max_value": 64},
        description="Bookkeeping, no meaning for analysis: SHA-256 of what the values computed "
        "from the samples (sampled_time_s to hrtss, steady_run to decoupling_pct) were computed "
        "from: the activity's row in activities (which changes when its samples do), the "
        "client's roster sex, hr_rest, hr_max and lthr, the LoadConfig, and a revision number "
        "of the code computing them. A rebuild computes "
        "those values again only where this differs, and takes them from the stored row "
        "otherwise.",
    )

    class Config:
        """Strict and coercing."""

        strict = True
        coerce = True

    @pa.dataframe_check
    @classmethod
    def hr_time_within_sampled_time(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """hr_time_s never exceeds sampled_time_s."""
        return data.lazyframe.select(
            pl.col("hr_time_s").is_null() | (pl.col("hr_time_s") <= pl.col("sampled_time_s") + 1e-6)
        )

    @pa.dataframe_check
    @classmethod
    def hr_zones_within_hr_time(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """The five zones together never exceed hr_time_s."""
        zones = pl.sum_horizontal(HR_ZONE_COLUMNS)
        return data.lazyframe.select(
            pl.col("hr_zone1_s").is_null() | (zones <= pl.col("hr_time_s") + 1e-6)
        )

    @pa.dataframe_check
    @classmethod
    def decoupling_only_on_steady_runs(cls, data: pa.PolarsData) -> pl.LazyFrame:
        """Decoupling is only reported for steady runs."""
        return data.lazyframe.select(pl.col("decoupling_pct").is_null() | pl.col("steady_run"))
