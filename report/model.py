"""What a report shows, computed from the warehouse tables: pure functions, frames in.

:func:`client_report` turns the tables (whole, as :class:`ReportInputs`) into a
:class:`ClientReport` for one client and a window of ISO weeks ending with the week of ``as_of``;
:func:`overview_rows` orders clients most concerning first (:data:`CONCERN_ORDER`). No paths, no
clock: the caller chooses ``as_of`` (by default :func:`default_as_of`, the last day with data).

Words shown to therapists are data (:data:`INDICATOR_TITLES`, :data:`QUALITY_FLAG_WORDS`,
:data:`INSUFFICIENT_WORDS`), not scattered through the rendering. Thresholds a page states (the
adherence bands, the load-spike ratio) come from the run's :class:`transform.config.Thresholds`
through :class:`ReportRules`, never restated here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import polars as pl

from schemas.codes import INDICATOR_LABELS
from schemas.files import Outcome
from transform.adherence import AdherenceConfig
from transform.config import DEFAULT_THRESHOLDS, Thresholds

__all__ = [
    "ACWR_SWEET_SPOT",
    "CONCERN_ORDER",
    "DEFAULT_RULES",
    "INDICATOR_TITLES",
    "INSUFFICIENT_WORDS",
    "OPEN_INDICATOR_DAYS",
    "QUALITY_FLAG_WORDS",
    "ClientReport",
    "IndicatorSummary",
    "OverviewRow",
    "ReportInputs",
    "RunRow",
    "client_report",
    "default_as_of",
    "overview_row",
    "overview_rows",
    "week_start",
]

OPEN_INDICATOR_DAYS = 7
"""An indicator is *open* when an episode of it reaches one of the last 7 days up to ``as_of``."""

ACWR_SWEET_SPOT = (0.8, 1.3)
"""Acute:chronic ratio zone of lowest injury risk (Gabbett 2016), shaded green."""

BAND_NAMES: Mapping[str, str] = {"green": "on plan", "yellow": "partly on plan", "red": "off plan"}
"""Plain name of each adherence band colour (its percentages come from the config)."""


def _pct(value: float) -> str:
    return f"{value:g}"


def band_words(config: AdherenceConfig) -> dict[str, str]:
    """Plain words for each adherence band, with the percentages of ``config``'s band table.

    Examples
    --------
    >>> band_words(DEFAULT_THRESHOLDS.adherence)["yellow"]
    'partly on plan (50-80 % or 120-150 % of planned minutes)'
    """
    spans: dict[str, list[str]] = {}
    for band in config.bands:
        spans.setdefault(band.name, []).append(f"{_pct(band.low_pct)}-{_pct(band.high_pct)} %")
    words = {
        name: f"{BAND_NAMES.get(name, name)} ({' or '.join(parts)} of planned minutes)"
        for name, parts in spans.items()
    }
    words[config.fallback_band] = (
        f"{BAND_NAMES.get(config.fallback_band, config.fallback_band)} "
        "(any other share, or no run in a planned week)"
    )
    words[config.rest_band] = "planned rest week"
    words[config.no_plan_band] = "no plan for this week"
    return words


@dataclass(frozen=True)
class ReportRules:
    """The thresholds a report states, taken from the run's thresholds."""

    acwr_spike: float
    """Acute:chronic ratio above which a load spike is flagged (``LoadConfig.acwr_spike``)."""
    band_words: Mapping[str, str]
    """Plain words for each adherence band (:func:`band_words`)."""

    @classmethod
    def from_thresholds(cls, thresholds: Thresholds) -> ReportRules:
        """The rules of ``thresholds``."""
        return cls(
            acwr_spike=thresholds.load.acwr_spike, band_words=band_words(thresholds.adherence)
        )


DEFAULT_RULES = ReportRules.from_thresholds(DEFAULT_THRESHOLDS)
"""The rules of the default thresholds."""

NO_DATA = "no data"

CONCERN_ORDER: Mapping[str, int] = {
    "red": 4,
    "yellow": 3,
    NO_DATA: 2,
    "no_plan": 1,
    "green": 0,
    "rest": 0,
}
"""How concerning this week's band is (higher first), after the number of open indicators."""

