"""The statistics charts say no more than their tables: a suppressed cell ("<3", "*") is no bar and no point —
a gap in a line — but the table's mark, and the chart's accessible text says so; an axis of households or
persons has whole-number ticks and one of money round ones; a chart with nothing to draw says so in words; no
"nan", no negative height, a long place name cut to its room. Through the pages the public and staff see, and
on dibao.charts directly."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from datetime import date

import pytest

from dibao import charts
from tests.stats_helpers import _paid

NS = "{http://www.w3.org/2000/svg}"
WHOLE = re.compile(r"-?\d{1,3}(,\d{3})*")


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))  # noqa: S314 - the app's own output


def svgs(html: str) -> list[ET.Element]:
    return [parse(s) for s in re.findall(r"<svg\b.*?</svg>", html, flags=re.S)]


def text_of(el: ET.Element) -> str:
    """An element's own text, without its <title> (a tooltip) — what the chart shows."""
    return "".join([el.text or ""] + [c.tail or "" for c in el]).strip()


def bars(svg: ET.Element) -> list[ET.Element]:
    """The data bars (not the legend's 12×12 swatches at the top)."""
    return [r for r in svg.iter(f"{NS}rect") if r.get("y") != "6"]


def marks(svg: ET.Element) -> list[str]:
    return [text_of(t) for g in svg.iter(f"{NS}g") if g.get("class") == "chart-hidden" for t in g.iter(f"{NS}text")]


def tick_labels(svg: ET.Element) -> list[str]:
    """The y axis' labels: the svg's own <text text-anchor="end"> children (a mark is inside its <g>)."""
    return [text_of(t) for t in svg.findall(f"{NS}text") if t.get("text-anchor") == "end"]


def desc(svg: ET.Element) -> str:
    return svg.find(f"{NS}desc").text or ""


def assert_sound(svg: ET.Element) -> None:
    source = ET.tostring(svg, encoding="unicode").lower()
    assert "nan" not in source and "inf" not in source
    for rect in svg.iter(f"{NS}rect"):
        assert float(rect.get("height")) > 0, "a bar of no height says 0"
        assert float(rect.get("width")) > 0


def assert_whole_ticks(svg: ET.Element) -> None:
    labels = tick_labels(svg)
    assert len(labels) >= 2
    for label in labels:
        assert WHOLE.fullmatch(label), f"a count's axis shows {label!r}"


def value(label: str) -> float:
    return float(label.replace(",", ""))


def assert_round_ticks(svg: ET.Element) -> None:
    """Evenly spaced by 1, 2, 2.5 or 5 times a power of ten, 0 among them."""
    numbers = [value(label) for label in tick_labels(svg)]
    steps = {round(b - a, 6) for a, b in zip(numbers, numbers[1:], strict=False)}
    assert len(steps) == 1 and 0 in numbers
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5), f"ticks every {step}"


@pytest.fixture
def three_communities(session, world, make_region):
    """Town A: a1 has 3 households, a2 2 (shown "<3") and a3 4; so that the total does not give a2 away, a1 is
    hidden too ("*"); a3 is published. Town B: b1 3."""
    world.regions["comm_a3"] = make_region("100001003", "甲三社区", parent="100001").id
    _paid(session, world, "comm_a1", 3)
    _paid(session, world, "comm_a2", 2)
    _paid(session, world, "comm_a3", 4)
    _paid(session, world, "comm_b1", 3)
    session.commit()


# --- the public page ----------------------------------------------------------------------------------------

def test_a_suppressed_cell_is_no_bar_but_the_tables_mark_and_said_in_words(client, three_communities):
    page = client.get("/stats/100001?month=2026-03").get_data(as_text=True)
    bar_svg, line_svg = svgs(page)
    assert_sound(bar_svg)
    drawn = bars(bar_svg)
    assert len(drawn) == 1 and "甲三社区" in drawn[0].find(f"{NS}title").text  # a1 and a2 are not drawn at all
    assert sorted(marks(bar_svg)) == ["*", "<3"]  # what the table beside it says
    assert "甲二社区：少于3户" in desc(bar_svg) and "甲一社区：不公布" in desc(bar_svg)
    tips = [t.find(f"{NS}title").text for g in bar_svg.iter(f"{NS}g") for t in g.iter(f"{NS}text")]
    assert "甲二社区 户数：少于3户" in tips  # the mark's tooltip
    labelled = bar_svg.get("aria-labelledby").split()
    assert labelled == [bar_svg.find(f"{NS}title").get("id"), bar_svg.find(f"{NS}desc").get("id")]
    assert_whole_ticks(bar_svg)  # 0 1 2 3 4, not 0 1.25 2.50 3.75 5
    assert_whole_ticks(line_svg)  # up to 9 households: not 2.50 and 7.50
    assert_sound(line_svg)


