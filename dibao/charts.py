"""Charts as server-rendered SVG: no script, nothing to load, printable, allowed by the pages' CSP (presentation
attributes, no inline styles). Every chart is drawn from the same numbers as the table the page puts beside it,
which is what screen readers and printouts read; the SVG itself is one labelled image."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#0b4f9c", "#a4161a", "#1b7a3a", "#c77700", "#6a3d9a", "#4a4a4a")
_ids = itertools.count(1)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.2f}"


def _frame(title: str, width: int, height: int, body: list[str], legend: Sequence[str]) -> Markup:
    ident = f"chart-{next(_ids)}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" preserveAspectRatio="xMinYMin meet">',
             f'<title id="{ident}-t">{escape(title)}</title>',
             f'<desc id="{ident}-d">{escape("图中数字见旁边的数据表。")}</desc>']
    x = 48
    for i, name in enumerate(legend):
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{x + 16}" y="17" font-size="12" fill="#1a1a1a">{escape(name)}</text>')
        x += 28 + 13 * len(name)
    parts += body
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label above went through escape()


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str,
              stacked: bool = False, width: int = 640, height: int = 260) -> Markup:
    """Vertical bars: one group per label, one bar per series (or one stacked bar)."""
    left, right, top, bottom = 56, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(s[1][i] for s in series) for i in range(len(labels))] if stacked else [
        max((s[1][i] for s in series), default=0) for i in range(len(labels))]
    top_value = _nice_max(max(totals, default=0))
    body = _axis(left, top, plot_w, plot_h, top_value)
    group = plot_w / max(1, len(labels))
    bars = 1 if stacked else max(1, len(series))
    bar_w = max(2.0, min(36.0, group * 0.7 / bars))
    for i, label in enumerate(labels):
        gx = left + i * group + (group - bar_w * bars) / 2
        base = top + plot_h
        for j, (_name, values) in enumerate(series):
            value = float(values[i] or 0)
            h = plot_h * value / top_value
            x = gx if stacked else gx + j * bar_w
            y = base - h
            body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"/>')
            if stacked:
                base = y
        body.append(f'<text x="{left + i * group + group / 2:.1f}" y="{top + plot_h + 16}" font-size="11" '
                    f'text-anchor="middle" fill="#1a1a1a">{escape(_short(label))}</text>')
    return _frame(title, width, height, body, [s[0] for s in series] if len(series) > 1 else [])


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]], *, title: str,
               width: int = 640, height: int = 260) -> Markup:
    """Lines over months, with a dot on each value."""
    left, right, top, bottom = 64, 30, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((float(v or 0) for s in series for v in s[1]), default=0))
    body = _axis(left, top, plot_w, plot_h, top_value)
    step = plot_w / max(1, len(labels) - 1) if len(labels) > 1 else 0
    for j, (_name, values) in enumerate(series):
        colour = PALETTE[j % len(PALETTE)]
        points = [(left + i * step, top + plot_h - plot_h * float(v or 0) / top_value) for i, v in enumerate(values)]
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"/>' for x, y in points]
    for i, label in enumerate(labels):
        body.append(f'<text x="{left + i * step:.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle" '
                    f'fill="#1a1a1a">{escape(_short(label))}</text>')
    return _frame(title, width, height, body, [s[0] for s in series] if len(series) > 1 else [])


def _axis(left: float, top: float, plot_w: float, plot_h: float, top_value: float) -> list[str]:
    parts = []
    for k in range(5):
        y = top + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#c8c8c8" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#4a4a4a">'
                     f'{_number(top_value * k / 4)}</text>')
    return parts


def _short(label: str, n: int = 7) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"
