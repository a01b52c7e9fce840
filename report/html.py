"""Self-contained HTML pages: the clinic overview and one page per client (pure functions).

Pages carry their style inline and their charts as inline SVG; no script, no font, no image file.
A Content-Security-Policy ``default-src 'none'`` forbids the browser to fetch anything, so a page
that opens correctly offline is guaranteed not to leak a request. Every value is HTML-escaped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from html import escape

from report.model import (
    ACWR_SWEET_SPOT,
    DEFAULT_RULES,
    INDICATOR_TITLES,
    NO_DATA,
    OPEN_INDICATOR_DAYS,
    ClientReport,
    IndicatorSummary,
    OverviewRow,
    ReportRules,
)
from report.svg import (
    BAND_COLOURS,
    NO_DATA_COLOUR,
    Panel,
    Series,
    Zone,
    band_strip_svg,
    timeline_svg,
    weekly_bars_svg,
)
from warehouse.problems import OpenProblems

__all__ = ["CSP", "client_page_name", "render_client_page", "render_overview"]

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
"""The pages' Content-Security-Policy: nothing may be loaded from anywhere."""

STYLE = """
body{font-family:system-ui,sans-serif;color:#263238;margin:0 auto;max-width:900px;padding:16px 20px;
line-height:1.4}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.15rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #cfd8dc;padding-bottom:.2rem}
table{border-collapse:collapse;width:100%;font-size:.92rem}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid #eceff1;vertical-align:top}th{background:#f5f7f8}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.chip{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85rem;color:#fff}
.chip.yellow,.chip.no_plan,.chip.nodata{color:#263238}
.muted{color:#607d8b}.up{color:#2e7d32}.down{color:#c62828}
.alert{background:#fff4f4;border-left:4px solid #c62828;padding:6px 10px;margin:.4rem 0}
.ok{background:#f1f8f2;border-left:4px solid #2e7d32;padding:6px 10px;margin:.4rem 0}
svg.chart{display:block;margin:.4rem 0;max-width:100%;height:auto}
ul{margin:.2rem 0 .6rem 1.2rem;padding:0}
footer{margin-top:2rem;font-size:.8rem;color:#78909c}
"""


def client_page_name(code: str) -> str:
    """File name of a client's page, different for every two distinct codes.

    The code with anything but ASCII letters, digits, - and _ as _, then 8 hex digits of the
    SHA-256 of the code itself: ``A.1`` and ``A_1`` (or ``a1`` and ``A1`` on a file system that
    ignores case) never share a page.

    Examples
    --------
    >>> client_page_name("C-001")
    'C-001-444743ab.html'
    >>> client_page_name("A.1") != client_page_name("A_1")
    True
    >>> client_page_name("../x y")[:7]
    '___x_y-'
    """
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "_" for c in code)
    return f"{safe}-{hashlib.sha256(code.encode('utf-8')).hexdigest()[:8]}.html"


def _problems_html(problems: OpenProblems) -> str:
    """The inbox's open problems, each with what fixes it (they stay until fixed)."""
    items = [
        f"<li>Folder <b>{escape(name)}</b> has no row in roster.csv: heart-rate zones, load and "
        "local dates need it (add the row).</li>"
        for name in problems.folders_without_roster
    ]
    items += [
        f"<li>roster.csv line {issue.line} refused: {escape(issue.message)}</li>"
        for issue in problems.roster_rows_refused
    ]
    items += [
        f"<li>{escape(stale.folder)}/{escape(stale.path)} has looked half-copied for "
        f"{stale.hours} h and is left for later by every run (copy it again, or remove it).</li>"
        for stale in problems.stale_files
    ]
    items += [
        f"<li>{count} refused file(s) in _quarantine/{escape(folder)}/ wait for someone to read "
        "their .reason.txt.</li>"
        for folder, count in problems.quarantined.items()
    ]
    return f"<h2>Open problems ({problems.count})</h2><ul>{''.join(items)}</ul>"


