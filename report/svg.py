"""Charts as inline SVG text: pure functions, no plotting library, no script, no network.

Every chart is a ``<svg class="chart">`` with a ``<title>`` (read by screen readers) and fixed
``viewBox`` so it scales with the page. Missing values (``None``) break lines instead of being
drawn as zero.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

__all__ = [
    "BAND_COLOURS",
    "NO_DATA_COLOUR",
    "Panel",
    "Series",
    "Zone",
    "band_strip_svg",
    "nice_ticks",
    "timeline_svg",
    "weekly_bars_svg",
]

BAND_COLOURS: Mapping[str, str] = {
    "green": "#2e7d32",
    "yellow": "#f2b705",
    "red": "#c62828",
    "rest": "#78909c",
    "no_plan": "#b0bec5",
}
"""Fill colour of each adherence band."""

NO_DATA_COLOUR = "#eceff1"
PLANNED_COLOUR = "#cfd8dc"
TEXT_COLOUR = "#263238"
GRID_COLOUR = "#e0e0e0"
FONT = 'font-family="system-ui, sans-serif"'

WIDTH = 860
LEFT = 56
RIGHT = 16


@dataclass(frozen=True)
class Series:
    """One line (or dots) on a panel: a value per day, ``None`` where there is none."""

    label: str
    values: Sequence[float | None]
    colour: str
    dots: bool = False
    width: float = 2.0
    dashed: bool = False


@dataclass(frozen=True)
class Zone:
    """A shaded horizontal band of a panel (``high`` ``None``: up to the top)."""

    low: float
    high: float | None
    colour: str
    label: str


@dataclass(frozen=True)
class Panel:
    """One panel of a timeline: series sharing a y axis, optional zones and bars."""

    title: str
    series: Sequence[Series]
    y_min: float = 0.0
    y_max: float | None = None
    zones: Sequence[Zone] = ()
    bars: Sequence[float | None] = ()
    bar_colour: str = PLANNED_COLOUR
    unit: str = ""


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round tick values covering ``low``-``high`` (steps of 1, 2 or 5 times a power of ten).

    Examples
    --------
    >>> nice_ticks(0, 100)
    [0.0, 25.0, 50.0, 75.0, 100.0]
    >>> nice_ticks(0, 7.3)
    [0.0, 2.0, 4.0, 6.0, 8.0]
    """
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return [float(t) for t in ticks]


def _fmt(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg_open(height: int, title: str, css_class: str = "chart") -> str:
    return (
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'{FONT} font-size="12"><title>{escape(title)}</title>'
    )


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    size: int = 12,
    colour: str = TEXT_COLOUR,
    weight: str = "normal",
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{colour}" font-weight="{weight}">{escape(text)}</text>'
    )


