"""Disclosure: the one place that decides what each channel shows of a notice entry or roster line.

Templates never mask by themselves; they render the dict :func:`present` hands them. ID numbers, phone
numbers, bank data and members' health are not in a snapshot at all, so no policy can publish them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Any


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
    """张三 → 张*, 张小明 → 张*明, 欧阳小明 → 欧**明."""
    name = name.strip()
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


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
    if name_mode == "full":
        out["name"] = snapshot.head_name
    elif name_mode == "masked":
        out["name"] = mask_name(snapshot.head_name)
    addr_mode = policy.mode(channel, Field.address)
    if addr_mode == "full":
        out["address"] = snapshot.address
    elif addr_mode == "public":
        out["address"] = snapshot.public_address
    if policy.mode(channel, Field.photo) == "show" and getattr(snapshot, "photo_key", None):
        out["photo_key"] = snapshot.photo_key
    if policy.mode(channel, Field.household_size) == "show":
        out["household_size"] = snapshot.household_size
    if policy.mode(channel, Field.income) == "show":
        out["household_income"] = _money(getattr(snapshot, "household_income", None))
    if policy.mode(channel, Field.amount) == "show":
        out["monthly_amount"] = _money(snapshot.monthly_amount)
    if policy.mode(channel, Field.opinion) == "show" and hasattr(snapshot, "opinion_text"):
        out["opinion_decision"] = snapshot.opinion_decision.value
        out["opinion_text"] = snapshot.opinion_text
    return out


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"
