"""Disclosure: the one place that decides what each channel shows of a notice entry or roster line.

Templates never mask by themselves; they render the dict :func:`present` hands them. ID numbers, phone
numbers, bank data and members' health are not in a snapshot at all, so no policy can publish them.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import audit, clock, notices, scope, text, workflow
from dibao.errors import Invalid
from dibao.models import Region, User


class Channel(enum.StrEnum):
    kiosk = "kiosk"  # the community hall screen
    print = "print"  # the printed board posted in the community
    web = "web"  # the public portal
    api = "api"  # the open-data JSON


class Field(enum.StrEnum):
    name = "name"  # modes: full | masked | hidden
    photo = "photo"  # show | hidden (and only with recorded consent)
    address = "address"  # full | public | hidden  (public = community / building level)
    household_size = "household_size"  # show | hidden
    income = "income"  # show | hidden
    amount = "amount"  # show | hidden
    opinion = "opinion"  # show | hidden


FIELD_MODES: dict[Field, tuple[str, ...]] = {
    Field.name: ("full", "masked", "hidden"),
    Field.photo: ("show", "hidden"),
    Field.address: ("full", "public", "hidden"),
    Field.household_size: ("show", "hidden"),
    Field.income: ("show", "hidden"),
    Field.amount: ("show", "hidden"),
    Field.opinion: ("show", "hidden"),
}

_INSIDE = {Field.name: "full", Field.photo: "show", Field.address: "full", Field.household_size: "show",
           Field.income: "show", Field.amount: "show", Field.opinion: "show"}
_OUTSIDE = {Field.name: "masked", Field.photo: "hidden", Field.address: "public", Field.household_size: "show",
            Field.income: "hidden", Field.amount: "show", Field.opinion: "show"}

# DESIGN.md "Disclosure": the seed's fields inside the community, less on the open web and API.
DEFAULT_POLICY: dict[Channel, dict[Field, str]] = {
    Channel.kiosk: dict(_INSIDE),
    Channel.print: dict(_INSIDE),
    Channel.web: dict(_OUTSIDE),
    Channel.api: dict(_OUTSIDE),
}


def mask_name(name: str) -> str:
    """张三 → 张*, 张小明 → 张*明, 欧阳小明 → 欧**明.

    Counted over what a reader sees, not over what is stored: names stored before dibao.text cleaned them may
    hold a full-width space, a zero-width or bidi character (张　三, 王\u200b五), which would otherwise make a
    two-character name "long" and show both its characters (张*三). A name of two letters and a separator
    between them (王·五, 张-三) is still a two-letter name.
    """
    shown = [ch for ch in name if not text.is_invisible(ch)]
    letters = [i for i, ch in enumerate(shown) if unicodedata.category(ch)[0] in "LN"]
    if len(letters) <= 1:
        return "".join(shown)
    if len(letters) == 2:
        return shown[letters[0]] + "*"
    shown = shown[letters[0]:letters[-1] + 1]  # from the first letter to the last (no dot at either end)
    return shown[0] + "*" * (len(shown) - 2) + shown[-1]


@dataclass(frozen=True)
class Policy:
    rules: dict[Channel, dict[Field, str]]

    def mode(self, channel: Channel, field: Field) -> str:
        return self.rules.get(channel, {}).get(field, DEFAULT_POLICY[channel][field])


DEFAULT = Policy(DEFAULT_POLICY)


def present(snapshot: Any, channel: Channel, policy: Policy = DEFAULT) -> dict[str, Any]:
    """The fields of a snapshot (a NoticeEntry or anything with the same attributes) a channel may show.

    A hidden field is absent from the result, not blanked, so no template can leak it by accident.
    """
    out: dict[str, Any] = {}
    name_mode = policy.mode(channel, Field.name)
    if name_mode == "full":  # without control characters stored before names were cleaned (a bidi override)
        out["name"] = text.clean_line(snapshot.head_name)
    elif name_mode == "masked":
        out["name"] = mask_name(snapshot.head_name)
    addr_mode = policy.mode(channel, Field.address)
    if addr_mode == "full":
        out["address"] = snapshot.address
    elif addr_mode == "public":
        out["address"] = snapshot.public_address
    if policy.mode(channel, Field.photo) == "show" and (photo_key := notices.shown_photo_key(snapshot)):
        out["photo_key"] = photo_key  # only while consent stands (decided at read time)
    if policy.mode(channel, Field.household_size) == "show":
        out["household_size"] = snapshot.household_size
    if policy.mode(channel, Field.income) == "show":
        out["household_income"] = _money(getattr(snapshot, "household_income", None))
    if policy.mode(channel, Field.amount) == "show":
        out["monthly_amount"] = _money(snapshot.monthly_amount)
    if policy.mode(channel, Field.opinion) == "show" and hasattr(snapshot, "opinion_text"):
        out["opinion_decision"] = snapshot.opinion_decision.value
        out["opinion_text"] = snapshot.opinion_text
        if getattr(snapshot, "opinion_override_reason", None):  # "同意" although the amount is 0: why
            out["opinion_override_reason"] = snapshot.opinion_override_reason
    return out


CHANNEL_LABELS = {
    Channel.kiosk: _l("社区公示终端"),
    Channel.print: _l("纸质公示栏"),
    Channel.web: _l("公众网站"),
    Channel.api: _l("开放数据接口"),
}
FIELD_LABELS = {
    Field.name: _l("户主姓名"),
    Field.photo: _l("户主照片（仅限已书面同意的家庭）"),
    Field.address: _l("家庭住址"),
    Field.household_size: _l("家庭人口"),
    Field.income: _l("家庭收入"),
    Field.amount: _l("保障金额"),
    Field.opinion: _l("审核意见"),
}
MODE_LABELS = {
    "full": _l("完整显示"),
    "masked": _l("部分遮挡（张*明）"),
    "hidden": _l("不显示"),
    "show": _l("显示"),
    "public": _l("只显示到社区、楼栋"),
}
# Never published on any channel, whatever the policy says; shown on the policy page as a reminder.
NEVER_PUBLISHED = (_l("身份证号码"), _l("电话号码"), _l("银行账户"), _l("家庭成员健康状况"))


def _county_rules(session: Session) -> dict[int, dict[Channel, dict[Field, str]]]:
    """Every county's grid: DESIGN.md's defaults overridden by that county's rows."""
    from dibao.models.disclosure import DisclosureRule

    counties = session.scalars(select(Region.id).where(Region.parent_id.is_(None)))
    grids = {county_id: {ch: dict(fields) for ch, fields in DEFAULT_POLICY.items()} for county_id in counties}
    rows = session.execute(select(DisclosureRule.region_id, DisclosureRule.channel, DisclosureRule.field,
                                  DisclosureRule.mode))
    for row in rows:
        try:
            channel, field = Channel(row.channel), Field(row.field)
        except ValueError:
            continue  # a row of a channel/field this version no longer knows
        if row.region_id in grids and row.mode in FIELD_MODES[field]:
            grids[row.region_id][channel][field] = row.mode
    return grids


