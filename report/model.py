"""What a report shows, computed from the warehouse tables: pure functions, frames in.

:func:`client_reports` turns the tables (whole, as :class:`ReportInputs`) into a
:class:`ClientReport` for each client and a window of ISO weeks ending with the week of ``as_of``
(the queries run once for the whole clinic, :mod:`report.queries`; :func:`client_report` is the
same for one client); :func:`overview_rows` orders clients most concerning first
(:data:`CONCERN_ORDER`). No paths, no clock: the caller chooses ``as_of`` (by default
:func:`default_as_of`, the last day with data).

Words shown to therapists are data (:data:`INDICATOR_TITLES`, :data:`QUALITY_FLAG_WORDS`,
:data:`INSUFFICIENT_WORDS`), not scattered through the rendering. Thresholds a page states (the
adherence bands, the load-spike ratio) come from the run's :class:`transform.config.Thresholds`
through :class:`ReportRules`, never restated here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from report.queries import ClinicRows, ReportInputs, Rows, Window, query_clinic, week_start
from schemas.codes import INDICATOR_LABELS
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
    "client_reports",
    "default_as_of",
    "overview_row",
    "overview_rows",
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


def default_as_of(inputs: ReportInputs) -> dt.date | None:
    """Return the last day any client has an activity or a journal entry (``None``: no data)."""
    candidates = [
        inputs.activities["local_date"].max(),
        inputs.journal["local_date"].max(),
    ]
    days = [d for d in candidates if isinstance(d, dt.date)]
    return max(days) if days else None


def _float(value: object) -> float | None:
    return None if value is None else float(value)  # type: ignore[arg-type]


def client_reports(
    inputs: ReportInputs,
    clients: Mapping[str, str],
    *,
    as_of: dt.date,
    weeks: int = 12,
    rules: ReportRules = DEFAULT_RULES,
) -> list[ClientReport]:
    """Build the reports of ``clients`` for the ``weeks`` ISO weeks ending with the week of ``as_of``.

    Each table is queried once for every client (the cost of a query does not grow with the
    clinic); the results are then split by client, so a further client costs only the building of
    its Python objects.

    Parameters
    ----------
    inputs
        The warehouse tables.
    clients
        Client pseudonym (as in the tables) -> the clinic's code for the client, shown on the page
        (never written to the warehouse).
    as_of
        Last day shown; days after it in the week are left empty.
    weeks
        Number of ISO weeks, at least 1.
    rules
        The thresholds the pages state.

    Returns
    -------
    list[ClientReport]
        One report per client, in the order of ``clients``: weekly series (one value per week),
        daily series (one value per day, ``None`` where the table has no value), runs, indicators
        and data-quality notes.
    """
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    window = Window.ending(as_of, weeks)
    clinic = query_clinic(inputs, list(clients), window)
    return [_report(clinic, window, cid, code, rules) for cid, code in clients.items()]


def client_report(
    inputs: ReportInputs,
    *,
    client_id: str,
    code: str,
    as_of: dt.date,
    weeks: int = 12,
    rules: ReportRules = DEFAULT_RULES,
) -> ClientReport:
    """Build one client's report: :func:`client_reports` for ``{client_id: code}`` alone.

    Parameters
    ----------
    client_id
        The client's pseudonym (as in the tables).
    code
        The clinic's code for the client, shown on the page (never written to the warehouse).

    The other parameters are those of :func:`client_reports`.
    """
    return client_reports(inputs, {client_id: code}, as_of=as_of, weeks=weeks, rules=rules)[0]


def _report(
    clinic: ClinicRows, window: Window, client_id: str, code: str, rules: ReportRules
) -> ClientReport:
    """One client's report from the clinic's split query results (Python only, no query)."""
    as_of, days = window.as_of, window.days

    def mine(rows: Rows) -> list[dict[str, Any]]:
        return rows.get(client_id, [])

    by_week = {row["week_start"]: row for row in mine(clinic.adherence)}
    daily = {row["local_date"]: row for row in mine(clinic.daily)}
    journal = {row["local_date"]: row for row in mine(clinic.journal_days)}

    def by_day(rows: Mapping[dt.date, Mapping[str, Any]], column: str) -> list[float | None]:
        return [_float(rows[d][column]) if d in rows else None for d in days]

    episodes = mine(clinic.episodes)
    open_since = as_of - dt.timedelta(days=OPEN_INDICATOR_DAYS - 1)
    [data] = mine(clinic.data_days) or [{"first": None, "last": None, "weeks": []}]
    data_weeks = set(data["weeks"])
    moved = {row["week"]: row for row in mine(clinic.moved)}
    loads = {row["week"]: row["load"] for row in mine(clinic.loads)}
    return ClientReport(
        client_id=client_id,
        code=code,
        as_of=as_of,
        weeks=window.weeks,
        planned_minutes=[
            _float(by_week[w]["planned_minutes"]) if w in by_week else None for w in window.weeks
        ],
        done_minutes=[
            float(by_week[w]["completed_minutes"]) if w in by_week else 0.0 for w in window.weeks
        ],
        bands=[by_week[w]["band"] if w in by_week else None for w in window.weeks],
        days=days,
        load=by_day(daily, "load"),
        atl=by_day(daily, "atl"),
        ctl=by_day(daily, "ctl"),
        tsb=by_day(daily, "tsb"),
        acwr=by_day(daily, "acwr_ewma"),
        mood=by_day(journal, "mood"),
        mood_week=[None if v is None else v * 10 for v in by_day(daily, "mood_week_mean_frac")],
        sleep=by_day(journal, "sleep"),
        sleep_week=by_day(daily, "sleep_week_mean_h"),
        runs=[_run_row(row) for row in mine(clinic.runs)],
        indicators=[(e["local_date"], e["indicator"], e["explanation"]) for e in episodes],
        indicator_summary=_indicator_summary(episodes, window),
        open_indicators=list(
            dict.fromkeys(e["indicator"] for e in episodes if e["until_date"] >= open_since)
        ),
        weeks_without_data=[
            w
            for w in window.weeks
            if data["first"] is not None and w >= week_start(data["first"]) and w not in data_weeks
        ],
        refused_files=[(str(r["reason_message"]), int(r["len"])) for r in mine(clinic.refused)],
        quality_notes=[
            (QUALITY_FLAG_WORDS.get(r["flag"], r["flag"]), int(r["len"]))
            for r in mine(clinic.quality)
        ],
        insufficient=[
            (r["local_date"], r["until_date"], INSUFFICIENT_WORDS.get(r["reason"], r["reason"]))
            for r in mine(clinic.insufficient)
        ],
        last_data=data["last"],
        week_totals=[
            WeekTotal(
                w,
                float(moved[w]["minutes"]) if w in moved else 0.0,
                float(moved[w]["km"]) if w in moved else 0.0,
                float(loads.get(w, 0.0)),
            )
            for w in window.weeks
        ],
        rules=rules,
    )


def _run_row(row: Mapping[str, Any]) -> RunRow:
    return RunRow(
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


def _indicator_summary(
    episodes: Sequence[Mapping[str, Any]], window: Window
) -> list[IndicatorSummary]:
    """One line per indicator, in the order of its latest episode (``episodes``: newest first).

    Days are counted within the window; ``first`` is the first day of the earliest episode.
    """
    lines: dict[str, IndicatorSummary] = {}
    for e in episodes:
        shown_until = min(e["until_date"], window.as_of)
        span = (shown_until - max(e["local_date"], window.first_day)).days + 1
        seen = lines.get(e["indicator"])
        lines[e["indicator"]] = (
            IndicatorSummary(
                code=e["indicator"],
                days=span,
                first=e["local_date"],
                last=shown_until,
                explanation=e["explanation"],
                ongoing=e["ongoing"],
            )
            if seen is None
            else replace(
                seen,
                days=seen.days + span,
                first=min(seen.first, e["local_date"]),
                last=max(seen.last, shown_until),
                episodes=seen.episodes + 1,
            )
        )
    return list(lines.values())


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