INDICATOR_TITLES: Mapping[str, str] = {
    **INDICATOR_LABELS,
    "overload_low_wellbeing": "high load together with low mood or sleep",
    "insufficient_data": "not enough data to judge",
}
"""Short plain-language title of each indicator code."""

INSUFFICIENT_WORDS: Mapping[str, str] = {
    "short_history": "fewer than 21 days of history: training load is not judged yet",
    "short_history_acwr": "21-27 days of history: the acute:chronic ratio is not judged yet",
    "sparse_journal": "too few journal entries to judge load together with mood and sleep",
}
"""Plain words for the reasons of ``insufficient_data`` rows."""

QUALITY_FLAG_WORDS: Mapping[str, str] = {
    "clock_not_set": "the watch clock was never set, so the activity has no date",
    "recovered": "the file was damaged; the part before the damage was kept",
    "sport_inferred": "the sport was not recorded and was inferred",
    "values_refused": "some physically impossible values were left blank; the rest was kept",
    "timezone_unknown": "the client's time zone is missing from the roster (dates are UTC)",
}
"""Plain words for activity ``quality_flags`` (unknown flags are shown as they are)."""


@dataclass(frozen=True)
class ReportInputs:
    """The warehouse tables a report reads (whole tables, every client)."""

    weekly_adherence: pl.DataFrame
    daily_load: pl.DataFrame
    journal: pl.DataFrame
    run_journal: pl.DataFrame
    indicators: pl.DataFrame
    activities: pl.DataFrame
    files: pl.DataFrame


@dataclass(frozen=True)
class RunRow:
    """One run of the client with its pre/post mood."""

    local_date: dt.date
    sport: str
    distance_km: float | None
    minutes: float | None
    pre_mood: float | None
    post_mood: float | None
    scale_max: int | None
    mood_change: float | None
    rpe: float | None


@dataclass(frozen=True)
class WeekTotal:
    """One ISO week of the client's training, every sport."""

    week: dt.date
    minutes: float
    distance_km: float
    load: float


@dataclass(frozen=True)
class IndicatorSummary:
    """One indicator over the window: its episodes, the days raised, and its latest words."""

    code: str
    days: int
    first: dt.date
    last: dt.date
    explanation: str
    """The explanation of the most recent episode (its peak day)."""
    episodes: int = 1
    """Episodes (runs of consecutive days raised) overlapping the window."""
    ongoing: bool = False
    """Whether the latest episode still held on the client's last day."""


@dataclass(frozen=True)
class ClientReport:
    """Everything shown on one client's page (and its overview row)."""

    client_id: str
    code: str
    as_of: dt.date
    weeks: list[dt.date]
    planned_minutes: list[float | None]
    done_minutes: list[float]
    bands: list[str | None]
    days: list[dt.date]
    load: list[float | None]
    atl: list[float | None]
    ctl: list[float | None]
    tsb: list[float | None]
    """Form going into each day: CTL - ATL of the day before (load units)."""
    acwr: list[float | None]
    mood: list[float | None]
    mood_week: list[float | None]
    sleep: list[float | None]
    sleep_week: list[float | None]
    runs: list[RunRow]
    indicators: list[tuple[dt.date, str, str]]
    """(first day, code, plain explanation) of every episode in the window, newest first."""
    indicator_summary: list[IndicatorSummary]
    """Each indicator raised in the window, most recently raised first."""
    open_indicators: list[str]
    """Codes raised on the last :data:`OPEN_INDICATOR_DAYS` days, most recent first."""
    weeks_without_data: list[dt.date]
    refused_files: list[tuple[str, int]]
    """(plain reason, number of files) of every file refused for this client."""
    quality_notes: list[tuple[str, int]]
    """(plain note, number of activities) of data-quality flags on the client's activities."""
    insufficient: list[tuple[dt.date, dt.date, str]] = field(default_factory=list)
    """(from, to, plain reason) of the insufficient-data ranges overlapping the window."""
    last_data: dt.date | None = None
    week_totals: list[WeekTotal] = field(default_factory=list)
    """Moving time, distance and load per week shown (oldest first)."""
    rules: ReportRules = DEFAULT_RULES
    """The thresholds this page states."""

    @property
    def this_week_band(self) -> str:
        """Band of the week of ``as_of``, or ``"no data"``."""
        return (self.bands[-1] or NO_DATA) if self.bands else NO_DATA


