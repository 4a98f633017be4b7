"""Issue 10: every new staff action of dynamic management, tried by every role in its own region and another.

Exactly the allowed users succeed; the others are refused by the server (out of region 404, wrong role 403)
with nothing changed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import entitlement, raises, reviews
from dibao.models import AuditEvent, Case, Stage
from dibao.models.management import Campaign, CampaignHousehold, Contact, Proposal, StandardRaise
from dibao.models.records import CaseRecord
from tests.case_helpers import region, register, standard, to_stage, user
from tests.conftest import csrf_token

USERS = ["staff_a1", "staff_a2", "staff_b1", "town_a", "town_b", "county", "admin"]


def _setup(session, world):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"), category=4)
    to_stage(session, world, case, Stage.active)
    proposal = reviews.review(session, user(session, world, "staff_a1"), case, checked=["work"],
                              findings="户主已稳定就业。", category=4, outcome="exit", reason="收入超过标准")
    campaign = reviews.open_campaign(session, user(session, world, "town_a"), title="甲镇全面入户核查")
    new = entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "county"),
                                   amount=Decimal("850.00"), effective_from=date(2026, 3, 1))
    raises.detect(session)
    item = session.scalar(select(StandardRaise).where(StandardRaise.standard_id == new.id))
    proposal = reviews.open_proposals(session, case)[0]
    session.commit()
    return case, proposal, campaign, item


# action → (url, form data, allowed users)
ACTIONS = {
    "review": (lambda c, p, k, r: f"/admin/cases/{c}/review", lambda t: {
        "csrf_token": t, "checked": "income", "findings": "情况无变化，继续保障。", "category": "4",
        "outcome": "continue"}, {"staff_a1"}),
    "death": (lambda c, p, k, r: f"/admin/cases/{c}/death", lambda t: {
        "csrf_token": t, "member_id": "{m}", "died_on": "2026-03-17", "note": "死亡证明已收"}, {"staff_a1"}),
    "contact": (lambda c, p, k, r: f"/admin/cases/{c}/contacts", lambda t: {
        "csrf_token": t, "contacted_on": "2026-03-18", "way": "phone", "note": "电话联系"}, {"staff_a1"}),
    "decide": (lambda c, p, k, r: f"/admin/proposals/{p}", lambda t: {
        "csrf_token": t, "decision": "confirm", "reason": "收入超过标准，同意退保"}, {"county"}),
    "campaign_open": (lambda c, p, k, r: "/admin/campaigns/", lambda t: {
        "csrf_token": t, "title": "新的核查"}, {"county", "town_b"}),  # town_a already runs one
    "campaign_check": (lambda c, p, k, r: f"/admin/campaigns/{k}/households/{c}", lambda t: {
        "csrf_token": t, "findings": "入户核查，情况属实。"}, {"staff_a1", "town_a"}),
    "campaign_close": (lambda c, p, k, r: f"/admin/campaigns/{k}/close", lambda t: {"csrf_token": t},
                       {"town_a", "county"}),
    "raise_confirm": (lambda c, p, k, r: f"/admin/raises/{r}/confirm", lambda t: {"csrf_token": t}, {"county"}),
}
# Refusals other than the default (404 out of sight, 403 in sight but not the role's).
EXPECTED = {
    ("campaign_open", "staff_a2"): 403, ("campaign_open", "staff_b1"): 403, ("campaign_open", "town_a"): 409,
    ("campaign_close", "staff_a2"): 403,  # sees its town's campaign, may not close it
    ("raise_confirm", "staff_a1"): 404, ("raise_confirm", "town_a"): 404,  # the county's raise: out of their sight
}
# Who sees the household (and so is told 403 rather than 404 when the role may not act).
SEES = {"staff_a1", "town_a", "county", "admin"}


def _snapshot(session, case_id):
    session.rollback()
    session.expire_all()
    case = session.get(Case, case_id)
    counts = tuple(session.scalar(select(func.count()).select_from(model)) for model in
                   (AuditEvent, CaseRecord, Contact, Campaign, Proposal))
    return (case.stage, case.next_review_due, case.updated_at, counts,
            session.scalar(select(func.count(CampaignHousehold.id)).where(CampaignHousehold.record_id.is_not(None))),
            tuple(session.scalars(select(Campaign.closed_on).order_by(Campaign.id))),
            tuple(session.scalars(select(StandardRaise.job_id).order_by(StandardRaise.id))))


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_matrix(client, auth, session, world, clock, action, who):
    case, proposal, campaign, item = _setup(session, world)
    url_of, data, allowed = ACTIONS[action]
    url = url_of(case.id, proposal.id, campaign.id, item.id)
    auth.login(who)
    token = csrf_token(client, "/admin/")
    form = {k: (v.format(m=case.members[-1].id) if isinstance(v, str) else v) for k, v in data(token).items()}
    before = _snapshot(session, case.id)
    res = client.post(url, data=form)
    after = _snapshot(session, case.id)
    if who in allowed:
        assert res.status_code == 302, (res.status_code, res.get_data(as_text=True)[:1500])
        assert after != before
    else:
        expected = EXPECTED.get((action, who), 404 if who not in SEES else 403)
        assert res.status_code == expected, (res.status_code, who)
        assert after == before, "a refused request changes nothing"


def test_worklist_and_pages_are_scoped(client, auth, session, world, clock):
    case, proposal, campaign, item = _setup(session, world)
    for who in USERS:
        auth.login(who)
        listing = client.get("/admin/reviews/?bucket=due").get_data(as_text=True)
        assert (case.number in listing) == (who in SEES), who
        assert client.get(f"/admin/proposals/{proposal.id}").status_code == (200 if who in SEES else 404)
        assert client.get(f"/admin/campaigns/{campaign.id}").status_code == (
            404 if who in ("staff_b1", "town_b") else 200)
        assert client.get(f"/admin/raises/{item.id}").status_code == (200 if who == "county" else
                                                                      403 if who == "admin" else 404), who
        contacts = client.get("/admin/contacts/").get_data(as_text=True)
        assert (case.number in contacts) == (who in SEES), who
        auth.logout()
