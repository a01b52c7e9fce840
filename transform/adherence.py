"""Weekly adherence to the running prescription, per client and ISO week.

Rules (all thresholds in :class:`AdherenceConfig`):

- **Weeks**: ISO weeks (Monday start). An activity or journal entry belongs to the week of its
  ``local_date`` (the client's roster time zone); activities without a ``local_date`` (watch
  clock never set) are not counted. A client's rows run from the first planned week (or, with no
  plan at all, the first week with data) to the latest week with an activity, a journal entry or
  a plan, every week included; a week without a plan row has ``band = "no_plan"``.
- **Completed sessions**: activities whose ``sport`` is running (``run_sports``), plus walking
  (``walk_sports``) only in weeks whose plan ``session_type`` is ``run_walk``
  (``walk_session_types``), with ``moving_time_s >= min_session_s`` (default 600 s = 10 min,
  inclusive; ``duration_s`` stands in when the moving time is null). Completed minutes are
  their moving time.
- **Unknown and inferred sports**: an activity of sport ``unknown`` (its file named no sport and
  the evidence disagreed, e.g. a cycling speed with a running cadence) never counts. An activity
  whose sport was inferred (flag ``sport_inferred`` in ``quality_flags``: the file named none, and
  the creator application, speed and cadence agreed on one) counts as that sport when
  ``count_inferred_sports`` is true (the default) and never when it is false.
- **Adherence ratio**: completed minutes / planned minutes; null with no plan or a rest week
  (0 planned minutes). It is never negative.
- **Band** (TrainingPeaks compliance colours, on exact fractional percentages
  ``p = 100 * completed / planned``): green ``80 <= p <= 120``; yellow ``50 <= p < 80`` or
  ``120 < p <= 150``; red otherwise (``p < 50`` or ``p > 150``). A planned week with no counted
  session is red. So 79.99 % is yellow, 80 % green, 120 % green, 120.01 % yellow, 150 %
  yellow, 150.01 % red, 49.99 % red, 50 % yellow. Comparisons are made on seconds
  (``completed_s * 100`` against ``planned_minutes * 60 * edge``), so round numbers are exact.
  A rest week (plan with 0 sessions and 0 minutes) is ``rest`` when no session was counted and
  red otherwise. No plan: ``no_plan``.
- **On-plan streak**: number of consecutive weeks up to and including this one whose band is
  green or rest (``streak_bands``); any other band resets it to 0.
- **Journal coverage**: journal entries in the week, and distinct days with an entry.
- **Easy share** (given the per-activity zone times of ``activity_metrics``): of the HR-zone
  time (``hr_zone1_s`` ... ``hr_zone5_s``) of the week's counted runs (counted sessions whose
  sport is in ``run_sports``; walks are left out), the share in zones 1 to ``easy_zones``
  (default 2: below 70 % HRmax). Time below zone 1 is in neither part. Null when no counted run
  has HR-zone time, and when no zone times are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import polars as pl

from schemas.activity_metrics import HR_ZONE_COLUMNS
from schemas.base import column_names
from schemas.weekly_adherence import WeeklyAdherence

__all__ = [
    "ADHERENCE_COLUMNS",
    "DEFAULT_ADHERENCE_BANDS",
    "DEFAULT_ADHERENCE_CONFIG",
    "AdherenceBand",
    "AdherenceConfig",
    "build_weekly_adherence",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AdherenceBand:
    """One row of the band table: a percentage interval of completed/planned minutes.

    Attributes
    ----------
    name : str
        Band label written to the table.
    low_pct, high_pct : float
        Interval edges in percent of planned minutes.
    low_inclusive, high_inclusive : bool
        Whether each edge belongs to the band.
    """

    name: str
    low_pct: float
    high_pct: float
    low_inclusive: bool
    high_inclusive: bool


#: TrainingPeaks compliance colours; any percentage not covered is ``fallback_band`` (red).
DEFAULT_ADHERENCE_BANDS: Final[tuple[AdherenceBand, ...]] = (
    AdherenceBand(
        name="green", low_pct=80.0, high_pct=120.0, low_inclusive=True, high_inclusive=True
    ),
    AdherenceBand(
        name="yellow", low_pct=50.0, high_pct=80.0, low_inclusive=True, high_inclusive=False
    ),
    AdherenceBand(
        name="yellow", low_pct=120.0, high_pct=150.0, low_inclusive=False, high_inclusive=True
    ),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AdherenceConfig:
    """Every threshold of :func:`build_weekly_adherence`.

    Attributes
    ----------
    min_session_s : float
        Minimum moving time (inclusive) for an activity to count as a session.
    run_sports : frozenset of str
        Sports that always count.
    walk_sports : frozenset of str
        Sports that count only in weeks whose plan session_type is in ``walk_session_types``.
    walk_session_types : frozenset of str
        Plan session types under which walking counts.
    bands : tuple of AdherenceBand
        The band table, checked in order; the first match wins.
    fallback_band : str
        Band for a planned week matching no row of the table, and for a planned week with no
        counted session.
    no_plan_band, rest_band : str
        Band for weeks without a plan row, and for planned rest weeks with no session.
    streak_bands : frozenset of str
        Bands that continue the on-plan streak.
    easy_zones : int
        HR zones 1 to ``easy_zones`` are easy for ``easy_share`` (1-5; default 2, i.e. below
        70 % HRmax).
    count_inferred_sports : bool
        Whether an activity whose sport was inferred (flag ``sport_inferred``) counts as that
        sport; ``unknown`` never counts.
    """

    min_session_s: float = 600.0
    run_sports: frozenset[str] = frozenset({"running"})
    walk_sports: frozenset[str] = frozenset({"walking"})
    walk_session_types: frozenset[str] = frozenset({"run_walk"})
    bands: tuple[AdherenceBand, ...] = DEFAULT_ADHERENCE_BANDS
    fallback_band: str = "red"
    no_plan_band: str = "no_plan"
    rest_band: str = "rest"
    streak_bands: frozenset[str] = frozenset({"green", "rest"})
    easy_zones: int = 2
    count_inferred_sports: bool = True

    def __post_init__(self) -> None:
        """Reject an easy-zone count outside the zones that exist."""
        if not 1 <= self.easy_zones <= len(HR_ZONE_COLUMNS):
            msg = f"easy_zones must be 1-{len(HR_ZONE_COLUMNS)}, got {self.easy_zones!r}"
            raise ValueError(msg)


DEFAULT_ADHERENCE_CONFIG: Final = AdherenceConfig()

#: Output columns, in order (see ``schemas/weekly_adherence.py``).
ADHERENCE_COLUMNS: tuple[str, ...] = column_names(WeeklyAdherence)

_WEEK: Final = "1w"

INFERRED_FLAG: Final = "sport_inferred"
"""The ``quality_flags`` entry of an activity whose sport was inferred, not recorded."""


def build_weekly_adherence(
    activities: pl.DataFrame,
    journal: pl.DataFrame,
    plans: pl.DataFrame,
    *,
    zones: pl.DataFrame | None = None,
    config: AdherenceConfig = DEFAULT_ADHERENCE_CONFIG,
) -> pl.DataFrame:
    """Build ``weekly_adherence``: planned vs completed running per client and ISO week.

    Parameters
    ----------
    activities : polars.DataFrame
        Activities with ``client_id``, ``sport``, ``local_date`` (nullable),
        ``moving_time_s`` and ``duration_s`` (both nullable), and optionally ``quality_flags``
        (comma-separated; ``sport_inferred`` marks an inferred sport).
    journal : polars.DataFrame
        The ``journal`` table (``client_id``, ``local_date`` are used).
    plans : polars.DataFrame
        The merged ``plans`` table (one row per client and week).
    zones : polars.DataFrame, optional
        Time in HR zones per activity: ``activity_id`` and ``hr_zone1_s`` ... ``hr_zone5_s``,
        at most one row per activity (the ``activity_metrics`` table). ``activities`` must then
        carry ``activity_id``. Without it ``easy_share`` is null.
    config : AdherenceConfig
        Thresholds and the band table; see the module docstring.

    Returns
    -------
    polars.DataFrame
        One row per client and week, columns :data:`ADHERENCE_COLUMNS`, sorted by client and
        week.

    Examples
    --------
    >>> from datetime import date
    >>> runs = pl.DataFrame({"client_id": ["c1", "c1"], "sport": ["running", "running"],
    ...     "local_date": [date(2026, 3, 3), date(2026, 3, 5)],
    ...     "moving_time_s": [1500.0, 1500.0], "duration_s": [1600.0, 1600.0]})
    >>> journal = pl.DataFrame({"client_id": ["c1"], "local_date": [date(2026, 3, 5)]})
    >>> plans = pl.DataFrame({"client_id": ["c1"], "week_start": [date(2026, 3, 2)],
    ...     "sessions": [2], "minutes": [60.0], "session_type": ["easy"]})
    >>> build_weekly_adherence(runs, journal, plans).select(
    ...     "completed_minutes", "adherence_ratio", "band", "on_plan_streak").row(0)
    (50.0, 0.8333333333333334, 'green', 1)
    >>> zones = pl.DataFrame({"activity_id": ["r1", "r2"], "hr_zone1_s": [0.0, 0.0],
    ...     "hr_zone2_s": [1200.0, 300.0], "hr_zone3_s": [300.0, 1200.0],
    ...     "hr_zone4_s": [0.0, 0.0], "hr_zone5_s": [0.0, 0.0]})
    >>> build_weekly_adherence(runs.with_columns(activity_id=pl.Series(["r1", "r2"])),
    ...     journal, plans, zones=zones)["easy_share"][0]  # (1200 + 300) / 3000
    0.5
    """
    plan_weeks = plans.select(
        "client_id",
        pl.col("week_start").cast(pl.Date),
        pl.col("sessions").cast(pl.Int32).alias("planned_sessions"),
        pl.col("minutes").cast(pl.Float64).alias("planned_minutes"),
        pl.col("session_type").cast(pl.String),
    )
    dated = activities.filter(pl.col("local_date").is_not_null())
    inferred = (
        pl.col("quality_flags").fill_null("").str.split(",").list.contains(INFERRED_FLAG)
        if "quality_flags" in activities.columns
        else pl.lit(value=False)
    )
    dated = _with_zone_seconds(dated, zones, config).select(
        "client_id",
        "sport",
        inferred.alias("_inferred"),
        pl.coalesce(pl.col("moving_time_s"), pl.col("duration_s"))
        .cast(pl.Float64)
        .alias("moving_time_s"),
        pl.col("local_date").cast(pl.Date).dt.truncate(_WEEK).alias("week_start"),
        "_easy_s",
        "_zone_s",
    )
    entries = journal.select(
        "client_id",
        pl.col("local_date").cast(pl.Date),
        pl.col("local_date").cast(pl.Date).dt.truncate(_WEEK).alias("week_start"),
    )
    weeks = _week_spine(plan_weeks, dated, entries)
    completed = _completed(dated, plan_weeks, config)
    coverage = entries.group_by("client_id", "week_start").agg(
        pl.len().cast(pl.Int32).alias("journal_entries"),
        pl.col("local_date").n_unique().cast(pl.Int32).alias("journal_days"),
    )
    table = (
        weeks.join(plan_weeks, on=["client_id", "week_start"], how="left")
        .join(completed, on=["client_id", "week_start"], how="left")
        .join(coverage, on=["client_id", "week_start"], how="left")
        .with_columns(
            pl.col("completed_sessions").fill_null(0),
            pl.col("_completed_s").fill_null(0.0),
            pl.col("journal_entries").fill_null(0),
            pl.col("journal_days").fill_null(0),
        )
        .with_columns(
            (pl.col("_completed_s") / 60.0).alias("completed_minutes"),
            pl.when(pl.col("planned_minutes") > 0)
            .then(pl.col("_completed_s") / (pl.col("planned_minutes") * 60.0))
            .alias("adherence_ratio"),
            pl.when(pl.col("_zone_s") > 0)
            .then(pl.col("_easy_s") / pl.col("_zone_s"))
            .alias("easy_share"),
            _band_expr(config).alias("band"),
            pl.col("week_start").dt.iso_year().cast(pl.Int32).alias("iso_year"),
            pl.col("week_start").dt.week().cast(pl.Int8).alias("iso_week"),
        )
        .sort("client_id", "week_start")
    )
    on_plan = pl.col("band").is_in(sorted(config.streak_bands))
    table = table.with_columns((~on_plan).cum_sum().over("client_id").alias("_run")).with_columns(
        on_plan.cast(pl.Int32).cum_sum().over("client_id", "_run").alias("on_plan_streak")
    )
    return table.select(ADHERENCE_COLUMNS)


def _week_spine(
    plan_weeks: pl.DataFrame, dated: pl.DataFrame, entries: pl.DataFrame
) -> pl.DataFrame:
    """Every week per client from the first plan week (or first data week) to the last."""
    seen = pl.concat(
        [
            plan_weeks.select("client_id", "week_start", pl.lit(value=True).alias("_plan")),
            dated.select("client_id", "week_start", pl.lit(value=False).alias("_plan")),
            entries.select("client_id", "week_start", pl.lit(value=False).alias("_plan")),
        ]
    )
    bounds = seen.group_by("client_id").agg(
        pl.coalesce(
            pl.col("week_start").filter(pl.col("_plan")).min(), pl.col("week_start").min()
        ).alias("_first"),
        pl.col("week_start").max().alias("_last"),
    )
    return (
        bounds.with_columns(pl.date_ranges("_first", "_last", interval=_WEEK).alias("week_start"))
        .explode("week_start")
        .select("client_id", "week_start")
    )


def _with_zone_seconds(
    activities: pl.DataFrame, zones: pl.DataFrame | None, config: AdherenceConfig
) -> pl.DataFrame:
    """Add ``_easy_s`` and ``_zone_s``: an activity's seconds in the easy zones and in any zone.

    Both are null for an activity without zone times (no HR, or no ``zones`` given).
    """
    if zones is None:
        return activities.with_columns(
            _easy_s=pl.lit(None, dtype=pl.Float64), _zone_s=pl.lit(None, dtype=pl.Float64)
        )
    easy = HR_ZONE_COLUMNS[: config.easy_zones]
    per_activity = zones.select(
        pl.col("activity_id"),
        pl.sum_horizontal(pl.col(easy).cast(pl.Float64), ignore_nulls=False).alias("_easy_s"),
        pl.sum_horizontal(pl.col(HR_ZONE_COLUMNS).cast(pl.Float64), ignore_nulls=False).alias(
            "_zone_s"
        ),
    )
    return activities.join(per_activity, on="activity_id", how="left", validate="m:1")


def _completed(
    dated: pl.DataFrame, plan_weeks: pl.DataFrame, config: AdherenceConfig
) -> pl.DataFrame:
    """Count sessions and sum their moving seconds and run zone seconds per client and week."""
    counts_walk = (
        pl.col("session_type").is_in(sorted(config.walk_session_types)).fill_null(value=False)
    )
    counted = dated.join(
        plan_weeks.select("client_id", "week_start", "session_type"),
        on=["client_id", "week_start"],
        how="left",
    ).filter(
        (pl.col("moving_time_s") >= config.min_session_s)
        & (pl.lit(config.count_inferred_sports) | ~pl.col("_inferred"))
        & (
            pl.col("sport").is_in(sorted(config.run_sports))
            | (pl.col("sport").is_in(sorted(config.walk_sports)) & counts_walk)
        )
    )
    is_run = pl.col("sport").is_in(sorted(config.run_sports))
    return counted.group_by("client_id", "week_start").agg(
        pl.len().cast(pl.Int32).alias("completed_sessions"),
        pl.col("moving_time_s").sum().alias("_completed_s"),
        pl.col("_easy_s").filter(is_run).sum().alias("_easy_s"),
        pl.col("_zone_s").filter(is_run).sum().alias("_zone_s"),
    )


def _band_expr(config: AdherenceConfig) -> pl.Expr:
    """Return the band, compared on seconds so that round percentages are exact.

    Rules are checked in order and the first that holds wins (``pl.coalesce`` of
    ``when/then`` expressions, each null where its rule does not hold).
    """
    done = pl.col("_completed_s") * 100.0
    planned = pl.col("planned_minutes") * 60.0
    has_plan = pl.col("planned_minutes") > 0
    rules: list[tuple[pl.Expr, str]] = [
        (pl.col("planned_minutes").is_null(), config.no_plan_band),
        ((pl.col("planned_minutes") == 0) & (pl.col("completed_sessions") == 0), config.rest_band),
        (pl.col("completed_sessions") == 0, config.fallback_band),
    ]
    for band in config.bands:
        low_edge = planned * band.low_pct
        high_edge = planned * band.high_pct
        low = done >= low_edge if band.low_inclusive else done > low_edge
        high = done <= high_edge if band.high_inclusive else done < high_edge
        rules.append((has_plan & low & high, band.name))
    return pl.coalesce(
        *(pl.when(condition).then(pl.lit(name)) for condition, name in rules),
        pl.lit(config.fallback_band),
    )
