"""Aerobic decoupling (Pa:HR, Friel) and efficiency factor for steady runs.

Rule (all values from :class:`transform.load_config.LoadConfig`)
-------------------------------------------------------------------
1. Only runs (``sport`` in ``run_sports``).
2. Each sample is weighted by its capped time to the next sample (``dt``, as for
   TRIMP). Samples in the first 10 minutes (``elapsed < 600 s``), samples when
   stopped (``speed_mps < 0.5``) and samples without a valid HR are dropped.
3. The remainder must last at least 30 minutes (40 minutes minus the warm-up),
   and be steady: its time-weighted speed coefficient of variation <= 0.25.
   Otherwise ``steady_run`` is false and every metric is null.
4. The remainder is split in two halves of equal time (a sample belongs to the
   half holding the midpoint of its interval). Per half,
   ``EF = mean speed [m/min] / mean HR [bpm]`` (time-weighted means).
5. ``decoupling_pct = (EF_first - EF_second) / EF_first * 100``: positive when HR
   drifted up relative to pace. ``efficiency_factor_mpm_per_bpm`` is the EF of the
   whole remainder.
"""

from __future__ import annotations

import polars as pl

from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig
from transform.trimp import with_sample_dt

__all__ = ["decoupling_metrics"]


def _weighted_mean(col: str) -> pl.Expr:
    return (pl.col(col) * pl.col("dt_s")).sum() / pl.col("dt_s").sum()


def decoupling_metrics(
    samples: pl.DataFrame,
    activities: pl.DataFrame,
    *,
    config: LoadConfig = DEFAULT_LOAD_CONFIG,
) -> pl.DataFrame:
    """Aerobic decoupling and efficiency factor per run.

    Parameters
    ----------
    samples
        Samples (``activity_id``, ``elapsed_s``, ``timestamp``, ``hr_bpm``,
        ``speed_mps``).
    activities
        Activities (``activity_id``, ``client_id``, ``sport``).
    config
        The steady-run rule and the sample-gap cap.

    Returns
    -------
    pl.DataFrame
        One row per run with samples: ``activity_id``, ``client_id``,
        ``steady_run``, ``ef_first_half_mpm_per_bpm``,
        ``ef_second_half_mpm_per_bpm``, ``efficiency_factor_mpm_per_bpm``,
        ``decoupling_pct`` (metrics null unless ``steady_run``).

    Examples
    --------
    >>> n = 3601  # one hour at 1 Hz: 3 m/s throughout, HR 140 then 150 after 35 min
    >>> s = pl.DataFrame({"activity_id": ["a"] * n, "elapsed_s": [float(i) for i in range(n)],
    ...                   "timestamp": [None] * n, "speed_mps": [3.0] * n,
    ...                   "hr_bpm": [140 if i < 2100 else 150 for i in range(n)]})
    >>> a = pl.DataFrame({"activity_id": ["a"], "client_id": ["c"], "sport": ["running"]})
    >>> round(decoupling_metrics(s, a)["decoupling_pct"][0], 3)
    6.667
    """
    runs = activities.filter(pl.col("sport").is_in(list(config.run_sports))).select(
        "activity_id", "client_id"
    )
    hr = pl.col("hr_bpm").cast(pl.Float64)
    kept = (
        with_sample_dt(samples.join(runs.select("activity_id"), on="activity_id"), config=config)
        .filter(
            (pl.col("t_s") >= config.decoupling_warmup_s)
            & (pl.col("speed_mps") >= config.decoupling_stopped_speed_mps)
            & hr.is_between(config.hr_valid_min_bpm, config.hr_valid_max_bpm)
            & (pl.col("dt_s") > 0)
        )
        .select("activity_id", "dt_s", speed_mpm=pl.col("speed_mps") * 60.0, hr=hr)
    )
    total = pl.col("dt_s").sum().over("activity_id")
    midpoint = pl.col("dt_s").cum_sum().over("activity_id") - pl.col("dt_s") / 2.0
    kept = kept.with_columns(first_half=midpoint <= total / 2.0)

    def half_ef(*, first: bool) -> pl.Expr:
        in_half = pl.col("first_half") == first
        w = pl.col("dt_s").filter(in_half)
        speed = (pl.col("speed_mpm").filter(in_half) * w).sum() / w.sum()
        heart = (pl.col("hr").filter(in_half) * w).sum() / w.sum()
        return speed / heart

    mean_speed = _weighted_mean("speed_mpm")
    speed_sd = (
        ((pl.col("speed_mpm") - mean_speed) ** 2 * pl.col("dt_s")).sum() / pl.col("dt_s").sum()
    ).sqrt()
    per_run = kept.group_by("activity_id").agg(
        remainder_s=pl.col("dt_s").sum(),
        speed_cv=speed_sd / mean_speed,
        ef_all=mean_speed / _weighted_mean("hr"),
        ef_first=half_ef(first=True),
        ef_second=half_ef(first=False),
    )
    min_remainder = config.decoupling_min_duration_s - config.decoupling_warmup_s
    steady = (
        (pl.col("remainder_s") >= min_remainder)
        & (pl.col("speed_cv") <= config.decoupling_max_speed_cv)
        & (pl.col("ef_first") > 0)
        & pl.col("ef_second").is_not_null()
    ).fill_null(value=False)

    def when_steady(expr: pl.Expr) -> pl.Expr:
        return pl.when(pl.col("steady_run")).then(expr).otherwise(None)

    present = samples.select("activity_id").unique()
    return (
        runs.join(present, on="activity_id")
        .join(per_run, on="activity_id", how="left")
        .with_columns(steady_run=steady)
        .select(
            "activity_id",
            "client_id",
            "steady_run",
            ef_first_half_mpm_per_bpm=when_steady(pl.col("ef_first")),
            ef_second_half_mpm_per_bpm=when_steady(pl.col("ef_second")),
            efficiency_factor_mpm_per_bpm=when_steady(pl.col("ef_all")),
            decoupling_pct=when_steady(
                (pl.col("ef_first") - pl.col("ef_second")) / pl.col("ef_first") * 100.0
            ),
        )
        .sort("activity_id")
    )
