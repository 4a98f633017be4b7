"""Helpers for the statistics tests: households in payment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from dibao import entitlement
from dibao.models import Region, Stage
from tests.case_helpers import valid_id
from tests.factories import make_case


def _paid(session, world, community: str, n: int, *, amount="500.00", stage=Stage.active, since=date(2026, 1, 1)):
    region = session.get(Region, world.regions[community])
    made = []
    for _ in range(n):
        case = make_case(session, region, stage=stage, id_number=valid_id(), amount=Decimal(amount), members=2)
        entitlement.start_period(session, None, case, amount=Decimal(amount), starts_on=since,
                                 change=entitlement.AmountChange.approved)
        made.append(case)
    return made