def _polyline_paths(points: Sequence[tuple[float, float] | None]) -> list[str]:
    """SVG path ``d`` strings, one per run of consecutive points (``None`` breaks a line)."""
    paths: list[str] = []
    current: list[tuple[float, float]] = []
    for point in [*points, None]:
        if point is None:
            if len(current) >= 2:
                paths.append("M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in current))
            current = []
        else:
            current.append(point)
    return paths


def _week_label(week: dt.date, band: str | None) -> str:
    return f"week of {week:%d %b}: {band or 'no data'}"


def _done_label(week: dt.date, minutes: float, band: str | None) -> str:
    return f"week of {week:%d %b}: {minutes:.0f} min done ({band or 'no data'})"


def weekly_bars_svg(
    weeks: Sequence[dt.date],
    planned: Sequence[float | None],
    done: Sequence[float],
    bands: Sequence[str | None],
    *,
    title: str = "Planned and completed running minutes per week",
) -> str:
    """Planned (grey) next to completed (coloured by adherence band) minutes, one pair per week.

    Parameters
    ----------
    weeks
        Monday of each week, oldest first.
    planned
        Planned minutes (``None``: no plan).
    done
        Completed minutes.
    bands
        Adherence band of each week (``None``: no data for the week).
    title
        The chart's accessible title.
    """
    height, top, bottom = 250, 30, 58
    plot_h = height - top - bottom
    n = max(len(weeks), 1)
    top_value = max([*(p or 0.0 for p in planned), *done, 10.0])
    ticks = nice_ticks(0.0, top_value)
    y_max = ticks[-1]
    slot = (WIDTH - LEFT - RIGHT) / n

    def y(value: float) -> float:
        return top + plot_h * (1 - value / y_max)

    parts = [_svg_open(height, title)]
    for tick in ticks:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{GRID_COLOUR}"/>'
        )
        parts.append(_text(LEFT - 6, y(tick) + 4, _fmt(tick), anchor="end", size=11))
    parts.append(_text(4, 16, "minutes", size=11))
    bar_w = slot * 0.34
    for i, week in enumerate(weeks):
        x0 = LEFT + i * slot + slot * 0.14
        plan = planned[i]
        if plan is not None:
            parts.append(
                f'<rect class="planned" x="{x0:.1f}" y="{y(plan):.1f}" width="{bar_w:.1f}" '
                f'height="{max(y(0) - y(plan), 0.0):.1f}" fill="{PLANNED_COLOUR}">'
                f"<title>{escape(f'week of {week:%d %b}: {plan:.0f} min planned')}</title></rect>"
            )
        band = bands[i]
        colour = BAND_COLOURS.get(band or "", NO_DATA_COLOUR)
        parts.append(
            f'<rect class="done" x="{x0 + bar_w + 2:.1f}" y="{y(done[i]):.1f}" '
            f'width="{bar_w:.1f}" height="{max(y(0) - y(done[i]), 0.0):.1f}" fill="{colour}">'
            f"<title>{escape(_done_label(week, done[i], band))}"
            "</title></rect>"
        )
        centre = LEFT + (i + 0.5) * slot
        parts.append(
            f'<rect x="{centre - slot * 0.4:.1f}" y="{height - bottom + 8}" '
            f'width="{slot * 0.8:.1f}" height="8" rx="2" fill="{colour}"/>'
        )
        parts.append(_text(centre, height - bottom + 30, f"{week:%d %b}", anchor="middle", size=11))
        parts.append(
            _text(
                centre,
                height - bottom + 44,
                f"W{week.isocalendar().week:02d}",
                anchor="middle",
                size=10,
                colour="#607d8b",
            )
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" '
        f'stroke="{TEXT_COLOUR}"/>'
    )
    parts.append(
        f'<rect x="{WIDTH - 250}" y="6" width="12" height="12" fill="{PLANNED_COLOUR}"/>'
        + _text(WIDTH - 234, 16, "planned", size=11)
        + f'<rect x="{WIDTH - 170}" y="6" width="12" height="12" fill="{BAND_COLOURS["green"]}"/>'
        + _text(WIDTH - 154, 16, "done (colour = band)", size=11)
    )
    parts.append("</svg>")
    return "".join(parts)


