"""Charts as server-rendered SVG: no script, nothing to load, printable, allowed by the pages' CSP (presentation
attributes, no inline styles). Every chart is drawn from the same numbers as the table the page puts beside it,
which is what screen readers and printouts read; the SVG itself is one labelled image.

A chart never says more than its table: a value that is not published (a public cell of fewer than 3 households,
or one hidden so that a total cannot give such a cell away) is a :class:`Hidden`, drawn as no bar and no point —
a gap in a line — with the table's mark ("<3", "*") where the bar or point would be, and named in the SVG's
description. An axis of counts has whole-number ticks; money has round ones. A chart with nothing to draw (every
value hidden or zero) says so in words instead of drawing an empty frame.

What static/css/portal-stats.css relies on (do not change without it): the labels under the x axis are the
``<text text-anchor="middle">`` children of the ``<svg>`` and, in a line chart, its last ``<text>`` children (the
phone layout thins the months out counting back from the latest); a line chart has a ``<polyline>`` and a bar
chart none; tick labels are ``text-anchor="end"``. Marks of hidden values are in a ``<g>`` of their own, never
``text-anchor="middle"``."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import gettext as _
from markupsafe import Markup, escape

PALETTE = ("#0b4f9c", "#a4161a", "#1b7a3a", "#c77700", "#6a3d9a", "#4a4a4a")
MARK_COLOUR = "#4a4a4a"
_ids = itertools.count(1)


@dataclass(frozen=True)
class Hidden:
    """A value that is not published: ``mark`` is what its table shows ("<3", "*"), ``spoken`` what the chart's
    accessible description says of it ("少于3户")."""

    mark: str
    spoken: str


Value = float | int | Decimal | Hidden | None  # None: not published, without a reason to give


def _value(value: Value) -> float | Hidden:
    if isinstance(value, Hidden):
        return value
    if value is None:
        return Hidden("—", _("不公布"))
    number = float(value)
    return number if math.isfinite(number) else Hidden("—", _("不公布"))


def _prepare(series: Sequence[tuple[str, Sequence[Value]]], n: int) -> list[list[float | Hidden]]:
    return [[_value(values[i]) if i < len(values) else Hidden("—", _("不公布")) for i in range(n)]
            for _name, values in series]


def _nothing_to_draw(values: list[list[float | Hidden]]) -> bool:
    return all(isinstance(v, Hidden) or v == 0 for row in values for v in row)


def ticks(lo: float, hi: float, *, whole: bool) -> list[float]:
    """Round tick values from at most ``lo`` to at least ``hi`` (0 among them), 2 to 5 of them (more would crowd
    a phone's chart, whose labels the CSS enlarges): steps of 1, 2, 2.5 or 5 times a power of ten — never a
    fraction when ``whole`` (a count of households or persons)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo <= 0:
        hi = lo + 1
    exponent = math.floor(math.log10((hi - lo) / 5))
    for power in range(exponent, exponent + 3):
        for multiple in (1, 2, 2.5, 5):
            step = Decimal(str(multiple)).scaleb(power)
            if whole and (step < 1 or step != step.to_integral_value()):
                continue
            first = math.floor(Decimal(repr(lo)) / step)
            last = math.ceil(Decimal(repr(hi)) / step)
            if last - first <= 4:
                return [float(step * k) for k in range(first, last + 1)]
    return [lo, hi]  # not reached: a step of ten times the span's fifth always fits in four


def _tick_label(value: float, whole: bool) -> str:
    if whole or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _whole(values: list[list[float | Hidden]], whole: bool | None) -> bool:
    """Whole-number ticks: as asked, or when every value drawn is a whole number (a count)."""
    if whole is not None:
        return whole
    return all(isinstance(v, Hidden) or float(v).is_integer() for row in values for v in row)


def _description(hidden: list[tuple[str, str, Hidden]], multi: bool) -> str:
    text = _("图中数字见旁边的数据表。")
    if hidden:
        named = [f"{label} {name}：{h.spoken}" if multi else f"{label}：{h.spoken}" for label, name, h in hidden]
        text += _("以下数值不公布，图中不画出：") + "；".join(named) + "。"
    return text


def _frame(title: str, width: int, height: int, body: list[str], legend: Sequence[str], desc: str) -> Markup:
    ident = f"chart-{next(_ids)}"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
             f'width="100%" role="img" aria-labelledby="{ident}-t {ident}-d" preserveAspectRatio="xMinYMin meet">',
             f'<title id="{ident}-t">{escape(title)}</title>',
             f'<desc id="{ident}-d">{escape(desc)}</desc>']
    x = 48
    for i, name in enumerate(legend):
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
                     f'<text x="{x + 16}" y="17" font-size="12" fill="#1a1a1a">{escape(name)}</text>')
        x += 28 + 13 * len(name)
    parts += body
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every label above went through escape()