def _page(title: str, body: str, *, generated: dt.datetime | None) -> str:
    stamp = f"Generated {generated:%Y-%m-%d %H:%M} UTC. " if generated else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}"
        f"<footer>{stamp}Confidential: contains health information about clients of the clinic."
        "</footer></body></html>\n"
    )


def _chip(band: str, words: Mapping[str, str]) -> str:
    css = "nodata" if band == NO_DATA else band
    colour = BAND_COLOURS.get(band, NO_DATA_COLOUR)
    title = words.get(band, "no activity or journal entry this week")
    return (
        f'<span class="chip {escape(css)}" style="background:{colour}" title="{escape(title)}">'
        f"{escape(band.replace('_', ' '))}</span>"
    )


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _mood_cell(value: float | None, scale: int | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}/{scale}" if scale else f"{value:g}"


def _change_cell(change: float | None) -> str:
    if change is None:
        return '<td class="num muted">—</td>'
    if change > 0:
        return f'<td class="num up">&#9650; +{change:g}</td>'
    if change < 0:
        return f'<td class="num down">&#9660; {change:g}</td>'
    return '<td class="num">0</td>'


def _sentence(text: str) -> str:
    return escape(text[:1].upper() + text[1:])


def _days_raised(summary: IndicatorSummary) -> str:
    s = summary
    times = "once" if s.episodes == 1 else f"{s.episodes} times"
    still = " and still holds" if s.ongoing else ""
    if s.days == 1:
        return f"raised {times}, on {s.last:%a %d %b}{still}."
    return (
        f"raised {times} ({s.days} days in all) between {s.first:%d %b} and {s.last:%d %b}{still}."
    )


def _mood_trend(row: OverviewRow) -> str:
    if row.mood_recent is None:
        return "no entries"
    text = f"{row.mood_recent:.1f}/10"
    if row.mood_change is not None:
        text += f" ({row.mood_change:+.1f})"
    return text