@dataclass(frozen=True)
class OverviewRow:
    """One client on the clinic overview."""

    code: str
    band: str
    planned_minutes: float | None
    done_minutes: float
    open_indicators: list[str]
    last_data: dt.date | None
    refused_files: int
    weeks: list[dt.date]
    bands: list[str | None]
    concern: tuple[int, int, int]
    mood_recent: float | None = None
    """Mean daily mood (0-10) over the last :data:`MOOD_TREND_DAYS` days up to ``as_of``."""
    mood_change: float | None = None
    """``mood_recent`` minus the mean daily mood of the shown days before those (the client's
    own earlier level); null when either has no entry."""


MOOD_TREND_DAYS = 28
"""The overview's mood trend: the last four weeks against the weeks shown before them."""


def mood_trend(
    days: Sequence[dt.date], mood: Sequence[float | None], as_of: dt.date
) -> tuple[float | None, float | None]:
    """Mean mood of the last :data:`MOOD_TREND_DAYS` days and its change on the days before.

    Examples
    --------
    >>> d = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(56)]
    >>> mood_trend(d, [7.0] * 28 + [5.0] * 28, d[-1])
    (5.0, -2.0)
    """
    start = as_of - dt.timedelta(days=MOOD_TREND_DAYS - 1)
    recent = [m for d, m in zip(days, mood, strict=True) if m is not None and start <= d <= as_of]
    before = [m for d, m in zip(days, mood, strict=True) if m is not None and d < start]
    if not recent:
        return None, None
    mean = sum(recent) / len(recent)
    return mean, (mean - sum(before) / len(before)) if before else None


def week_start(day: dt.date) -> dt.date:
    """Monday of the ISO week of ``day``.

    Examples
    --------
    >>> week_start(dt.date(2026, 3, 8))
    datetime.date(2026, 3, 2)
    """
    return day - dt.timedelta(days=day.weekday())


def default_as_of(inputs: ReportInputs) -> dt.date | None:
    """Return the last day any client has an activity or a journal entry (``None``: no data)."""
    candidates = [
        inputs.activities["local_date"].max(),
        inputs.journal["local_date"].max(),
    ]
    days = [d for d in candidates if isinstance(d, dt.date)]
    return max(days) if days else None


def _by_day(frame: pl.DataFrame, column: str, days: Sequence[dt.date]) -> list[float | None]:
    values = dict(zip(frame["local_date"].to_list(), frame[column].to_list(), strict=True))
    return [None if values.get(d) is None else float(values[d]) for d in days]