def test_a_month_whose_total_is_hidden_is_a_gap_in_the_line_not_a_drop_to_zero(client, session, world):
    """Town B has 2 households in December only (5 from January): in December the county's table hides B, and
    town A (the total would give B away), so town A's own total is hidden that month ("*")."""
    _paid(session, world, "comm_a1", 3, since=date(2025, 10, 1))
    _paid(session, world, "comm_a2", 3, since=date(2025, 10, 1))
    _paid(session, world, "comm_b1", 2, since=date(2025, 12, 1))
    _paid(session, world, "comm_b1", 3, since=date(2026, 1, 1))
    session.commit()
    page = client.get("/stats/100001?month=2026-03").get_data(as_text=True)
    assert re.search(r"2025-12</th>(<td[^>]*>[^<]*</td>){2}\s*<td class=\"num\">\*</td>", page)  # the table
    line_svg = svgs(page)[1]
    assert_sound(line_svg)
    lines = line_svg.findall(f"{NS}polyline")
    assert [len(p.get("points").split()) for p in lines] == [8, 3]  # April–November, then January–March
    dots = [c.find(f"{NS}title").text for c in line_svg.iter(f"{NS}circle")]
    assert len(dots) == 11 and not any("2025-12" in d for d in dots)
    assert marks(line_svg) == ["*"]
    assert "2025-12：不公布" in desc(line_svg)
    assert_whole_ticks(line_svg)
    # What the phone CSS relies on: the month labels are the svg's last <text> children, centred; no mark is.
    texts = line_svg.findall(f"{NS}text")
    assert [text_of(t) for t in texts[-12:]] == [f"{y}-{m:02d}" for y, m in
                                                 [(2025, m) for m in range(4, 13)] + [(2026, m) for m in (1, 2, 3)]]
    assert all(t.get("text-anchor") == "middle" for t in texts[-12:])
    assert all(t.get("text-anchor") != "middle" for g in line_svg.iter(f"{NS}g") for t in g.iter(f"{NS}text"))


def test_a_chart_with_every_bar_hidden_says_so_instead_of_drawing_zeros(client, session, world):
    """Town B has 2 households: the county's table hides it, and town A beside it."""
    _paid(session, world, "comm_a1", 3)
    _paid(session, world, "comm_a2", 2)
    _paid(session, world, "comm_b1", 2)
    session.commit()
    page = client.get("/stats/100?month=2026-03").get_data(as_text=True)
    bar_svg, line_svg = svgs(page)
    assert_sound(bar_svg)
    assert bars(bar_svg) == [] and "暂无可公开的数据" in ET.tostring(bar_svg, encoding="unicode")
    assert bar_svg.findall(f"{NS}line") == []  # no empty frame
    assert_whole_ticks(line_svg)  # the county's total, 7, is published


def test_the_public_page_with_nothing_paid_says_there_is_nothing_to_show(client, world):
    page = client.get("/stats/").get_data(as_text=True)
    found = svgs(page)
    assert len(found) == 2
    for svg in found:
        assert_sound(svg)
        assert "暂无可公开的数据" in [text_of(t) for t in svg.iter(f"{NS}text")]
        assert "暂无可公开的数据" in desc(svg)
        assert svg.findall(f"{NS}line") == [] and svg.findall(f"{NS}polyline") == []


# --- the staff page -----------------------------------------------------------------------------------------

def test_the_staff_charts_count_in_whole_numbers_and_money_in_round_steps(client, auth, world, three_communities):
    auth.login("county")
    page = client.get("/admin/stats/?month=2026-03").get_data(as_text=True)
    sections = dict(re.findall(r'<section class="figure card" id="fig-([a-z_]+)"(.*?)</section>', page, flags=re.S))
    figures = {key: svg.group(0) for key, section in sections.items() if (svg := re.search(r"<svg\b.*?</svg>", section,
                                                                                          flags=re.S))}
    assert set(figures) == {"regions", "categories", "months", "flows", "feedback", "deadlines"}
    for key, source in figures.items():
        svg = parse(source)
        assert_sound(svg)
        if key in ("flows", "feedback"):  # nothing approved, rejected or objected to in these months: all 0
            assert bars(svg) == [] and "各项均为 0" in [text_of(t) for t in svg.iter(f"{NS}text")]
        elif key == "months":
            assert_round_ticks(svg)  # 0 … 6,000 元 by 2,000 (or the like), not by 1,250 or 1,500
        else:
            assert_whole_ticks(svg)
    regions = parse(figures["regions"])  # town A: 9 households, 18 persons; B: 3 and 6
    assert [text_of(t) for t in regions.findall(f"{NS}text") if t.get("text-anchor") == "end"][-1] == "20"


