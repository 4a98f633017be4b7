"""Helpers for the statistics tests: households in payment, and the changes both summaries' tests make."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from dibao import entitlement, household
from dibao.models import Case, Region, Stage
from dibao.models.household import MemberChangeKind, TransferKind
from tests.case_helpers import user, valid_id
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


# Shared by the two summaries' tests (statistics, roster): a fresh read, and the changes both must see.

def _fresh(session: Session) -> None:
    """A new read snapshot (SQLite keeps the old one for an open transaction) and no cached rows."""
    session.rollback()
    session.expire_all()


def _region(session, world, name: str) -> Region:
    return session.get(Region, world.regions[name])


def _case(session, ids, n) -> Case:
    return session.get(Case, ids[n])


def _member_added(session, world, ids, tmp_path):
    household.member_joins(session, user(session, world, "staff_a1"), _case(session, ids, 2),
                           kind=MemberChangeKind.birth, happened_on=date(2026, 3, 10), reason="新生儿出生登记",
                           name="王小宝", relation="子女", age=0)


def _member_removed(session, world, ids, tmp_path):
    case = _case(session, ids, 4)
    member = next(m for m in case.members if m.position == 1)
    household.member_leaves(session, user(session, world, "staff_a2"), case, member.id,
                            kind=MemberChangeKind.moved_out, happened_on=date(2026, 3, 10), reason="外出务工迁出")


def _member_moved(session, world, ids, tmp_path):
    member = next(m for m in _case(session, ids, 0).members if m.position == 1)
    member.case_id = ids[5]  # to a household of another town


def _transferred(session, world, ids, tmp_path):
    household.transfer(session, user(session, world, "county"), _case(session, ids, 1),
                       to_region_id=world.regions["comm_b1"], kind=TransferKind.moved, moved_on=date(2026, 3, 5),
                       reason="搬迁到乙街道居住", address="乙街道幸福路 1 号")