def strictest(policies: list[Policy]) -> Policy:
    """Per channel and field the mode that shows least (modes are listed from most to least shown)."""
    if not policies:
        return DEFAULT
    return Policy({ch: {f: max((p.mode(ch, f) for p in policies), key=FIELD_MODES[f].index) for f in Field}
                   for ch in Channel})


def load_policy(session: Session, region: Region | None) -> Policy:
    """The policy in force where ``region`` lies: its county's (the county of the board, entry or kiosk shown).

    ``None`` is a page spanning every county (the whole deployment's board or API): it gets the strictest of
    the counties' policies, so no household is ever shown more than its own county allows.
    """
    grids = _county_rules(session)
    if region is not None:
        grid = grids.get(scope.county_of(region).id)
        return Policy(grid) if grid is not None else DEFAULT
    return strictest([Policy(grid) for grid in grids.values()])


def policy_version(policy: Policy) -> str:
    """A short stable text of the whole grid, for ETags of anything rendered with it."""
    return ";".join(f"{c.value}:{f.value}={policy.mode(c, f)}" for c in Channel for f in Field)


OWNER_ONLY = _l("公开设置由县（区）系统管理员修改；乡镇（街道）、社区的账号只能查看。")


def can_change(actor: User | None, county: Region) -> bool:
    return scope.owns_county_settings(actor, county)


