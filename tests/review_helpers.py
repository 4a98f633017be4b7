"""Helpers for the dynamic-management tests."""

from __future__ import annotations

from dibao import entitlement, workflow
from dibao.clock import now as clock_now
from dibao.clock import today
from dibao.models import AmountChange, Stage
from tests.case_helpers import register, to_stage, user


def active(session, world, *, category=2, staff="staff_a1", **kwargs):
    """An approved household: through the real workflow in 甲一社区 (whose town and county users the helper
    knows); elsewhere approved the same way by hand (the county's decision's fields and its amount period)."""
    case = register(session, user(session, world, staff), category=category, **kwargs)
    if staff == "staff_a1":
        return to_stage(session, world, case, Stage.active)
    result = entitlement.refresh(session, case, update_payment=True)
    case.stage, case.approved_at = Stage.active, clock_now()
    case.payment_start = entitlement.next_month(today())
    case.next_review_due = workflow.add_months(today(), workflow.REVIEW_MONTHS[category])
    entitlement.start_period(session, None, case, amount=result.amount, starts_on=case.payment_start,
                             change=AmountChange.approved)
    session.flush()
    return case
