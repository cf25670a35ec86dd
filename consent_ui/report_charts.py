"""The reports' charts, drawn on the server as SVG: geometry here, markup in ``report_charts.html``.

No script and no style attribute: the bars and lines are ``rect`` and
``polyline`` elements with presentation attributes and classes (coloured
by ``registry.css``), so the charts show under the staff pages' strict
Content Security Policy, print, and read the same without JavaScript. Each
bar and point has a ``title`` (the figure, on hover and for screen
readers); the table under each chart holds every figure.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field

from registry.reports import PERCENTILES, Figures

WIDTH = 960
HEIGHT = 260
LEFT = 64  # room for the y axis' labels
RIGHT = 16
TOP = 16
BOTTOM = 40  # room for the days
PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
X_LABELS = 7


@dataclass
class Segment:
    y: float
    height: float
    kind: str  # the css class: ok, provider, platform


@dataclass
class Bar:
    x: float
    width: float
    title: str
    segments: list[Segment]


@dataclass
class Series:
    kind: str  # p50, p95, p99
    label: str
    points: list[tuple[float, float, str]]  # x, y, title

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y, _title in self.points)


@dataclass
class Chart:
    """One chart's geometry in a ``WIDTH`` × ``HEIGHT`` view box."""

    id: str
    unit: str
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    bars: list[Bar] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (kind, label)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_bottom: int = TOP + PLOT_H
    plot_right: int = WIDTH - RIGHT

    @property
    def empty(self) -> bool:
        return not any(bar.segments for bar in self.bars) and not any(s.points for s in self.series)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10ⁿ at or above ``value`` (1 for nothing): a readable axis top."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power + 1e-9:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    """An axis label: thousands spaced (``1 000``), fractions as they are (``0.25``, ``1.5``)."""
    return f"{value:,.0f}".replace(",", " ") if value == int(value) else f"{value:g}"


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H - (value / top) * PLOT_H


def _axes(days: list[datetime.date], top: float, unit: str) -> tuple[list, list]:
    ticks = [(_y(top * i / 4, top), f"{_number(top * i / 4)}{unit}") for i in range(5)]
    step = max(1, math.ceil(len(days) / X_LABELS))
    slot = PLOT_W / max(1, len(days))
    labels = [(LEFT + slot * (i + 0.5), day.strftime("%d.%m")) for i, day in enumerate(days) if i % step == 0]
    return ticks, labels


def _slots(days: list) -> tuple[float, float]:
    slot = PLOT_W / max(1, len(days))
    return slot, max(1.0, slot * 0.7)


def calls_by_day(by_day: list[tuple[datetime.date, Figures]], words: dict[str, str]) -> Chart:
    """Bars of calls per day: the successful part and the errors on top."""
    top = nice_ceiling(max((f.calls for _d, f in by_day), default=0))
    ticks, labels = _axes([d for d, _f in by_day], top, "")
    slot, width = _slots(by_day)
    bars = []
    for i, (day, figures) in enumerate(by_day):
        x = LEFT + slot * i + (slot - width) / 2
        segments, base = [], 0
        for kind, count in (("ok", figures.calls - figures.errors), ("error", figures.errors)):
            if count:
                segments.append(Segment(_y(base + count, top), count / top * PLOT_H, kind))
                base += count
        title = f"{day.isoformat()}: {figures.calls} {words['calls']}, {figures.errors} {words['errors']}"
        bars.append(Bar(x, width, title, segments))
    legend = [("ok", words["successful"]), ("error", words["errors"])]
    return Chart("chart-calls", "", ticks, labels, bars=bars, legend=legend)


def error_rate_by_day(by_day: list[tuple[datetime.date, Figures]], words: dict[str, str]) -> Chart:
    """Bars of the error rate per day (percent), split: the provider's errors, the platform's refusals."""
    top = nice_ceiling(max((f.error_rate * 100 for _d, f in by_day), default=0))
    ticks, labels = _axes([d for d, _f in by_day], top, " %")
    slot, width = _slots(by_day)
    bars = []
    for i, (day, figures) in enumerate(by_day):
        x = LEFT + slot * i + (slot - width) / 2
        segments, base = [], 0.0
        for kind, count in (("provider", figures.provider_errors), ("platform", figures.platform_refusals)):
            share = figures.share(count) * 100
            if share:
                segments.append(Segment(_y(base + share, top), share / top * PLOT_H, kind))
                base += share
        title = f"{day.isoformat()}: {figures.error_rate * 100:.2f} % ({figures.errors}/{figures.calls})"
        bars.append(Bar(x, width, title, segments))
    legend = [("provider", words["provider"]), ("platform", words["platform"])]
    return Chart("chart-errors", " %", ticks, labels, bars=bars, legend=legend)


def latency_by_day(by_day: list[tuple[datetime.date, Figures]], words: dict[str, str]) -> Chart:
    """Lines of p50, p95 and p99 per day (ms); a day without calls has no point."""
    highest = max((f.latency[99] or 0 for _d, f in by_day), default=0)
    top = nice_ceiling(highest)
    ticks, labels = _axes([d for d, _f in by_day], top, " ms")
    slot, _width = _slots(by_day)
    series = []
    for p in PERCENTILES:
        points = [
            (LEFT + slot * (i + 0.5), _y(f.latency[p], top), f"{day.isoformat()}: p{p} {f.latency[p]} ms")
            for i, (day, f) in enumerate(by_day)
            if f.latency[p] is not None
        ]
        series.append(Series(f"p{p}", f"p{p}", points))
    legend = [(f"p{p}", f"p{p}") for p in PERCENTILES]
    return Chart("chart-latency", " ms", ticks, labels, series=series, legend=legend)
