"""A delete button on the archive page (a member, an income, the photo) that the domain refuses shows its reason
above the page with the refusal's status, and changes nothing — it was a 500: the page was drawn with the button's
confirm form in the place of the section's own form (found by this stop's hostile audit)."""

from __future__ import annotations

from sqlalchemy import func, select

from dibao.models import Member, MemberIncome, Stage
from tests.case_helpers import register, user
from tests.conftest import csrf_token


def test_deleting_the_head_of_household_is_refused_on_the_page(client, auth, session, world):
    case = register(session, user(session, world, "staff_a1"), members=2)
    session.commit()
    head = case.members[0]
    auth.login("staff_a1")
    res = client.post(f"/admin/cases/{case.id}/members/{head.id}/delete",
                      data={"csrf_token": csrf_token(client, f"/admin/cases/{case.id}")})
    assert res.status_code == 409
    page = res.get_data(as_text=True)
    assert "户主不能删除。" in page and case.head_name in page  # the archive page, with the reason above it
    session.expire_all()
    assert session.scalar(select(func.count(Member.id)).where(Member.case_id == case.id)) == 2


def test_deleting_an_income_of_a_household_no_longer_editable_is_refused_on_the_page(client, auth, session, world):
    case = register(session, user(session, world, "staff_a1"), members=1, income="300.00")
    case.stage = Stage.rejected  # a closed case: its archive is read only
    session.commit()
    income = case.members[0].incomes[0]
    auth.login("staff_a1")
    res = client.post(f"/admin/cases/{case.id}/incomes/{income.id}/delete",
                      data={"csrf_token": csrf_token(client, f"/admin/cases/{case.id}")})
    assert res.status_code == 409
    assert "不能办理" in res.get_data(as_text=True)
    session.expire_all()
    assert session.get(MemberIncome, income.id) is not None
