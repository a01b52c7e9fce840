"""Join each activity with the journal entries written just before and just after it.

Rules (all thresholds in :class:`RunJournalConfig`):

- **Post-run entry**: an entry of a post kind (default only ``post_run``; ``daily`` entries do
  not count unless ``post_kinds`` includes them, because a daily entry is not a rating of the
  run) written at or after the run's ``end_utc`` and no later than ``end_utc + post_window``
  (default 6 h). Both edges are inclusive: an entry exactly at the end, or exactly 6 h after it,
  matches; one 1 us later does not.
- **Ownership of a post entry**: each entry belongs to the *latest* eligible run of the same
  client that ended at or before it (``join_asof`` backward on ``end_utc``, ``by="client_id"``,
  tolerance ``post_window``). Of the entries a run owns, the *first* is its post-run entry. So
  with two runs in one day and one entry after the second, the entry goes to the second run and
  the first run has none; an entry between the runs goes to the first run.
- **Pre-run entry**: an entry of a pre kind (default only ``pre_run``) written at or before the
  run's ``start_utc`` and no earlier than ``start_utc - pre_window`` (default 3 h), both edges
  inclusive. Each entry belongs to the *earliest* eligible run starting at or after it
  (``join_asof`` forward on ``start_utc``); of the entries a run owns, the *last* is its
  pre-run entry.
- **Eligible runs**: activities whose ``sport`` is in ``sports`` (default ``running``) and that
  have both ``start_utc`` and ``end_utc``. Other activities are kept in the output (one row per
  activity, always) with nothing found; they do not take entries from runs.
- **Mood change**: ``post_mood - pre_mood`` when both entries were found, both have a mood and
  both use the same mood scale; otherwise null. It is in points of that scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final, Literal

import polars as pl

from schemas.base import column_names
from schemas.run_journal import RunJournal

__all__ = [
    "ACTIVITY_INPUT_COLUMNS",
    "DEFAULT_RUN_JOURNAL_CONFIG",
    "RUN_JOURNAL_COLUMNS",
    "RunJournalConfig",
    "build_run_journal",
]

#: Columns of the activities frame this transform reads (others are ignored).
ACTIVITY_INPUT_COLUMNS: Final[tuple[str, ...]] = (
    "activity_id",
    "client_id",
    "sport",
    "start_utc",
    "end_utc",
    "local_date",
    "duration_s",
    "moving_time_s",
    "distance_m",
)

#: Output columns, in order: those of ``schemas/run_journal.py``.
RUN_JOURNAL_COLUMNS: Final[tuple[str, ...]] = column_names(RunJournal)

_US_PER_MINUTE: Final = 60_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class RunJournalConfig:
    """Windows and eligibility rules for :func:`build_run_journal`.

    Attributes
    ----------
    post_window : datetime.timedelta
        How long after a run ends a post-run entry may be written (inclusive).
    pre_window : datetime.timedelta
        How long before a run starts a pre-run entry may be written (inclusive).
    post_kinds, pre_kinds : frozenset of str
        Journal kinds that may serve as post-run / pre-run entries.
    sports : frozenset of str
        Activity sports that take journal entries.
    """

    post_window: timedelta = timedelta(hours=6)
    pre_window: timedelta = timedelta(hours=3)
    post_kinds: frozenset[str] = frozenset({"post_run"})
    pre_kinds: frozenset[str] = frozenset({"pre_run"})
    sports: frozenset[str] = frozenset({"running"})

    def __post_init__(self) -> None:
        if self.post_window < timedelta(0) or self.pre_window < timedelta(0):
            raise ValueError("windows must not be negative")


DEFAULT_RUN_JOURNAL_CONFIG: Final = RunJournalConfig()


def build_run_journal(
    activities: pl.DataFrame,
    journal: pl.DataFrame,
    *,
    config: RunJournalConfig = DEFAULT_RUN_JOURNAL_CONFIG,
) -> pl.DataFrame:
    """Build ``run_journal``: one row per activity with its pre- and post-run entries.

    Parameters
    ----------
    activities : polars.DataFrame
        Activities with at least :data:`ACTIVITY_INPUT_COLUMNS`; ``start_utc``/``end_utc`` are
        ``Datetime("us", "UTC")`` and may be null (clock never set). ``activity_id`` is unique.
    journal : polars.DataFrame
        The ``journal`` table.
    config : RunJournalConfig
        Windows and rules; see the module docstring.

    Returns
    -------
    polars.DataFrame
        Exactly one row per input activity, columns :data:`RUN_JOURNAL_COLUMNS`, in the order of
        ``activities``.

    Examples
    --------
    >>> from datetime import date, datetime, timezone
    >>> def t(h, m=0):
    ...     return datetime(2026, 3, 2, h, m, tzinfo=timezone.utc)
    >>> runs = pl.DataFrame({"activity_id": ["r1"], "client_id": ["c1"], "sport": ["running"],
    ...     "start_utc": [t(18)], "end_utc": [t(18, 30)], "local_date": [date(2026, 3, 2)],
    ...     "duration_s": [1800.0], "moving_time_s": [1750.0], "distance_m": [4000.0]})
    >>> entries = pl.DataFrame({"entry_id": ["e1", "e2"], "client_id": ["c1", "c1"],
    ...     "timestamp_utc": [t(17, 50), t(19)], "kind": ["pre_run", "post_run"],
    ...     "mood": [5.0, 7.0], "mood_scale_max": [10, 10], "rpe": [None, 4.0]})
    >>> build_run_journal(runs, entries).select(
    ...     "pre_entry_id", "post_entry_id", "post_minutes_after", "mood_change").row(0)
    ('e1', 'e2', 30.0, 2.0)
    """
    acts = activities.select(ACTIVITY_INPUT_COLUMNS).with_row_index("_order")
    eligible = acts.filter(
        pl.col("sport").is_in(sorted(config.sports))
        & pl.col("start_utc").is_not_null()
        & pl.col("end_utc").is_not_null()
    )
    entries = journal.select(
        "entry_id",
        "client_id",
        pl.col("timestamp_utc").alias("_ts"),
        "kind",
        "mood",
        pl.col("mood_scale_max").cast(pl.Int8),
        "rpe",
    )
    post = _claimed_entries(
        eligible, entries, claim=_POST, kinds=config.post_kinds, window=config.post_window
    )
    pre = _claimed_entries(
        eligible, entries, claim=_PRE, kinds=config.pre_kinds, window=config.pre_window
    )
    out = (
        acts.join(pre, on="activity_id", how="left")
        .join(post, on="activity_id", how="left")
        .with_columns(
            pl.col("pre_entry_id").is_not_null().alias("pre_found"),
            pl.col("post_entry_id").is_not_null().alias("post_found"),
            (
                (pl.col("start_utc") - pl.col("pre_timestamp_utc")).dt.total_microseconds()
                / _US_PER_MINUTE
            ).alias("pre_minutes_before"),
            (
                (pl.col("post_timestamp_utc") - pl.col("end_utc")).dt.total_microseconds()
                / _US_PER_MINUTE
            ).alias("post_minutes_after"),
            pl.when(pl.col("pre_mood_scale_max") == pl.col("post_mood_scale_max"))
            .then(pl.col("post_mood") - pl.col("pre_mood"))
            .alias("mood_change"),
        )
        .sort("_order")
    )
    return out.select(RUN_JOURNAL_COLUMNS)


@dataclass(frozen=True, slots=True)
class _Claim:
    """How one side of a run claims journal entries (the rule of the module docstring, as data)."""

    prefix: str
    """Output column prefix: ``pre`` or ``post``."""
    anchor: str
    """Activity column the window hangs from: ``start_utc`` or ``end_utc``."""
    strategy: Literal["backward", "forward"]
    """``backward``: an entry goes to the latest run anchored at/before it; ``forward``: earliest
    at/after it."""
    keep: Literal["first", "last"]
    """Which of a run's claimed entries it keeps (closest to the run)."""
    extra: tuple[str, ...] = ()
    """Further entry columns carried to the output (``rpe`` after a run)."""


