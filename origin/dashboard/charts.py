"""Charts as inline SVG, drawn on the server: axes with units, gridlines, and a legend. No
script, no CDN; the SVG scales to its container's width."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 36
PALETTE = ("#4f46e5", "#0ea5e9", "#10b981", "#f59e0b", "#ef4444", "#8b5cf6", "#64748b")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def nice_max(value: float) -> float:
    """The smallest 1/2/5 x 10^n at or above value, so axis ticks are round numbers."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def intervals(top: float) -> int:
    """Gridlines that land on round numbers: 0.2 steps of a 1 or 5 top, 0.5 steps of a 2."""
    leading = round(top / 10 ** math.floor(math.log10(top))) if top > 0 else 1
    return 4 if leading == 2 else 5


def _frame(labels: Sequence[str], top: float, y_label: Callable[[float], str]) -> list[str]:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    parts = []
    steps = intervals(top)
    for i in range(steps + 1):
        value = top * i / steps
        y = TOP + plot_h - plot_h * i / steps
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" class="axis" text-anchor="end">'
            f"{escape(y_label(value))}</text>"
        )
    n = len(labels)
    every = max(1, math.ceil(n / 7))
    for i, label in enumerate(labels):
        if i % every and i != n - 1:
            continue
        x = LEFT + (plot_w * (i + 0.5) / n if n else 0)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 12}" class="axis" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        'class="baseline"/>'
    )
    return parts


def _legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<span class="legend-item"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>'
        f"{escape(s.name)}</span>"
        for i, s in enumerate(series)
    )
    return f'<div class="legend">{items}</div>'


def _svg(parts: list[str], title: str) -> str:
    body = "".join(parts)
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_label: Callable[[float], str],
) -> str:
    """Stacked bars, one per label; each series is a layer of the stack."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    top = nice_max(max(totals, default=0.0))
    parts = _frame(labels, top, y_label)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(labels), 1)
    bar_w = max(plot_w / n * 0.7, 1.0)
    for i, label in enumerate(labels):
        base = 0.0
        x = LEFT + plot_w * (i + 0.5) / n - bar_w / 2
        for k, s in enumerate(series):
            value = s.values[i]
            if value <= 0:
                continue
            h = plot_h * value / top
            y = TOP + plot_h - plot_h * base / top - h
            base += value
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[k % len(PALETTE)]}" rx="1.5"><title>{escape(label)} · '
                f"{escape(s.name)}: {escape(y_label(value))}</title></rect>"
            )
    legend = _legend(series) if len(series) > 1 else ""
    return f'<figure class="figure">{_svg(parts, title)}{legend}</figure>'


def lines(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_label: Callable[[float], str],
) -> str:
    """One line per series over the labels, with a soft area under the first."""
    top = nice_max(max((v for s in series for v in s.values), default=0.0))
    parts = _frame(labels, top, y_label)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(labels), 1)
    for k, s in enumerate(series):
        points = [
            (LEFT + plot_w * (i + 0.5) / n, TOP + plot_h - plot_h * v / top)
            for i, v in enumerate(s.values)
        ]
        if not points:
            continue
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        color = PALETTE[k % len(PALETTE)]
        if k == 0:
            area = f"{points[0][0]:.1f},{TOP + plot_h} {path} {points[-1][0]:.1f},{TOP + plot_h}"
            parts.append(f'<polygon points="{area}" fill="{color}" opacity="0.12"/>')
        parts.append(
            f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2.2" '
            'stroke-linejoin="round"/>'
        )
        for (x, y), label, value in zip(points, labels, s.values):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{color}"><title>'
                f"{escape(label)} · {escape(s.name)}: {escape(y_label(value))}</title></circle>"
            )
    legend = _legend(series) if len(series) > 1 else ""
    return f'<figure class="figure">{_svg(parts, title)}{legend}</figure>'


def dollars_axis(cents_value: float) -> str:
    dollars = cents_value / 100
    if dollars >= 1000:
        return f"${dollars / 1000:,.1f}k"
    if dollars >= 1 or dollars == 0 or round(dollars, 2) == round(dollars, 6):
        return f"${dollars:,.2f}"
    return f"${dollars:.6f}".rstrip("0")


def count_axis(value: float) -> str:
    return f"{value / 1000:,.1f}k" if value >= 1000 else f"{value:,.0f}"
