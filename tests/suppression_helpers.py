"""A visitor's arithmetic on the public tables (/api/v1/stats, /api/v1/funds): what the marks and numbers shown
tell of each region's households. "<3" is 1 or 2 (0 to 2 in a table whose total is "<3": there zeros are hidden
among them), "*" is 3 or more, a shown number is itself; every table's total is the sum of its rows, and all
tables hold at once — bounds are narrowed, equation by equation, until nothing moves. A hidden cell whose bounds
close on one value is pinned: the suppression failed. (A column that hides a zero beside a published total — its
last resort, or the funds' row of nobody paid that the statistics hide — would look pinned here: a table that
says ``zeros_hidden`` reads its "<3" as 0 to 2, what a test that knows the zeros gives the visitor.)"""

from __future__ import annotations

import math
from decimal import Decimal

INF = math.inf


def tables(client, api: str, codes: list[str | None], month: str) -> dict[str | None, dict]:
    """Every table of ``codes`` (None: every county's) for ``month``, as the open-data API gives it: the rows and
    the total of that month."""
    out = {}
    for code in codes:
        query = f"month={month}" + (f"&region={code}" if code else "")
        body = client.get(f"{api}?{query}").get_json()
        funds = api.endswith("funds")
        rows = body["rows"] if funds else [r for r in body["rows"] if r["month"] == month]
        total = body["total"] if funds else [t for t in body["totals"] if t["month"] == month][0]
        out[code] = {"rows": rows, "total": total}
    return out


def _cell_bounds(cell: dict, zeros_hidden: bool) -> tuple[float, float]:
    if not cell["suppressed"]:
        return (cell["households"], cell["households"])
    if cell["suppressed_because"] == "small":
        return (0 if zeros_hidden else 1, 2)
    return (3, INF)


def _sums(sources) -> list[tuple[str, list[str]]]:
    """What each published table adds up: its region ("*" for every county) and its rows, a region's own row
    (a community's page) excepted."""
    sums = []
    for source in sources:
        for code, table in source.items():
            parts = [r["region"]["code"] for r in table["rows"] if r["region"]["code"] != code]
            if parts:
                sums.append((code or "*", parts))
    return sums


def bounds(*sources: dict[str | None, dict]) -> dict[str, tuple[float, float]]:
    """Region code ("*": every county) → the (low, high) a visitor can tell of its households from every table
    of ``sources`` at once (several sources: the visitor takes the same region's figures for the same)."""
    known: dict[str, list[float]] = {}

    def narrow(code: str, low: float, high: float) -> bool:
        now = known.setdefault(code, [0, INF])
        new = [max(now[0], low), min(now[1], high)]
        if new[0] > new[1]:  # no number fits: a guess was wrong (read_across), and tells nothing more here
            return False
        changed = new != now
        known[code] = new
        return changed

    for source in sources:
        for code, table in source.items():
            zeros_hidden = table.get("zeros_hidden") or table["total"]["suppressed_because"] == "small"
            for row in table["rows"]:
                narrow(row["region"]["code"], *_cell_bounds(row, zeros_hidden))
            narrow(code or "*", *_cell_bounds(table["total"], zeros_hidden))
    sums = _sums(sources)
    changed = True
    while changed:
        changed = False
        for whole, parts in sums:
            lows = [known[p][0] for p in parts]
            highs = [known[p][1] for p in parts]
            changed |= narrow(whole, sum(lows), sum(highs))
            for i, part in enumerate(parts):
                others_low = sum(lows) - lows[i]
                others_high = sum(h for j, h in enumerate(highs) if j != i)
                changed |= narrow(part, known[whole][0] - others_high, known[whole][1] - others_low)
    return {code: (low, high) for code, (low, high) in known.items()}


def hidden_codes(*sources: dict[str | None, dict]) -> set[str]:
    """Every region (or "*") some table of ``sources`` does not show."""
    out = set()
    for source in sources:
        for code, table in source.items():
            out |= {r["region"]["code"] for r in table["rows"] if r["suppressed"]}
            if table["total"]["suppressed"]:
                out.add(code or "*")
    return out


def pinned(*sources: dict[str | None, dict]) -> dict[str, float]:
    """The hidden regions whose households a visitor can tell exactly, with the number."""
    found = bounds(*sources)
    return {code: found[code][0] for code in hidden_codes(*sources) if found[code][0] == found[code][1]}


def subtracted(*sources: dict[str | None, dict]) -> dict[str, tuple]:
    """Every region's (households, persons, yuan) a visitor knows exactly: each shown row and total, then — until
    nothing comes — a total minus all of its parts but one gives that one, and parts all known add up to their
    total."""
    def figures(cell) -> tuple | None:
        return None if cell["suppressed"] else (cell["households"], cell["persons"], Decimal(cell["amount"]))

    known: dict[str, tuple] = {}
    for source in sources:
        for code, table in source.items():
            for row in table["rows"]:
                if (shown := figures(row)) is not None:
                    known[row["region"]["code"]] = shown
            if (shown := figures(table["total"])) is not None:
                known[code or "*"] = shown
    sums = _sums(sources)
    changed = True
    while changed:
        changed = False
        for whole, parts in sums:
            unknown = [p for p in parts if p not in known]
            if whole in known and len(unknown) == 1:
                known[unknown[0]] = tuple(a - sum(known[p][i] for p in parts if p in known)
                                          for i, a in enumerate(known[whole]))
                changed = True
            elif whole not in known and not unknown:
                known[whole] = tuple(sum(known[p][i] for p in parts) for i in range(3))
                changed = True
    return known


def read_across(primary: dict[str | None, dict], other: dict[str | None, dict],
                same: set[str] | None = None) -> dict[str | None, dict]:
    """``primary``'s tables as a visitor reads them with ``other``'s of the same month beside them (the funds
    beside the statistics, or the other way): where the paid figures are the figures in force — the usual case,
    everyone in force paid — a region ``primary`` hides and ``other`` shows (a row, or a table's total) is
    taken for ``other``'s number. ``same``: the regions ("*" every county) whose figures are in fact the same
    on both sides — the visitor who guesses right, the worst case (a test knows them); None: every region.
    What :func:`pinned` and :func:`subtracted` then find of the cells still hidden is what the two sides
    together give away (nothing, when both hide the same cells)."""
    shown: dict[str, dict] = {}
    for code, table in other.items():
        for row in table["rows"]:
            if not row["suppressed"]:
                shown[row["region"]["code"]] = row
        if not table["total"]["suppressed"]:
            shown[code or "*"] = table["total"]

    def guess(code: str, cell: dict) -> dict:
        if not cell["suppressed"] or code not in shown or same is not None and code not in same:
            return cell
        return {**cell, **{k: shown[code][k] for k in ("households", "persons", "amount")},
                "suppressed": False, "suppressed_because": None}

    return {code: {**table, "rows": [guess(row["region"]["code"], row) for row in table["rows"]],
                   "total": guess(code or "*", table["total"])}
            for code, table in primary.items()}
