"""Heart-rate variability (RMSSD, SDNN, pNN50) from RR intervals, after an artefact filter.

Artefact filter (values from :class:`transform.load_config.LoadConfig`)
------------------------------------------------------------------------
1. RR intervals outside 0.3-2.0 s (200-30 bpm) are rejected.
2. Of the remaining intervals, in file order, an interval differing by more than
   20 % from the previous remaining interval is rejected (the first is kept).
   A single artefact therefore usually rejects itself and the beat after it.
3. Successive differences are taken only between kept intervals that are adjacent
   in the file (``rr_index`` differs by 1), so no difference spans a gap.

Metrics (Task Force of the ESC and NASPE 1996), null when fewer than 20 beats are
kept: ``SDNN`` = sample SD (n - 1) of kept RR in ms; ``RMSSD`` = root mean square
of successive differences in ms; ``pNN50`` = share (%) of successive differences
greater than 50 ms. ``hrv_rr_rejected_pct`` = rejected / all intervals * 100.
HRV recorded during exercise is strongly intensity-dependent: compare like with like.
"""

from __future__ import annotations

import polars as pl

from transform.load_config import DEFAULT_LOAD_CONFIG, LoadConfig

__all__ = ["hrv_metrics"]


def hrv_metrics(hrv: pl.DataFrame, *, config: LoadConfig = DEFAULT_LOAD_CONFIG) -> pl.DataFrame:
    """RMSSD, SDNN and pNN50 per activity, with the share of rejected beats.

    Parameters
    ----------
    hrv
        The hrv table (``activity_id``, ``client_id``, ``rr_index``, ``rr_s``).
    config
        The artefact filter bounds and ``hrv_min_beats``.

    Returns
    -------
    pl.DataFrame
        One row per activity with RR data: ``activity_id``, ``client_id``,
        ``hrv_rr_total``, ``hrv_rr_rejected_pct``, ``hrv_rmssd_ms``,
        ``hrv_sdnn_ms``, ``hrv_pnn50_pct``.

    Examples
    --------
    >>> rr = [0.80, 0.82, 0.79, 0.81] * 6
    >>> df = pl.DataFrame({"activity_id": ["a"] * 24, "client_id": ["c"] * 24,
    ...                    "rr_index": list(range(24)), "rr_s": rr})
    >>> round(hrv_metrics(df)["hrv_rmssd_ms"][0], 3)  # sqrt((5*1800 + 400+900+400) / 23)
    21.569
    """
    ordered = hrv.select(
        "activity_id", "client_id", "rr_index", pl.col("rr_s").cast(pl.Float64)
    ).sort("activity_id", "rr_index")
    totals = ordered.group_by("activity_id").agg(
        pl.col("client_id").first(), hrv_rr_total=pl.len().cast(pl.Int64)
    )
    in_range = ordered.filter(pl.col("rr_s").is_between(config.hrv_rr_min_s, config.hrv_rr_max_s))
    previous = pl.col("rr_s").shift(1).over("activity_id")
    kept = in_range.filter(
        previous.is_null()
        | ((pl.col("rr_s") - previous).abs() / previous <= config.hrv_max_successive_change)
    )
    adjacent = (pl.col("rr_index") - pl.col("rr_index").shift(1).over("activity_id")) == 1
    diffs_ms = pl.when(adjacent).then(
        (pl.col("rr_s") - pl.col("rr_s").shift(1).over("activity_id")) * 1000.0
    )
    per_activity = (
        kept.with_columns(diff_ms=diffs_ms)
        .group_by("activity_id")
        .agg(
            n_kept=pl.len(),
            n_diffs=pl.col("diff_ms").count(),
            sdnn=(pl.col("rr_s") * 1000.0).std(ddof=1),
            rmssd=(pl.col("diff_ms") ** 2).mean().sqrt(),
            pnn50=(pl.col("diff_ms").abs() > 50.0).sum() / pl.col("diff_ms").count() * 100.0,
        )
    )
    enough = (pl.col("n_kept") >= config.hrv_min_beats) & (pl.col("n_diffs") > 0)
    return (
        totals.join(per_activity, on="activity_id", how="left")
        .with_columns(pl.col("n_kept").fill_null(0))
        .select(
            "activity_id",
            "client_id",
            "hrv_rr_total",
            hrv_rr_rejected_pct=(pl.col("hrv_rr_total") - pl.col("n_kept"))
            / pl.col("hrv_rr_total")
            * 100.0,
            hrv_rmssd_ms=pl.when(enough).then(pl.col("rmssd")),
            hrv_sdnn_ms=pl.when(enough).then(pl.col("sdnn")),
            hrv_pnn50_pct=pl.when(enough).then(pl.col("pnn50")),
        )
        .sort("activity_id")
    )