# --- dibao.charts -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("top", [1, 2, 3, 4, 5, 6, 7, 9, 11, 13, 17, 23, 99, 101, 1234])
def test_a_count_axis_has_whole_ticks_covering_the_largest_value(top):
    svg = parse(charts.bar_chart(["甲", "乙"], [("户数", [top, 1])], title="t"))
    assert_whole_ticks(svg)
    assert value(tick_labels(svg)[-1]) >= top
    assert_round_ticks(svg)
    ticks = charts.ticks(0, top, whole=True)
    assert all(float(t).is_integer() for t in ticks)
    assert ticks[0] == 0 and ticks[-1] >= top and 2 <= len(ticks) <= 6


@pytest.mark.parametrize("top", [0.4, 3.5, 7.25, 812.5, 4060.0, 12345.67, 987654.0])
def test_a_money_axis_has_round_ticks(top):
    svg = parse(charts.line_chart(["2026-01", "2026-02"], [("元", [top / 2, top])], title="t"))
    assert_round_ticks(svg)
    assert value(tick_labels(svg)[-1]) >= top


def test_a_hidden_value_is_no_bar_and_its_mark_sits_on_the_zero_line_or_above_its_stack():
    small = charts.Hidden("<3", "少于3户")
    svg = parse(charts.bar_chart(["甲", "乙", "丙"], [("户数", [5, small, 0])], title="t"))
    assert_sound(svg)
    assert len(bars(svg)) == 1  # 5; nothing for "<3"; nothing for a true 0
    assert marks(svg) == ["<3"] and "乙：少于3户" in desc(svg)
    stacked = parse(charts.bar_chart(["甲"], [("一类", [4]), ("二类", [small]), ("三类", [2])], title="t",
                                     stacked=True))
    assert_sound(stacked)
    top_of_stack = min(float(r.get("y")) for r in bars(stacked))
    mark = next(g for g in stacked.iter(f"{NS}g")).find(f"{NS}text")
    assert float(mark.get("y")) < top_of_stack and "甲 二类：少于3户" in desc(stacked)


def test_a_missing_or_not_a_number_value_is_a_gap_in_the_line():
    svg = parse(charts.line_chart(["1月", "2月", "3月", "4月", "5月"], [("户数", [4, None, 6, float("nan"), 8])],
                                  title="t"))
    assert_sound(svg)
    assert [len(p.get("points").split()) for p in svg.findall(f"{NS}polyline")] == [1, 1, 1]
    assert len(list(svg.iter(f"{NS}circle"))) == 3
    assert_whole_ticks(svg)


def test_nothing_to_draw_is_said_in_words_with_no_division_by_zero():
    for drawn in (charts.bar_chart(["甲", "乙"], [("户数", [0, 0])], title="t"),
                  charts.bar_chart(["甲"], [("户数", [charts.Hidden("<3", "少于3户")])], title="t"),
                  charts.line_chart(["2026-01"], [("户数", [None])], title="t"),
                  charts.line_chart([], [("户数", [])], title="t"),
                  charts.bar_chart(["甲"], [("户数", [0])], title="t", empty="各项均为 0")):
        svg = parse(drawn)
        assert_sound(svg)
        shown = [text_of(t) for t in svg.iter(f"{NS}text")]
        assert shown in (["暂无可公开的数据"], ["各项均为 0"])
        assert svg.get("role") == "img" and desc(svg) == shown[0]


def test_a_negative_value_hangs_below_the_zero_line():
    svg = parse(charts.bar_chart(["甲", "乙"], [("增减", [-3, 5])], title="t"))
    assert_sound(svg)
    labels = tick_labels(svg)
    assert value(labels[0]) <= -3 and "0" in labels and value(labels[-1]) >= 5
    zero = next(float(t.get("y")) - 4 for t in svg.findall(f"{NS}text") if text_of(t) == "0")
    down, up = bars(svg)
    assert float(down.get("y")) == pytest.approx(zero, abs=0.2)  # from the zero line down
    assert float(up.get("y")) + float(up.get("height")) == pytest.approx(zero, abs=0.2)


def test_a_long_place_name_is_cut_to_its_room_with_the_whole_name_in_its_tooltip():
    name = "新疆维吾尔自治区伊犁哈萨克自治州察布查尔锡伯自治县某某镇"
    labels = [name] + [f"第{i}镇" for i in range(1, 16)]
    svg = parse(charts.bar_chart(labels, [("户数", [3] * len(labels))], title="t"))
    under = [t for t in svg.findall(f"{NS}text") if t.get("text-anchor") == "middle"]
    assert len(under) == len(labels)
    first = under[0]
    assert text_of(first).endswith("…") and len(text_of(first)) <= 3  # 16 places: about 36 units each
    assert first.find(f"{NS}title").text == name
    assert text_of(under[1]) == "第1镇"  # short enough: whole, without a tooltip
    assert under[1].find(f"{NS}title") is None
    escaped = charts.bar_chart(["<b>&" * 5], [("户数", [3])], title="<script>")
    assert "<script>" not in escaped and "<b>" not in escaped
    assert parse(escaped).find(f"{NS}text[@text-anchor='middle']/{NS}title").text == "<b>&" * 5