def timeline_svg(
    days: Sequence[dt.date],
    panels: Sequence[Panel],
    *,
    markers: Sequence[tuple[dt.date, str]] = (),
    title: str = "Training load, ACWR, mood and sleep by day",
) -> str:
    """Stacked panels over one shared day axis.

    Parameters
    ----------
    days
        Every day of the range, in order; each series has one value per day.
    panels
        Panels from top to bottom.
    markers
        Days to mark with a triangle above the first panel (e.g. indicators raised), with a tooltip.
    title
        The chart's accessible title.
    """
    panel_h, gap, top, bottom = 120, 34, 26, 34
    height = top + len(panels) * (panel_h + gap) - gap + bottom
    n = max(len(days), 1)
    step = (WIDTH - LEFT - RIGHT) / n

    def x(i: int) -> float:
        return LEFT + (i + 0.5) * step

    parts = [_svg_open(height, title)]
    index = {day: i for i, day in enumerate(days)}
    for p, panel in enumerate(panels):
        y0: float = top + p * (panel_h + gap)
        values = [v for s in panel.series for v in s.values if v is not None]
        values += [b for b in panel.bars if b is not None]
        values += [z.high if z.high is not None else z.low for z in panel.zones]
        y_max = panel.y_max if panel.y_max is not None else max([*values, panel.y_min + 1.0])
        ticks = nice_ticks(panel.y_min, y_max, 3)
        low, high = ticks[0], ticks[-1]

        def y(value: float, *, y0: float = y0, low: float = low, high: float = high) -> float:
            clipped = min(max(value, low), high)
            return y0 + panel_h * (1 - (clipped - low) / (high - low))

        for zone in panel.zones:
            z_top = y(zone.high if zone.high is not None else high)
            parts.append(
                f'<rect class="zone" x="{LEFT}" y="{z_top:.1f}" width="{WIDTH - LEFT - RIGHT}" '
                f'height="{y(zone.low) - z_top:.1f}" fill="{zone.colour}" fill-opacity="0.18">'
                f"<title>{escape(zone.label)}</title></rect>"
            )
            parts.append(
                _text(
                    WIDTH - RIGHT - 4,
                    z_top + 12,
                    zone.label,
                    anchor="end",
                    size=10,
                    colour="#455a64",
                )
            )
        for tick in ticks:
            parts.append(
                f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                f'stroke="{GRID_COLOUR}"/>'
            )
            parts.append(_text(LEFT - 6, y(tick) + 4, _fmt(tick), anchor="end", size=11))
        for i, bar in enumerate(panel.bars):
            if bar:
                parts.append(
                    f'<rect class="bar" x="{x(i) - step * 0.35:.1f}" y="{y(bar):.1f}" '
                    f'width="{step * 0.7:.1f}" height="{y(low) - y(bar):.1f}" '
                    f'fill="{panel.bar_colour}"/>'
                )
        heading = panel.title + (f" ({panel.unit})" if panel.unit else "")
        parts.append(_text(LEFT, y0 - 8, heading, weight="bold"))
        legend_x: float = LEFT + 8 + 7.2 * len(heading)
        for series in panel.series:
            points = [None if v is None else (x(i), y(v)) for i, v in enumerate(series.values)]
            dash = ' stroke-dasharray="5 3"' if series.dashed else ""
            if series.dots:
                parts.extend(
                    f'<circle cx="{pt[0]:.1f}" cy="{pt[1]:.1f}" r="2.6" fill="{series.colour}"/>'
                    for pt in points
                    if pt is not None
                )
            else:
                parts.extend(
                    f'<path class="line" d="{d}" fill="none" stroke="{series.colour}" '
                    f'stroke-width="{series.width}"{dash}/>'
                    for d in _polyline_paths(points)
                )
                # a lone point between gaps would draw nothing as a path: show it as a dot
                parts.extend(
                    f'<circle cx="{pt[0]:.1f}" cy="{pt[1]:.1f}" r="2" fill="{series.colour}"/>'
                    for k, pt in enumerate(points)
                    if pt is not None
                    and (k == 0 or points[k - 1] is None)
                    and (k + 1 == len(points) or points[k + 1] is None)
                )
            parts.append(
                f'<line x1="{legend_x:.1f}" x2="{legend_x + 16:.1f}" y1="{y0 - 12:.1f}" '
                f'y2="{y0 - 12:.1f}" stroke="{series.colour}" stroke-width="3"{dash}/>'
            )
            parts.append(_text(legend_x + 20, y0 - 8, series.label, size=11))
            legend_x += 28 + 6.6 * len(series.label)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y0 + panel_h:.1f}" '
            f'y2="{y0 + panel_h:.1f}" stroke="{TEXT_COLOUR}"/>'
        )
    for day, label in markers:
        if day in index:
            cx = x(index[day])
            parts.append(
                f'<path class="marker" d="M{cx - 5:.1f},{top - 2} L{cx + 5:.1f},{top - 2} '
                f'L{cx:.1f},{top + 7}Z" fill="{BAND_COLOURS["red"]}">'
                f"<title>{escape(f'{day:%d %b}: {label}')}</title></path>"
            )
    axis_y = height - bottom + 16
    for i, day in enumerate(days):
        if day.weekday() == 0:
            parts.append(
                f'<line x1="{x(i) - step / 2:.1f}" x2="{x(i) - step / 2:.1f}" y1="{top}" '
                f'y2="{height - bottom:.1f}" stroke="{GRID_COLOUR}" stroke-dasharray="2 3"/>'
            )
            parts.append(_text(x(i) - step / 2, axis_y, f"{day:%d %b}", anchor="middle", size=11))
    parts.append("</svg>")
    return "".join(parts)


def band_strip_svg(weeks: Sequence[dt.date], bands: Sequence[str | None], *, title: str) -> str:
    """Draw a row of small squares, one per week, coloured by adherence band (overview page)."""
    size, gap = 14, 3
    width = len(weeks) * (size + gap) + gap
    parts = [
        f'<svg class="strip" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width} {size + 2 * gap}" width="{width}" height="{size + 2 * gap}">'
        f"<title>{escape(title)}</title>"
    ]
    for i, (week, band) in enumerate(zip(weeks, bands, strict=True)):
        colour = BAND_COLOURS.get(band or "", NO_DATA_COLOUR)
        parts.append(
            f'<rect x="{gap + i * (size + gap)}" y="{gap}" width="{size}" height="{size}" rx="2" '
            f'fill="{colour}" stroke="#b0bec5" stroke-width="0.5">'
            f"<title>{escape(_week_label(week, band))}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)