def _empty(title: str, message: str, width: int) -> Markup:
    """No frame and no axis: the message, in the chart's place (and as its description)."""
    body = [f'<text class="chart-empty" x="16" y="44" font-size="18" text-anchor="start" fill="{MARK_COLOUR}">'
            f'{escape(message)}</text>']
    return _frame(title, width, 72, body, [], message)


def _mark(x: float, y: float, hidden: Hidden, tip: str) -> str:
    """The table's mark of a hidden value, centred on ``x`` above ``y``: anchored at its end and moved by half its
    width in em, and up, in em too (on a phone its font size is the CSS's, as every ``text[text-anchor]``'s, and
    the slanted place names reach above the axis)."""
    return (f'<text x="{x:.1f}" y="{y:.1f}" dx="{0.3 * len(hidden.mark):.2f}em" dy="-0.3em" font-size="13" '
            f'text-anchor="end" '
            f'font-weight="bold" fill="{MARK_COLOUR}"><title>{escape(tip)}</title>{escape(hidden.mark)}</text>')


def _tip(label: str, name: str, value: str) -> str:
    return f"{label} {name}：{value}"


def bar_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[Value]]], *, title: str,
              stacked: bool = False, whole: bool | None = None, empty: str | None = None,
              width: int = 640, height: int = 260) -> Markup:
    """Vertical bars: one group per label, one bar per series (or one stacked bar). A :class:`Hidden` value is no
    bar, but its mark; ``whole``: whole-number ticks (by default when every value is a whole number); ``empty``:
    what to say when there is nothing to draw."""
    values = _prepare(series, len(labels))
    if not labels or _nothing_to_draw(values):
        return _empty(title, empty or _("暂无可公开的数据"), width)
    whole = _whole(values, whole)
    left, right, top, bottom = 56, 12, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    highs, lows = [], []
    for i in range(len(labels)):
        shown = [v[i] for v in values if not isinstance(v[i], Hidden)]
        if stacked:
            highs.append(sum(x for x in shown if x > 0))
            lows.append(sum(x for x in shown if x < 0))
        else:
            highs.append(max(shown, default=0.0))
            lows.append(min(shown, default=0.0))
    scale = ticks(min(lows), max(highs), whole=whole)
    lo, hi = scale[0], scale[-1]

    def y_of(v: float) -> float:
        return top + plot_h * (hi - v) / (hi - lo)

    zero = y_of(0.0)
    body = _axis(left, plot_w, scale, y_of, whole)
    group = plot_w / len(labels)
    bars = 1 if stacked else max(1, len(series))
    bar_w = max(2.0, min(36.0, group * 0.7 / bars))
    marks: list[str] = []
    hidden: list[tuple[str, str, Hidden]] = []
    for i, label in enumerate(labels):
        gx = left + i * group + (group - bar_w * bars) / 2
        up = down = 0.0  # a stack's ends
        unseen: list[tuple[float, str, Hidden]] = []  # the hidden values of this group: their marks at the end
        for j, (name, _values) in enumerate(series):
            value = values[j][i]
            x = gx if stacked else gx + j * bar_w
            if isinstance(value, Hidden):
                hidden.append((label, name, value))
                unseen.append((x + bar_w / 2, name, value))
                continue
            if value == 0:
                continue  # nothing to draw; the table says 0
            start = (up if value > 0 else down) if stacked else 0.0
            end = start + value
            if stacked:
                up, down = (end, down) if value > 0 else (up, end)
            y1, y2 = sorted((y_of(start), y_of(end)))
            body.append(f'<rect x="{x:.1f}" y="{y1:.1f}" width="{bar_w:.1f}" height="{max(y2 - y1, 0.5):.1f}" '
                        f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(_tip(label, name, _number(value, whole)))}'
                        f'</title></rect>')
        for k, (x, name, value) in enumerate(unseen):  # on the zero line; in a stack, above it, one over another
            y = (y_of(up) - 14 * k if stacked else zero) - 4
            marks.append(_mark(x, y, value, _tip(label, name, value.spoken)))
    if marks:
        body.append('<g class="chart-hidden">' + "".join(marks) + "</g>")
    for i, label in enumerate(labels):
        body.append(_x_label(left + i * group + group / 2, top + plot_h + 16, label, group))
    return _frame(title, width, height, body, [s[0] for s in series] if len(series) > 1 else [],
                  _description(hidden, len(series) > 1))