def _week_totals_table(report: ClientReport) -> str:
    rows = "".join(
        f'<tr><td>{w.week:%d %b}</td><td class="num">{int(w.minutes) // 60}:'
        f'{int(w.minutes) % 60:02d}</td><td class="num">{w.distance_km:.1f}</td>'
        f'<td class="num">{w.load:.0f}</td></tr>'
        for w in report.week_totals
    )
    return (
        "<h3>Weekly totals (every sport)</h3><table><thead><tr><th>week of</th>"
        '<th class="num">moving time (h:mm)</th><th class="num">distance (km)</th>'
        f'<th class="num">load (TRIMP)</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _indicator_list(codes: Sequence[str]) -> str:
    return ", ".join(escape(INDICATOR_TITLES.get(c, c)) for c in codes) or "none"


def _timeline(report: ClientReport) -> str:
    low, high = ACWR_SWEET_SPOT
    spike = report.rules.acwr_spike
    panels = [
        Panel(
            title="Training load",
            unit="TRIMP",
            bars=report.load,
            series=[
                Series("fatigue (ATL, 7-day)", report.atl, "#d84315"),
                Series("fitness (CTL, 42-day)", report.ctl, "#1565c0"),
            ],
        ),
        Panel(
            title="Form (TSB = fitness - fatigue)",
            unit="TRIMP",
            y_min=min([-10.0, *(v for v in report.tsb if v is not None)]),
            y_max=max([10.0, *(v for v in report.tsb if v is not None)]),
            series=[Series("form (TSB)", report.tsb, "#2e7d32")],
        ),
        Panel(
            title="Acute:chronic load ratio",
            series=[Series("ACWR (EWMA)", report.acwr, "#4527a0")],
            y_max=2.0 if max((v or 0.0) for v in [*report.acwr, 0.0]) <= 2.0 else None,
            zones=[
                Zone(low, high, BAND_COLOURS["green"], f"{low}-{high}: usual range"),
                Zone(spike, None, BAND_COLOURS["red"], f"> {spike}: load spike"),
            ],
        ),
        Panel(
            title="Mood",
            unit="scaled to 0-10",
            y_max=10.0,
            series=[
                Series("daily", report.mood, "#00838f", dots=True),
                Series("7-day mean", report.mood_week, "#00838f"),
            ],
        ),
        Panel(
            title="Sleep",
            unit="hours",
            series=[
                Series("nightly", report.sleep, "#6a1b9a", dots=True),
                Series("7-day mean", report.sleep_week, "#6a1b9a"),
            ],
        ),
    ]
    markers = [(day, INDICATOR_TITLES.get(code, code)) for day, code, _ in report.indicators]
    return timeline_svg(report.days, panels, markers=markers)


def render_client_page(
    report: ClientReport,
    *,
    overview_href: str | None = "../index.html",
    generated: dt.datetime | None = None,
) -> str:
    """One client's page.

    Parameters
    ----------
    report
        What to show.
    overview_href
        Link back to the overview (``None``: no link).
    generated
        Generation time shown in the footer (``None``: not shown, e.g. for reproducible tests).
    """
    first, last = report.weeks[0], report.weeks[-1]
    parts = []
    if overview_href:
        parts.append(f'<p><a href="{escape(overview_href)}">&larr; all clients</a></p>')
    parts.append(f"<h1>Client {escape(report.code)}</h1>")
    parts.append(
        f'<p class="muted">{len(report.weeks)} weeks from {first:%d %b %Y} to '
        f"{report.as_of:%d %b %Y} (data up to {report.as_of:%a %d %b %Y}).</p>"
    )
    band = report.this_week_band
    words = report.rules.band_words
    parts.append(
        f"<p>This week (from {last:%d %b}): {_chip(band, words)} "
        f"{escape(words.get(band, 'no activity or journal entry this week'))}.</p>"
    )
    if report.open_indicators:
        parts.append(
            f'<div class="alert"><strong>Raised in the last {OPEN_INDICATOR_DAYS} days:</strong> '
            f"{_indicator_list(report.open_indicators)}.</div>"
        )
    else:
        parts.append(
            f'<div class="ok">No indicator raised in the last {OPEN_INDICATOR_DAYS} days.</div>'
        )

    parts.append("<h2>Planned and done, by week</h2>")
    parts.append(
        weekly_bars_svg(report.weeks, report.planned_minutes, report.done_minutes, report.bands)
    )
    legend = " ".join(f"{_chip(b, words)} {escape(w)}" for b, w in words.items())
    parts.append(f'<p class="muted">{legend}</p>')

    parts.append("<h2>Training load, mood and sleep</h2>")
    parts.append(_timeline(report))
    parts.append(
        '<p class="muted">Fatigue (ATL) follows the last week of training, fitness (CTL) the last '
        "six weeks. A ratio of recent to longer-term load (ACWR) between "
        f"{ACWR_SWEET_SPOT[0]} and {ACWR_SWEET_SPOT[1]} is the usual range; above "
        f"{report.rules.acwr_spike} load rose faster than the body is used to. Red triangles mark days "
        "with an indicator.</p>"
    )

    parts.append(_week_totals_table(report))

    parts.append("<h2>Runs and mood</h2>")
    if report.runs:
        rows = "".join(
            f"<tr><td>{run.local_date:%a %d %b}</td>"
            f'<td class="num">{_num(run.distance_km, 1)}</td>'
            f'<td class="num">{_num(run.minutes)}</td>'
            f'<td class="num">{_mood_cell(run.pre_mood, run.scale_max)}</td>'
            f'<td class="num">{_mood_cell(run.post_mood, run.scale_max)}</td>'
            f'{_change_cell(run.mood_change)}<td class="num">{_num(run.rpe)}</td></tr>'
            for run in report.runs
        )
        parts.append(
            '<table><thead><tr><th>day</th><th class="num">km</th><th class="num">minutes</th>'
            '<th class="num">mood before</th><th class="num">mood after</th>'
            '<th class="num">change</th><th class="num">effort (0-10)</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        parts.append("<p>No run in these weeks.</p>")

    parts.append("<h2>Indicators raised</h2>")
    if report.indicator_summary:
        items = "".join(
            f"<li><strong>{_sentence(INDICATOR_TITLES.get(s.code, s.code))}</strong>: "
            f"{_days_raised(s)} Latest: {escape(s.explanation)}</li>"
            for s in report.indicator_summary
        )
        parts.append(f"<ul>{items}</ul>")
    else:
        parts.append("<p>None in these weeks.</p>")

    parts.append("<h2>Data quality</h2>")
    notes = []
    if report.weeks_without_data:
        weeks = ", ".join(f"{w:%d %b}" for w in report.weeks_without_data)
        notes.append(f"<li>Weeks with no activity and no journal entry: {weeks}.</li>")
    notes += [
        f"<li>{start:%d %b} to {end:%d %b}: {escape(text)}.</li>"
        for start, end, text in report.insufficient
    ]
    notes += [
        f"<li>{n} file{'s' if n != 1 else ''} refused: {escape(reason)}</li>"
        for reason, n in report.refused_files
    ]
    notes += [
        f"<li>{n} activit{'ies' if n != 1 else 'y'}: {escape(note)}.</li>"
        for note, n in report.quality_notes
    ]
    parts.append(f"<ul>{''.join(notes)}</ul>" if notes else "<p>Nothing to note.</p>")
    return _page(f"Client {report.code}: running and mood", "".join(parts), generated=generated)


def render_overview(
    rows: Sequence[OverviewRow],
    *,
    as_of: dt.date,
    generated: dt.datetime | None = None,
    client_dir: str = "clients",
    rules: ReportRules = DEFAULT_RULES,
    problems: OpenProblems | None = None,
) -> str:
    """Render the clinic overview: one line per client, most concerning first.

    Parameters
    ----------
    rows
        From :func:`report.model.overview_rows` (already ordered).
    as_of
        The day the report runs up to.
    generated
        Generation time shown in the footer (``None``: not shown).
    client_dir
        Folder of the client pages, relative to the overview.
    problems
        The inbox's open problems, listed first (``None``: not shown).
    """
    words = rules.band_words
    body = [
        "<h1>Running therapy: clinic overview</h1>",
        f'<p class="muted">Week of {as_of - dt.timedelta(days=as_of.weekday()):%d %b %Y}, data up '
        f"to {as_of:%a %d %b %Y}. Clients with open indicators and off-plan weeks come first. "
        f"Open indicators: raised in the last {OPEN_INDICATOR_DAYS} days.</p>",
    ]
    if problems is not None and problems.count:
        body.append(_problems_html(problems))
    if not rows:
        body.append("<p>No client has data yet.</p>")
    else:
        lines = []
        for row in rows:
            href = f"{client_dir}/{client_page_name(row.code)}"
            strip = band_strip_svg(row.weeks, row.bands, title=f"Weekly bands of client {row.code}")
            minutes = f"{row.done_minutes:.0f} / {_num(row.planned_minutes)}"
            last = f"{row.last_data:%d %b}" if row.last_data else "never"
            lines.append(
                f'<tr><td><a href="{escape(href)}">{escape(row.code)}</a></td>'
                f'<td>{_chip(row.band, words)}</td><td class="num">{minutes}</td>'
                f"<td>{_indicator_list(row.open_indicators)}</td>"
                f'<td class="num">{_mood_trend(row)}</td><td>{strip}</td>'
                f'<td>{last}</td><td class="num">{row.refused_files}</td></tr>'
            )
        body.append(
            "<table><thead><tr><th>client</th><th>this week</th>"
            '<th class="num">minutes done / planned</th><th>open indicators</th>'
            '<th class="num">mood, last 4 weeks (change on before)</th>'
            f"<th>last {len(rows[0].weeks)} weeks</th><th>last data</th>"
            '<th class="num">files refused</th></tr></thead>'
            f"<tbody>{''.join(lines)}</tbody></table>"
        )
        legend = " ".join(f"{_chip(b, words)} {escape(w)}" for b, w in words.items())
        body.append(
            f'<p class="muted">{legend} {_chip(NO_DATA, words)} no activity or journal entry</p>'
        )
    return _page("Running therapy: clinic overview", "".join(body), generated=generated)