def _mine(frame: pl.DataFrame, client_id: str) -> pl.DataFrame:
    return frame.filter(pl.col("client_id") == client_id)


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def client_report(
    inputs: ReportInputs,
    *,
    client_id: str,
    code: str,
    as_of: dt.date,
    weeks: int = 12,
    rules: ReportRules = DEFAULT_RULES,
) -> ClientReport:
    """Build one client's report for the ``weeks`` ISO weeks ending with the week of ``as_of``.

    Parameters
    ----------
    inputs
        The warehouse tables.
    client_id
        The client's pseudonym (as in the tables).
    code
        The clinic's code for the client, shown on the page (never written to the warehouse).
    as_of
        Last day shown; days after it in the week are left empty.
    weeks
        Number of ISO weeks, at least 1.

    Returns
    -------
    ClientReport
        Weekly series (one value per week), daily series (one value per day, ``None`` where the
        table has no value), runs, indicators and data-quality notes.
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    last_week = week_start(as_of)
    week_list = [last_week - dt.timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    first_day = week_list[0]
    days = [first_day + dt.timedelta(days=i) for i in range((as_of - first_day).days + 1)]
    in_window = pl.col("local_date").is_between(first_day, as_of)

    adherence = _mine(inputs.weekly_adherence, client_id)
    by_week = {row["week_start"]: row for row in adherence.iter_rows(named=True)}
    planned = [_float(by_week[w]["planned_minutes"]) if w in by_week else None for w in week_list]
    done = [float(by_week[w]["completed_minutes"]) if w in by_week else 0.0 for w in week_list]
    bands = [by_week[w]["band"] if w in by_week else None for w in week_list]

    daily = _mine(inputs.daily_load, client_id).filter(in_window)
    journal = _mine(inputs.journal, client_id)
    journal_days = (
        journal.filter(in_window)
        .group_by("local_date")
        .agg(
            mood=(pl.col("mood") / pl.col("mood_scale_max").cast(pl.Float64) * 10).mean(),
            sleep=pl.col("sleep_hours").mean(),
        )
    )
    mood_week = [None if v is None else v * 10 for v in _by_day(daily, "mood_week_mean_frac", days)]

    runs = [
        RunRow(
            local_date=row["local_date"],
            sport=row["sport"],
            distance_km=None if row["distance_m"] is None else row["distance_m"] / 1000,
            minutes=None if row["moving_time_s"] is None else row["moving_time_s"] / 60,
            pre_mood=row["pre_mood"],
            post_mood=row["post_mood"],
            scale_max=row["post_mood_scale_max"] or row["pre_mood_scale_max"],
            mood_change=row["mood_change"],
            rpe=row["post_rpe"],
        )
        for row in _mine(inputs.run_journal, client_id)
        .filter(in_window & (pl.col("sport") == "running"))
        .sort("local_date", "start_utc", descending=True)
        .iter_rows(named=True)
    ]

    raised = _mine(inputs.indicators, client_id)
    overlaps = (pl.col("until_date") >= first_day) & (pl.col("local_date") <= as_of)
    episodes = raised.filter((pl.col("indicator") != "insufficient_data") & overlaps).sort(
        "local_date", "indicator", descending=[True, False]
    )
    indicator_rows = [
        (row["local_date"], row["indicator"], row["explanation"])
        for row in episodes.iter_rows(named=True)
    ]
    # one line per indicator, in the order of its latest episode (episodes are newest first);
    # days are counted within the window
    shown_until = pl.min_horizontal(pl.col("until_date"), pl.lit(as_of))
    shown_from = pl.max_horizontal(pl.col("local_date"), pl.lit(first_day))
    summary = [
        IndicatorSummary(**row)
        for row in episodes.with_columns(
            shown_until=shown_until, span=(shown_until - shown_from).dt.total_days() + 1
        )
        .group_by(pl.col("indicator").alias("code"), maintain_order=True)
        .agg(
            days=pl.col("span").sum(),
            first=pl.col("local_date").min(),
            last=pl.col("shown_until").max(),
            explanation=pl.col("explanation").first(),
            episodes=pl.len(),
            ongoing=pl.col("ongoing").first(),
        )
        .iter_rows(named=True)
    ]
    open_since = as_of - dt.timedelta(days=OPEN_INDICATOR_DAYS - 1)
    open_codes = (
        episodes.filter(pl.col("until_date") >= open_since)["indicator"]
        .unique(maintain_order=True)
        .to_list()
    )
    insufficient = [
        (row["local_date"], row["until_date"], INSUFFICIENT_WORDS.get(row["reason"], row["reason"]))
        for row in raised.filter(
            (pl.col("indicator") == "insufficient_data")
            & (pl.col("until_date") >= first_day)
            & (pl.col("local_date") <= as_of)
        )
        .sort("local_date")
        .iter_rows(named=True)
    ]

    activities = _mine(inputs.activities, client_id)
    data_days = set(activities["local_date"].drop_nulls().to_list()) | set(
        journal["local_date"].to_list()
    )
    first_data = min(data_days) if data_days else None
    data_weeks = {week_start(d) for d in data_days}
    without = [
        w
        for w in week_list
        if first_data is not None and w >= week_start(first_data) and w not in data_weeks
    ]
    flagged = (
        activities.filter(in_window | pl.col("local_date").is_null())
        .select(pl.col("quality_flags").str.split(",").alias("flag"))
        .explode("flag")
        .filter(pl.col("flag").str.len_chars() > 0)
        .group_by("flag")
        .len()
        .sort("flag")
    )
    quality = [
        (QUALITY_FLAG_WORDS.get(row["flag"], row["flag"]), int(row["len"]))
        for row in flagged.iter_rows(named=True)
    ]
    refused = (
        _mine(inputs.files, client_id)
        .filter(pl.col("outcome") == Outcome.QUARANTINED)
        .group_by(pl.col("reason_message").fill_null("refused (no reason recorded)"))
        .len()
        .sort("len", "reason_message", descending=[True, False])
    )
    refused_rows = [
        (str(row["reason_message"]), int(row["len"])) for row in refused.iter_rows(named=True)
    ]
    past_days = [d for d in data_days if d <= as_of]

    return ClientReport(
        client_id=client_id,
        code=code,
        as_of=as_of,
        weeks=week_list,
        planned_minutes=planned,
        done_minutes=done,
        bands=bands,
        days=days,
        load=_by_day(daily, "load", days),
        atl=_by_day(daily, "atl", days),
        ctl=_by_day(daily, "ctl", days),
        tsb=_by_day(daily, "tsb", days),
        acwr=_by_day(daily, "acwr_ewma", days),
        mood=_by_day(journal_days, "mood", days),
        mood_week=mood_week,
        sleep=_by_day(journal_days, "sleep", days),
        sleep_week=_by_day(daily, "sleep_week_mean_h", days),
        runs=runs,
        indicators=indicator_rows,
        indicator_summary=summary,
        open_indicators=open_codes,
        weeks_without_data=without,
        refused_files=refused_rows,
        quality_notes=quality,
        insufficient=insufficient,
        last_data=max(past_days) if past_days else None,
        week_totals=_week_totals(activities, daily, week_list),
        rules=rules,
    )


def _week_totals(
    activities: pl.DataFrame, daily: pl.DataFrame, weeks: list[dt.date]
) -> list[WeekTotal]:
    """Moving time and distance (activities, every sport) and load (daily_load) per week."""
    week = pl.col("local_date").dt.truncate("1w").alias("week")
    moved = (
        activities.filter(pl.col("local_date").is_not_null())
        .group_by(week)
        .agg(
            minutes=pl.col("moving_time_s").fill_null(0.0).sum() / 60.0,
            km=pl.col("distance_m").fill_null(0.0).sum() / 1000.0,
        )
    )
    loads = daily.group_by(week).agg(load=pl.col("load").sum())
    minutes = dict(zip(moved["week"], moved["minutes"], strict=True))
    km = dict(zip(moved["week"], moved["km"], strict=True))
    load = dict(zip(loads["week"], loads["load"], strict=True))
    return [
        WeekTotal(w, float(minutes.get(w, 0.0)), float(km.get(w, 0.0)), float(load.get(w, 0.0)))
        for w in weeks
    ]


def overview_row(report: ClientReport) -> OverviewRow:
    """Return the overview line of a client's report with its concern key (:func:`overview_rows`)."""
    band = report.this_week_band
    days_quiet = (report.as_of - report.last_data).days if report.last_data else 10_000
    mood_recent, mood_change = mood_trend(report.days, report.mood, report.as_of)
    return OverviewRow(
        code=report.code,
        band=band,
        planned_minutes=report.planned_minutes[-1],
        done_minutes=report.done_minutes[-1],
        open_indicators=report.open_indicators,
        last_data=report.last_data,
        refused_files=sum(n for _, n in report.refused_files),
        weeks=report.weeks,
        bands=report.bands,
        concern=(len(report.open_indicators), CONCERN_ORDER.get(band, 0), days_quiet),
        mood_recent=mood_recent,
        mood_change=mood_change,
    )


def overview_rows(reports: Sequence[ClientReport]) -> list[OverviewRow]:
    """Overview rows, most concerning first.

    Order: more open indicators first; then this week's band by :data:`CONCERN_ORDER` (red,
    yellow, no data, no plan, green/rest); then longer without data; then by code.
    """
    rows = [overview_row(r) for r in reports]
    return sorted(rows, key=lambda r: (-r.concern[0], -r.concern[1], -r.concern[2], r.code))
