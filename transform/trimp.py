"""Per-activity training load: Banister and Edwards TRIMP, hrTSS, session-RPE, ``load``.

All functions are pure: frames in, frames out, no I/O and no clock.

Formulas
--------
Sample time
    Each sample counts for ``dt`` = the time to the next sample of the same
    activity (from ``elapsed_s``, else ``timestamp``), capped at
    ``LoadConfig.max_sample_gap_s`` (10 s) so pauses do not count; the last sample
    counts 0.  Samples whose HR is null or outside 30-240 bpm contribute nothing.
Banister TRIMP (Morton, Fitz-Clarke & Banister 1990)
    ``TRIMP = sum(dt_min * x * k * exp(b * x))`` over samples, with heart-rate reserve
    ``x = (HR - HRrest) / (HRmax - HRrest)`` from the roster, clipped to [0, 1]
    (HR below rest scores 0, HR above the roster maximum scores as the maximum).
    Men k=0.64, b=1.92; women k=0.86, b=1.67; sex "x" (or unknown) the mean of
    both, k=0.75, b=1.795.
Edwards TRIMP (Edwards 1993)
    Minutes in the bands 50-60, 60-70, 70-80, 80-90, 90-100 % of HRmax weighted 1..5
    (a band includes its lower edge; >= 100 % counts as band 5; < 50 % counts 0).
Time in heart-rate zones (``hr_zone1_s`` ... ``hr_zone5_s``)
    Seconds of valid-HR sample time (the same ``dt`` as above) in each of the five
    Edwards bands, zone ``n`` being the band of weight ``n``; time below 50 % HRmax
    is in no zone, so the zones add up to at most ``hr_time_s``.  Null where Edwards
    TRIMP is null (no valid HR time, or no usable roster HRmax).
hrTSS (TRIMP-ratio method)
    ``hrTSS = TRIMP_activity / TRIMP_of_60_min_at_LTHR * 100`` where
    ``TRIMP_of_60_min_at_LTHR = 60 * x_L * k * exp(b * x_L)`` and
    ``x_L = (LTHR - HRrest) / (HRmax - HRrest)``; null without a roster ``lthr``.
session-RPE (Foster et al. 2001)
    ``sRPE = CR-10 rating * minutes``; minutes are the moving time (elapsed
    duration when the moving time is 0), so a watch left running after the run
    does not inflate it.  Ratings outside 0-10 are ignored.
``load`` precedence (``load_source``)
    1. ``banister_trimp`` when Banister TRIMP exists and valid HR covers at least
       80 % of the sampled time;
    2. ``srpe_scaled``: ``sRPE * 0.5`` (``LoadConfig.srpe_to_trimp_factor``);
    3. ``duration_estimate``: the moving time scored with the Banister formula at
       an assumed 55 % of heart-rate reserve (sex constants from the roster).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from schemas.activity_metrics import HR_ZONE_COLUMNS, ActivityMetrics
from schemas.base import column_names
from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig

__all__ = [
    "ACTIVITY_METRICS_COLUMNS",
    "DECOUPLING_COLUMNS",
    "HR_LOAD_COLUMNS",
    "HR_LOAD_ROSTER_COLUMNS",
    "LoadSource",
    "activity_metrics",
    "banister_trimp_value",
    "hr_load",
    "session_rpe",
    "threshold_hour_load",
    "with_load",
    "with_sample_dt",
]


def banister_trimp_value(minutes: float, x: float, *, k: float, b: float) -> float:
    """Banister TRIMP of ``minutes`` spent at heart-rate-reserve fraction ``x``.

    Parameters
    ----------
    minutes
        Duration in minutes.
    x
        Heart-rate reserve fraction, clipped to [0, 1].
    k, b
        Sex-specific weighting constants.

    Returns
    -------
    float
        ``minutes * x * k * exp(b * x)``.

    Examples
    --------
    >>> round(banister_trimp_value(30.0, 0.5, k=0.64, b=1.92), 3)
    25.072
    """
    x = min(max(x, 0.0), 1.0)
    return minutes * x * k * math.exp(b * x)


def with_sample_dt(
    samples: pl.DataFrame, *, config: LoadConfig = DEFAULT_LOAD_CONFIG
) -> pl.DataFrame:
    """Sort samples and add ``t_s`` (seconds from start) and ``dt_s`` (capped).

    Parameters
    ----------
    samples
        The samples table (``activity_id``, ``elapsed_s``, ``timestamp``, ...).
    config
        Uses ``max_sample_gap_s``.

    Returns
    -------
    pl.DataFrame
        The samples sorted by activity and time, with ``t_s`` and ``dt_s``: the
        time to the next sample, capped at ``max_sample_gap_s``, 0 for the last.

    Examples
    --------
    >>> df = pl.DataFrame({"activity_id": ["a"] * 3, "elapsed_s": [0.0, 1.0, 61.0],
    ...                    "timestamp": [None, None, None]})
    >>> with_sample_dt(df)["dt_s"].to_list()
    [1.0, 10.0, 0.0]
    """
    ts = pl.col("timestamp").cast(pl.Datetime("us", "UTC"))
    t_from_ts = (ts - ts.min().over("activity_id")).dt.total_microseconds() / 1e6
    t_s = pl.coalesce(pl.col("elapsed_s").cast(pl.Float64), t_from_ts)
    return (
        samples.with_columns(t_s=t_s)
        .filter(pl.col("t_s").is_not_null())
        .sort("activity_id", "t_s", maintain_order=True)
        .with_columns(
            dt_s=(pl.col("t_s").shift(-1).over("activity_id") - pl.col("t_s"))
            .fill_null(0.0)
            .clip(0.0, config.max_sample_gap_s)
        )
    )


def _sex_constant_exprs(config: LoadConfig) -> tuple[pl.Expr, pl.Expr]:
    """Expressions mapping roster ``sex`` to Banister ``k`` and ``b`` (mapping as data)."""
    k_map = {sex: k for sex, k, _ in config.banister_sex_constants}
    b_map = {sex: b for sex, _, b in config.banister_sex_constants}
    k_default, b_default = config.banister_constants(config.banister_default_sex)
    sex = pl.col("sex").fill_null(config.banister_default_sex)
    k = sex.replace_strict(k_map, default=k_default, return_dtype=pl.Float64)
    b = sex.replace_strict(b_map, default=b_default, return_dtype=pl.Float64)
    return k, b


def _hrr_fraction(hr: pl.Expr) -> pl.Expr:
    """Heart-rate reserve fraction clipped to [0, 1]; null when the roster is unusable.

    Multiplied by the reserve's reciprocal rather than divided by the reserve: Polars divides by
    a column that holds one value throughout (a one-client roster joined to the samples) as a
    multiplication by its reciprocal, and by other columns exactly, so the quotient would depend
    on how many clients are computed together (``x * (1 / r)`` and ``x / r`` can differ in the
    last bit). A multiplication is the same operation either way.
    """
    reserve = pl.col("hr_max") - pl.col("hr_rest")
    return (
        pl.when(reserve > 0)
        .then(((hr - pl.col("hr_rest")) * (1.0 / reserve)).clip(0.0, 1.0))
        .otherwise(None)
    )


def _reference_trimp(lthr: pl.Expr, config: LoadConfig) -> pl.Expr:
    """Banister TRIMP of ``hrtss_reference_minutes`` at ``lthr`` (roster columns in scope).

    The unit of hrTSS and of threshold-hour TSB: one hour at the lactate threshold = 100.
    """
    k, b = _sex_constant_exprs(config)
    x = _hrr_fraction(lthr)
    return config.hrtss_reference_minutes * x * k * (b * x).exp()


def _hr_zone(valid_hr: pl.Expr, config: LoadConfig) -> pl.Expr:
    """Return the %HRmax zone 0..5 of a valid HR (0 below the first floor); null without HRmax.

    A zone starts at ``floor * HRmax``, that HR included (152 bpm is 80 % of 190 and in zone 4):
    compared with a product, not ``HR / HRmax`` with the floor, since a quotient by a one-value
    column is computed through the reciprocal (see :func:`_hrr_fraction`) and can fall a bit
    short of the edge.
    """
    hr_max = pl.col("hr_max")
    zone: pl.Expr = pl.lit(0, dtype=pl.Int8)
    for number, floor in enumerate(config.edwards_zone_floor_fractions, start=1):
        zone = (
            pl.when(valid_hr >= floor * hr_max).then(pl.lit(number, dtype=pl.Int8)).otherwise(zone)
        )
    unknown = valid_hr.is_null() | hr_max.is_null() | (hr_max <= 0)
    return pl.when(unknown).then(None).otherwise(zone)


HR_LOAD_ROSTER_COLUMNS: tuple[str, ...] = ("sex", "hr_rest", "hr_max", "lthr")
"""The roster columns :func:`hr_load` reads (besides ``client_id``)."""
HR_LOAD_COLUMNS: tuple[str, ...] = (
    "sampled_time_s",
    "hr_time_s",
    "hr_coverage",
    *HR_ZONE_COLUMNS,
    "trimp_banister",
    "trimp_edwards",
    "hrtss",
)
"""The per-activity values :func:`hr_load` gives (besides ``activity_id`` and ``client_id``)."""


def hr_load(
    samples: pl.DataFrame,
    roster: pl.DataFrame,
    *,
    config: LoadConfig = DEFAULT_LOAD_CONFIG,
) -> pl.DataFrame:
    """Banister TRIMP, Edwards TRIMP and hrTSS per activity from the HR stream.

    Parameters
    ----------
    samples
        Samples (``activity_id``, ``client_id``, ``elapsed_s``, ``timestamp``,
        ``hr_bpm``).
    roster
        Roster (``client_id``, ``sex``, ``hr_rest``, ``hr_max``, ``lthr``).
    config
        Constants and the sample-gap cap.

    Returns
    -------
    pl.DataFrame
        One row per activity with samples: ``activity_id``, ``client_id``,
        ``sampled_time_s``, ``hr_time_s``, ``hr_coverage``, ``hr_zone1_s`` ...
        ``hr_zone5_s`` (seconds per %HRmax zone), ``trimp_banister``,
        ``trimp_edwards``, ``hrtss``.  TRIMP and the zone times are null when no
        valid HR sample time exists or the client has no usable roster row.

    Examples
    --------
    >>> s = pl.DataFrame({"activity_id": ["a"] * 3, "client_id": ["c"] * 3,
    ...                   "elapsed_s": [0.0, 60.0, 120.0], "timestamp": [None] * 3,
    ...                   "hr_bpm": [150, 150, 150]})
    >>> r = pl.DataFrame({"client_id": ["c"], "sex": ["m"], "hr_rest": [50.0],
    ...                   "hr_max": [190.0], "lthr": [None]})
    >>> out = hr_load(s, r, config=LoadConfig(max_sample_gap_s=60.0))
    >>> round(out["trimp_edwards"][0], 1)  # 2 min at 150/190 = 79 % HRmax, weight 3
    6.0
    >>> out.select("hr_zone2_s", "hr_zone3_s").row(0)  # the same 120 s, all in zone 3
    (0.0, 120.0)
    """
    k, b = _sex_constant_exprs(config)
    hr = pl.col("hr_bpm").cast(pl.Float64)
    hr_ok = hr.is_between(config.hr_valid_min_bpm, config.hr_valid_max_bpm)
    valid_hr = pl.when(hr_ok).then(hr).otherwise(None)
    x = _hrr_fraction(valid_hr)
    dt_min = pl.col("dt_s") / 60.0
    per_sample = with_sample_dt(samples, config=config).join(
        roster.select("client_id", *HR_LOAD_ROSTER_COLUMNS),
        on="client_id",
        how="left",
    )
    ref_trimp = _reference_trimp(pl.col("lthr"), config)
    per_sample = per_sample.with_columns(
        banister=dt_min * x * k * (b * x).exp(),
        zone=_hr_zone(valid_hr, config),
        hr_dt=pl.when(hr_ok).then(pl.col("dt_s")).otherwise(0.0),
        ref_trimp=ref_trimp,
    ).with_columns(edwards=dt_min * pl.col("zone"))
    has_hr = pl.col("hr_dt").sum() > 0
    has_zones = has_hr & pl.col("zone").is_not_null().any()
    zone_numbers = range(1, len(config.edwards_zone_floor_fractions) + 1)
    zone_times = {
        name: pl.when(has_zones)
        .then(pl.col("dt_s").filter(pl.col("zone") == number).sum())
        .otherwise(None)
        for name, number in zip(HR_ZONE_COLUMNS, zone_numbers, strict=True)
    }
    out = per_sample.group_by("activity_id", maintain_order=True).agg(
        pl.col("client_id").first(),
        sampled_time_s=pl.col("dt_s").sum(),
        hr_time_s=pl.col("hr_dt").sum(),
        **zone_times,
        trimp_banister=pl.when(has_hr & pl.col("banister").is_not_null().any())
        .then(pl.col("banister").sum())
        .otherwise(None),
        trimp_edwards=pl.when(has_zones).then(pl.col("edwards").sum()).otherwise(None),
        ref_trimp=pl.col("ref_trimp").first(),
    )
    return out.with_columns(
        hr_coverage=pl.when(pl.col("sampled_time_s") > 0)
        .then(pl.col("hr_time_s") / pl.col("sampled_time_s"))
        .otherwise(None),
        # times the reciprocal: ref_trimp holds one value throughout for one client (see
        # _hrr_fraction)
        hrtss=pl.when(pl.col("ref_trimp") > 0)
        .then(pl.col("trimp_banister") * (100.0 / pl.col("ref_trimp")))
        .otherwise(None),
    ).drop("ref_trimp")


def _session_minutes() -> pl.Expr:
    """Return session minutes: moving time, or elapsed duration when moving time is 0/null."""
    moving = pl.col("moving_time_s")
    return pl.when(moving > 0).then(moving).otherwise(pl.col("duration_s")) / 60.0


def session_rpe(
    activities: pl.DataFrame,
    rpe: pl.DataFrame,
    *,
    config: LoadConfig = DEFAULT_LOAD_CONFIG,
) -> pl.DataFrame:
    """Session-RPE (Foster et al. 2001): CR-10 rating x session minutes.

    Parameters
    ----------
    activities
        Activities (``activity_id``, ``duration_s``, ``moving_time_s``).
    rpe
        Post-run ratings (``activity_id``, ``rpe``) on the CR-10 scale; several
        ratings for one activity are averaged, values outside 0-10 ignored.
    config
        Uses ``rpe_max``.

    Returns
    -------
    pl.DataFrame
        ``activity_id``, ``rpe``, ``srpe`` for activities with a usable rating.

    Examples
    --------
    >>> a = pl.DataFrame({"activity_id": ["a"], "duration_s": [3000.0],
    ...                   "moving_time_s": [2700.0]})
    >>> session_rpe(a, pl.DataFrame({"activity_id": ["a"], "rpe": [6.0]}))["srpe"][0]
    270.0
    """
    ratings = (
        rpe.select("activity_id", pl.col("rpe").cast(pl.Float64))
        .filter(pl.col("rpe").is_between(0.0, config.rpe_max))
        .group_by("activity_id")
        .agg(pl.col("rpe").mean())
    )
    return (
        activities.select("activity_id", "duration_s", "moving_time_s")
        .join(ratings, on="activity_id", how="inner")
        .select("activity_id", "rpe", srpe=pl.col("rpe") * _session_minutes())
    )


@dataclass(frozen=True)
class LoadSource:
    """One rung of the ``load`` precedence: when it applies and what it gives."""

    name: str
    applies: pl.Expr
    value: pl.Expr


def _load_sources(config: LoadConfig) -> tuple[LoadSource, ...]:
    """Return the ``load`` precedence as data; the first applicable rung wins."""
    k, b = _sex_constant_exprs(config)
    x0 = config.duration_assumed_hrr_fraction
    return (
        LoadSource(
            "banister_trimp",
            pl.col("trimp_banister").is_not_null()
            & (pl.col("hr_coverage").fill_null(0.0) >= config.min_hr_coverage),
            pl.col("trimp_banister"),
        ),
        LoadSource(
            "srpe_scaled",
            pl.col("srpe").is_not_null(),
            pl.col("srpe") * config.srpe_to_trimp_factor,
        ),
        LoadSource(
            "duration_estimate",
            pl.lit(value=True),
            _session_minutes().fill_null(0.0) * x0 * k * (b * x0).exp(),
        ),
    )


def with_load(frame: pl.DataFrame, *, config: LoadConfig = DEFAULT_LOAD_CONFIG) -> pl.DataFrame:
    """Add ``load`` and ``load_source`` following the documented precedence.

    Parameters
    ----------
    frame
        Per-activity frame with ``trimp_banister``, ``hr_coverage``, ``srpe``,
        ``duration_s``, ``moving_time_s`` and ``sex`` (roster, may be null).
    config
        Coverage threshold, sRPE factor and assumed intensity.

    Returns
    -------
    pl.DataFrame
        ``frame`` with ``load`` (TRIMP units) and ``load_source``.

    Examples
    --------
    >>> f = pl.DataFrame({"trimp_banister": [None], "hr_coverage": [None],
    ...                   "srpe": [240.0], "duration_s": [2400.0],
    ...                   "moving_time_s": [2400.0], "sex": ["f"]})
    >>> with_load(f).select("load", "load_source").row(0)
    (120.0, 'srpe_scaled')
    """
    sources = _load_sources(config)
    value: pl.Expr = pl.lit(None, dtype=pl.Float64)
    name: pl.Expr = pl.lit(None, dtype=pl.Utf8)
    for source in reversed(sources):
        value = pl.when(source.applies).then(source.value).otherwise(value)
        name = pl.when(source.applies).then(pl.lit(source.name)).otherwise(name)
    return frame.with_columns(load=value.cast(pl.Float64), load_source=name)


def activity_metrics(
    activities: pl.DataFrame,
    roster: pl.DataFrame,
    *,
    hr_loads: pl.DataFrame,
    rpe: pl.DataFrame | None = None,
    decoupling: pl.DataFrame | None = None,
    hrv: pl.DataFrame | None = None,
    inputs: pl.DataFrame | None = None,
    config: LoadConfig = DEFAULT_LOAD_CONFIG,
) -> pl.DataFrame:
    """Assemble the ``activity_metrics`` table (one row per activity).

    Parameters
    ----------
    activities
        The activities table.
    roster
        The roster (for sex-specific constants of the duration estimate).
    hr_loads
        Output of :func:`hr_load`.
    rpe
        ``activity_id``, ``rpe`` (from the run_journal join), or None.
    decoupling
        Output of :func:`transform.decoupling.decoupling_metrics`, or None.
    hrv
        Output of :func:`transform.hrv_metrics.hrv_metrics`, or None.
    inputs
        Output of :func:`transform.sample_inputs.sample_inputs` (``inputs_sha256``, what the
        ``hr_loads`` and ``decoupling`` values were computed from), or None (null).
    config
        The configuration; its JSON is written in ``config_json``.

    Returns
    -------
    pl.DataFrame
        Columns in the order of :class:`schemas.activity_metrics.ActivityMetrics`.

    Examples
    --------
    >>> a = pl.DataFrame({"activity_id": ["a"], "client_id": ["c"], "sport": ["running"],
    ...                   "local_date": [None], "duration_s": [1800.0],
    ...                   "moving_time_s": [1800.0], "distance_m": [5000.0]})
    >>> r = pl.DataFrame({"client_id": ["c"], "sex": ["m"], "hr_rest": [50.0],
    ...                   "hr_max": [190.0], "lthr": [None]})
    >>> out = activity_metrics(a, r, hr_loads=hr_load(pl.DataFrame(schema={
    ...     "activity_id": pl.Utf8, "client_id": pl.Utf8, "elapsed_s": pl.Float64,
    ...     "timestamp": pl.Datetime("us", "UTC"), "hr_bpm": pl.Int16}), r))
    >>> out["load_source"][0]
    'duration_estimate'
    """
    base = activities.select(
        "activity_id",
        "client_id",
        pl.col("local_date").cast(pl.Date),
        "sport",
        pl.col("duration_s").cast(pl.Float64),
        pl.col("moving_time_s").cast(pl.Float64),
        pl.col("distance_m").cast(pl.Float64),
    ).join(roster.select("client_id", "sex"), on="client_id", how="left")
    frame = base.join(hr_loads.drop("client_id"), on="activity_id", how="left")
    if rpe is None:
        frame = frame.with_columns(
            rpe=pl.lit(None, dtype=pl.Float64), srpe=pl.lit(None, dtype=pl.Float64)
        )
    else:
        frame = frame.join(
            session_rpe(activities, rpe, config=config), on="activity_id", how="left"
        )
    frame = with_load(frame, config=config)
    for extra, columns in (
        (decoupling, DECOUPLING_COLUMNS),
        (hrv, _HRV_COLUMNS),
        (inputs, _INPUTS_COLUMNS),
    ):
        if extra is None:
            frame = frame.with_columns(
                [pl.lit(None, dtype=dtype).alias(name) for name, dtype in columns.items()]
            )
        else:
            frame = frame.join(extra.select("activity_id", *columns), on="activity_id", how="left")
    frame = frame.with_columns(
        pl.col("steady_run").fill_null(value=False),
        pl.col("hrv_rr_total").fill_null(0),
        config_json=pl.lit(config.to_json()),
    )
    return frame.select(ACTIVITY_METRICS_COLUMNS)


DECOUPLING_COLUMNS: dict[str, pl.DataType] = {
    "steady_run": pl.Boolean(),
    "ef_first_half_mpm_per_bpm": pl.Float64(),
    "ef_second_half_mpm_per_bpm": pl.Float64(),
    "efficiency_factor_mpm_per_bpm": pl.Float64(),
    "decoupling_pct": pl.Float64(),
}
"""The per-run values :func:`transform.decoupling.decoupling_metrics` gives, with their types."""
_HRV_COLUMNS: dict[str, pl.DataType] = {
    "hrv_rr_total": pl.Int64(),
    "hrv_rr_rejected_pct": pl.Float64(),
    "hrv_rmssd_ms": pl.Float64(),
    "hrv_sdnn_ms": pl.Float64(),
    "hrv_pnn50_pct": pl.Float64(),
}
_INPUTS_COLUMNS: dict[str, pl.DataType] = {"inputs_sha256": pl.String()}

#: Column order of the ``activity_metrics`` table (its model's).
ACTIVITY_METRICS_COLUMNS: tuple[str, ...] = column_names(ActivityMetrics)


def threshold_hour_load(
    roster: pl.DataFrame, *, config: LoadConfig = DEFAULT_LOAD_CONFIG
) -> pl.DataFrame:
    """Each client's load of one hour at the lactate threshold: the unit of threshold-hour TSB.

    ``hrtss_reference_minutes`` (60) at ``x_L = (LTHR - HRrest) / (HRmax - HRrest)`` with the
    client's Banister constants; LTHR from the roster, else ``lthr_estimate_hrmax_fraction`` of
    HRmax; ``default_threshold_hour_load`` when HRrest and HRmax are unusable.

    Returns
    -------
    pl.DataFrame
        ``client_id``, ``threshold_hour_load``, ``lthr_source`` (roster, estimated, default).

    Examples
    --------
    >>> roster = pl.DataFrame({"client_id": ["c"], "sex": ["m"], "hr_rest": [50.0],
    ...                        "hr_max": [190.0], "lthr": [162.0]})
    >>> # x = (162 - 50) / 140 = 0.8; 60 * 0.8 * 0.64 * e^(1.92 * 0.8) = 30.72 * 4.6460 = 142.72
    >>> round(threshold_hour_load(roster)["threshold_hour_load"][0], 2)
    142.72
    """
    estimated = pl.col("hr_max") * config.lthr_estimate_hrmax_fraction
    lthr = pl.coalesce(pl.col("lthr").cast(pl.Float64), estimated.cast(pl.Float64))
    load = _reference_trimp(lthr, config)
    return roster.select(
        "client_id",
        threshold_hour_load=pl.when(load > 0)
        .then(load)
        .otherwise(pl.lit(config.default_threshold_hour_load)),
        lthr_source=pl.when(load.is_null() | (load <= 0))
        .then(pl.lit("default"))
        .when(pl.col("lthr").is_not_null())
        .then(pl.lit("roster"))
        .otherwise(pl.lit("estimated")),
    )