_POST = _Claim(prefix="post", anchor="end_utc", strategy="backward", keep="first", extra=("rpe",))
_PRE = _Claim(prefix="pre", anchor="start_utc", strategy="forward", keep="last")


def _claimed_entries(
    eligible: pl.DataFrame,
    entries: pl.DataFrame,
    *,
    claim: _Claim,
    kinds: frozenset[str],
    window: timedelta,
) -> pl.DataFrame:
    """Give each entry of ``kinds`` to one run by an as-of join; each run keeps one entry."""
    anchors = eligible.select(
        "client_id", "activity_id", pl.col(claim.anchor).alias("_anchor")
    ).sort("_anchor", "activity_id")
    candidates = entries.filter(pl.col("kind").is_in(sorted(kinds))).sort("_ts", "entry_id")
    owned = candidates.join_asof(
        anchors,
        left_on="_ts",
        right_on="_anchor",
        by="client_id",
        strategy=claim.strategy,
        tolerance=window,
        check_sortedness=False,
    ).filter(pl.col("activity_id").is_not_null())
    grouped = owned.sort("activity_id", "_ts", "entry_id").group_by(
        "activity_id", maintain_order=True
    )
    picked = grouped.first() if claim.keep == "first" else grouped.last()
    p = claim.prefix
    return picked.select(
        "activity_id",
        pl.col("entry_id").alias(f"{p}_entry_id"),
        pl.col("_ts").alias(f"{p}_timestamp_utc"),
        pl.col("mood").alias(f"{p}_mood"),
        pl.col("mood_scale_max").alias(f"{p}_mood_scale_max"),
        *[pl.col(c).alias(f"{p}_{c}") for c in claim.extra],
    )