def save_policy(session: Session, actor: User | None, county: Region,
                rules: dict[Channel, dict[Field, str]]) -> Policy:
    """Replace ``county``'s policy with ``rules`` (every channel × field). Only that county's admin may."""
    from dibao.models.disclosure import DisclosureRule

    scope.require_county_settings_owner(actor, county, OWNER_ONLY)
    assert actor is not None  # the owner check refuses the command line
    for channel in Channel:
        for field in Field:
            mode = rules.get(channel, {}).get(field)
            if mode not in FIELD_MODES[field]:
                raise Invalid(_l("“%(channel)s”的“%(field)s”设置无效。", channel=CHANNEL_LABELS[channel],
                                 field=FIELD_LABELS[field]), field=f"{channel.value}-{field.value}")
    before = load_policy(session, county)
    existing = {(r.channel, r.field): r
                for r in session.scalars(select(DisclosureRule).where(DisclosureRule.region_id == county.id))}
    changes = {}
    now = clock.now()
    for channel in Channel:
        for field in Field:
            mode = rules[channel][field]
            row = existing.get((channel.value, field.value))
            if row is None:
                row = DisclosureRule(region_id=county.id, channel=channel.value, field=field.value, mode=mode)
                session.add(row)
            if before.mode(channel, field) != mode:
                changes[f"{channel.value}.{field.value}"] = [before.mode(channel, field), mode]
            row.mode = mode
            row.updated_by_id = actor.id
            row.updated_at = now
    audit.record(session, actor, "disclosure_policy_saved", "disclosure_policy", county.code, region_id=county.id,
                 details={"changes": changes})
    session.flush()
    return load_policy(session, county)


def totals_shown(policy: Policy, channel: Channel) -> tuple[bool, bool]:
    """Whether ``channel`` may show totals of persons and of money where ``policy`` holds: only where it shows each
    household's size and amount — a total over one household, or the difference of two totals (a month and the
    next, a region and its rows), is that household's. The roster's totals, the statistics, the funds."""
    return (policy.mode(channel, Field.household_size) == "show", policy.mode(channel, Field.amount) == "show")


def present_roster(case: Any, channel: Channel, policy: Policy = DEFAULT) -> dict[str, Any]:
    """A standing-roster line (公布: name, household size, amount — A 24) under a channel's policy.

    Only those facts and the public address go in; photo, income and opinion are not part of the roster. The
    roster has no end date, so even a channel that shows a notice's full address (the kiosk, the printed board:
    seven days, inside the community) shows the roster's households at the public address's level (community or
    building) and never the flat: the rules allow no unrelated information on it (A 24; E §4(2)).
    """
    public_address = case.public_address or case.region.name
    line = SimpleNamespace(head_name=case.head_name, address=public_address, public_address=public_address,
                           household_size=case.household_size, monthly_amount=case.monthly_amount)
    out = present(line, channel, policy)
    out.pop("household_income", None)
    return out


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# --- boards: a batch and its entries as a channel shows them --------------------------------------------------

COLUMNS = ("photo_key", "name", "address", "household_size", "household_income", "monthly_amount", "opinion_text")
COLUMN_LABELS = {
    "photo_key": _l("照片"), "name": _l("户主姓名"), "address": _l("住址"), "household_size": _l("家庭人口"),
    "household_income": _l("家庭月收入（元）"), "monthly_amount": _l("保障金额（元/月）"), "opinion_text": _l("意见"),
}


def present_group(batch: Any, entries: Any, channel: Channel, at: datetime, policy: Policy) -> dict[str, Any]:
    """One batch and its entries as a channel shows them: the boards of the portal, the print board and the
    staff preview of each channel all use this."""
    items = [{"public_id": e.public_id, "region": e.region, **present(e, channel, policy)} for e in entries]
    shown = set().union(*(item.keys() for item in items))
    return {
        "batch": batch,
        "level_label": workflow.REVIEWER_LABELS[batch.level],
        "time_left": notices.time_left(batch.closes_at, at),
        "entries": items,
        "columns": [key for key in COLUMNS if key in shown],
        "labels": {key: str(label) for key, label in COLUMN_LABELS.items()},
    }


def present_board(board: Any, channel: Channel, policy: Policy) -> list[dict[str, Any]]:
    """Every group of a board (dibao.notices.Board) as :func:`present_group` shows it."""
    return [present_group(g.batch, g.entries, channel, board.at, policy) for g in board.groups]