def line_chart(labels: Sequence[str], series: Sequence[tuple[str, Sequence[Value]]], *, title: str,
               whole: bool | None = None, empty: str | None = None, width: int = 640, height: int = 260) -> Markup:
    """Lines over months, with a dot on each value. A :class:`Hidden` value breaks the line (a gap, not a drop
    to 0) and shows its mark at the foot of the chart."""
    values = _prepare(series, len(labels))
    if not labels or _nothing_to_draw(values):
        return _empty(title, empty or _("暂无可公开的数据"), width)
    whole = _whole(values, whole)
    left, right, top, bottom = 64, 30, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    shown = [v for row in values for v in row if not isinstance(v, Hidden)]
    scale = ticks(min(shown, default=0.0), max(shown, default=0.0), whole=whole)
    lo, hi = scale[0], scale[-1]

    def y_of(v: float) -> float:
        return top + plot_h * (hi - v) / (hi - lo)

    body = _axis(left, plot_w, scale, y_of, whole)
    step = plot_w / (len(labels) - 1) if len(labels) > 1 else 0
    x0 = left if len(labels) > 1 else left + plot_w / 2
    marks: list[str] = []
    hidden: list[tuple[str, str, Hidden]] = []
    for j, (name, _values) in enumerate(series):
        colour = PALETTE[j % len(PALETTE)]
        segments: list[list[tuple[float, float, str]]] = [[]]
        for i, value in enumerate(values[j]):
            x = x0 + i * step
            if isinstance(value, Hidden):
                hidden.append((labels[i], name, value))
                marks.append(_mark(x, top + plot_h - 6 - 13 * j, value, _tip(labels[i], name, value.spoken)))
                if segments[-1]:
                    segments.append([])
                continue
            segments[-1].append((x, y_of(value), _tip(labels[i], name, _number(value, whole))))
        for points in (s for s in segments if s):  # a point alone is a polyline of one point and its dot
            body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2.5" points="'
                        + " ".join(f"{x:.1f},{y:.1f}" for x, y, _t in points) + '"/>')
            body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}"><title>{escape(tip)}</title></circle>'
                     for x, y, tip in points]
    if marks:
        body.append('<g class="chart-hidden">' + "".join(marks) + "</g>")
    for i, label in enumerate(labels):  # last: the phone CSS counts these back from the latest
        body.append(_x_label(x0 + i * step, top + plot_h + 16, label, step or plot_w))
    return _frame(title, width, height, body, [s[0] for s in series] if len(series) > 1 else [],
                  _description(hidden, len(series) > 1))


def _number(value: float, whole: bool) -> str:
    return f"{value:,.0f}" if whole or float(value).is_integer() else f"{value:,.2f}"


def _axis(left: float, plot_w: float, scale: list[float], y_of, whole: bool) -> list[str]:
    parts = []
    for value in scale:
        y = y_of(value)
        stroke = "#767676" if value == 0 else "#c8c8c8"  # the zero line darker: bars stand on it
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{stroke}" '
                     f'stroke-width="1"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#4a4a4a">'
                     f'{_tick_label(value, whole)}</text>')
    return parts


def _x_label(x: float, y: float, label: str, room: float) -> str:
    """A label under the x axis, cut to the room it has (the whole label in its tooltip and in the table)."""
    short = _short(label, room)
    tip = f"<title>{escape(label)}</title>" if short != label else ""
    return (f'<text x="{x:.1f}" y="{y}" font-size="11" text-anchor="middle" fill="#1a1a1a">'
            f'{tip}{escape(short)}</text>')


def _width(text: str) -> float:
    """Roughly, in font sizes: a Chinese character is square, a digit or a Latin letter about half as wide."""
    return sum(1.0 if ord(ch) > 0x2E7F else 0.6 for ch in text)


def _short(label: str, room: float = 77.0, font: float = 11.0) -> str:
    """``label`` cut (with "…") to fit in ``room`` units at ``font``: at most 7 characters (a place's name), at
    least 2 and the "…"."""
    if len(label) <= 7 and _width(label) * font <= room:
        return label
    n = min(len(label), 7)  # characters shown, the "…" one of them
    while n > 3 and _width(label[: n - 1] + "…") * font > room:
        n -= 1
    return label[: n - 1] + "…"
