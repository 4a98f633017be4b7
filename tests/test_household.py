"""Issue 10 item 6: member changes (birth, death, marriage, moving) with dates and reasons, and the transfer of the
whole archive to another community: the scope follows the household, the amount is recomputed under the new
region's standard as a new amount period, everything audited and in the archive."""

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from dibao import cases, entitlement, feedback, household, scope
from dibao.errors import Conflict, Forbidden, Invalid, NotFound
from dibao.models import AmountChange, AuditEvent, FeedbackStatus, Stage
from dibao.models.household import MemberChangeKind, TransferKind
from tests.case_helpers import region, register, standard, to_stage, user
from tests.conftest import csrf_token
from tests.factories import tiny_pdf


@pytest.fixture
def w(session, world):
    standard(session, world)  # 780 county-wide
    entitlement.set_standard(session, user(session, world, "admin"), region=region(session, world, "town_b"),
                             amount=Decimal("900.00"), effective_from=date(2026, 1, 1))
    return world


def _active(session, world, **kwargs):
    case = register(session, user(session, world, "staff_a1"), **kwargs)
    to_stage(session, world, case, Stage.active)
    return case


def test_transfer_moves_the_archive_the_scope_and_the_amount(client, auth, session, w, clock):
    case = _active(session, w)  # 2 people, 600 income: (780 × 2 − 600) = 960, paid from April
    clock.advance(days=45)  # 2 May
    number = case.number
    assert case.monthly_amount == Decimal("960.00")
    record = household.transfer(session, user(session, w, "county"), case, to_region_id=w.regions["comm_b1"],
                                kind=TransferKind.demolition, moved_on=date(2026, 3, 10),
                                reason="旧城改造拆迁，安置到乙一社区", address="乙一社区安置小区 3 栋 502")
    session.commit()
    assert case.region_id == w.regions["comm_b1"] and case.number == number  # one archive, same number
    assert record.amount_before == Decimal("960.00") and record.amount_after == Decimal("1200.00")  # 900 × 2 − 600
    assert case.monthly_amount == Decimal("1200.00")
    period = entitlement.periods(session, case)[-1]
    assert (period.change, period.amount, period.starts_on) == (AmountChange.transferred, Decimal("1200.00"),
                                                                date(2026, 6, 1))
    assert entitlement.amount_in_force(session, case, date(2026, 5, 1)) == Decimal("960.00")  # not retroactive
    # the old community loses it, the new one takes it over
    with pytest.raises(NotFound):
        cases.get_case(session, user(session, w, "staff_a1"), case.id)
    assert cases.get_case(session, user(session, w, "staff_b1"), case.id) is case
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "case_transferred")).one()
    assert '"from": "100001001"' in event.details and '"to": "100002001"' in event.details
    auth.login("staff_a1")
    assert client.get(f"/admin/cases/{case.id}").status_code == 404
    auth.logout()
    auth.login("staff_b1")
    page = client.get(f"/admin/cases/{case.id}/changes").get_data(as_text=True)
    assert "拆迁安置" in page and "甲一社区" in page and "乙一社区" in page and "1200.00" in page
    assert "迁移" in client.get(f"/admin/cases/{case.id}").get_data(as_text=True)


def test_who_may_transfer_where(session, w):
    case = _active(session, w)
    with pytest.raises(Forbidden):
        household.transfer(session, user(session, w, "staff_a1"), case, to_region_id=w.regions["comm_a2"],
                           kind=TransferKind.separation, moved_on=date(2026, 3, 1), reason="人户分离，实际居住地变更",
                           address="甲二社区 1 号")
    with pytest.raises(NotFound):  # the town cannot hand it to another town
        household.transfer(session, user(session, w, "town_a"), case, to_region_id=w.regions["comm_b1"],
                           kind=TransferKind.separation, moved_on=date(2026, 3, 1), reason="人户分离，实际居住地变更",
                           address="乙一社区 1 号")
    with pytest.raises(Invalid):
        household.transfer(session, user(session, w, "town_a"), case, to_region_id=w.regions["town_a"],
                           kind=TransferKind.separation, moved_on=date(2026, 3, 1), reason="人户分离，实际居住地变更",
                           address="x")
    with pytest.raises(Invalid, match="日期"):
        household.transfer(session, user(session, w, "town_a"), case, to_region_id=w.regions["comm_a2"],
                           kind=TransferKind.separation, moved_on=date(2026, 4, 1), reason="人户分离，实际居住地变更",
                           address="甲二社区 1 号")
    household.transfer(session, user(session, w, "town_a"), case, to_region_id=w.regions["comm_a2"],
                       kind=TransferKind.separation, moved_on=date(2026, 3, 1), reason="人户分离，实际居住地变更",
                       address="甲二社区 1 号")
    assert case.region_id == w.regions["comm_a2"] and case.monthly_amount == Decimal("960.00")
    assert entitlement.periods(session, case)[-1].change == AmountChange.approved  # same standard: no new period
    assert scope.can_see(user(session, w, "staff_a2"), case.region)


def test_a_birth_and_a_death_go_to_the_county_as_proposals_of_the_new_amount(session, w):
    """The community records a member change of an approved household; the amount its figures now give goes to
    the county as a proposal — raising or cutting a payment is the county's decision (A 32)."""
    from dibao import clock, reviews
    from dibao.models.management import Proposal, ProposalKind, ProposalSource, ProposalStatus

    case = _active(session, w)
    staff = user(session, w, "staff_a1")
    approved = entitlement.periods(session, case)
    change = household.member_joins(session, staff, case, kind=MemberChangeKind.birth, happened_on=date(2026, 3, 2),
                                    reason="出生医学证明 No.123", name="李小宝", relation="孙子女", age=0)
    assert case.household_size == 3 and change.size_after == 3
    assert (change.amount_before, change.amount_after) == (Decimal("960.00"), Decimal("960.00"))  # paid as before
    assert case.monthly_amount == Decimal("960.00") and entitlement.periods(session, case) == approved
    [proposal] = reviews.open_proposals(session, case)
    assert (proposal.kind, proposal.source, proposal.amount) == (ProposalKind.amount, ProposalSource.member_change,
                                                                 Decimal("1740.00"))  # 780 × 3 − 600
    with pytest.raises(Forbidden):
        reviews.decide(session, staff, proposal, confirm=True, reason="新生儿随户")
    reviews.decide(session, user(session, w, "county"), proposal, confirm=True, reason="新生儿随户，人口增加")
    period = entitlement.periods(session, case)[-1]
    assert (period.change, period.starts_on, period.amount) == (AmountChange.adjusted, date(2026, 4, 1),
                                                                Decimal("1740.00"))
    member = next(m for m in case.members if m.name == "李小1")
    change = household.member_leaves(session, staff, case, member.id, kind=MemberChangeKind.death,
                                     happened_on=date(2026, 3, 15), reason="死亡证明，2026年3月15日病故")
    assert case.household_size == 2 and change.member_name == "李小1" and change.amount_after == Decimal("1740.00")
    assert [c.kind for c in household.member_changes(session, case)] == [MemberChangeKind.birth,
                                                                        MemberChangeKind.death]
    # A death, whichever screen records it, puts the household on the due list with a re-check (issue 10.4),
    # beside the proposal of the amount without the member.
    assert case.next_review_due == clock.today()
    assert {(p.source, p.status, p.amount) for p in session.scalars(select(Proposal).where(
        Proposal.case_id == case.id))} == {
        (ProposalSource.member_change, ProposalStatus.confirmed, Decimal("1740.00")),
        (ProposalSource.member_change, ProposalStatus.open, Decimal("960.00")),
        (ProposalSource.death, ProposalStatus.open, None)}
    # Another change that brings the figures back to the amount paid withdraws the open proposal.
    household.member_joins(session, staff, case, kind=MemberChangeKind.moved_in, happened_on=date(2026, 3, 16),
                           reason="户口迁入", name="李小三", relation="子女", age=10)
    assert [p.source for p in reviews.open_proposals(session, case)] == [ProposalSource.death]
    with pytest.raises(Conflict, match="户主"):
        household.member_leaves(session, staff, case, case.members[0].id, kind=MemberChangeKind.death,
                                happened_on=date(2026, 3, 15), reason="户主病故，待变更户主")
    with pytest.raises(Invalid):
        household.member_joins(session, staff, case, kind=MemberChangeKind.death, happened_on=date(2026, 3, 2),
                               reason="写错了原因", name="某", relation="子女", age=1)
    with pytest.raises(Forbidden):
        household.member_joins(session, user(session, w, "county"), case, kind=MemberChangeKind.birth,
                               happened_on=date(2026, 3, 2), reason="出生医学证明", name="某", relation="子女", age=0)


def test_withdrawing_a_member_change_proposal_is_its_own_audit_event(client, auth, session, w):
    """A second member change that brings the amount back to what is paid withdraws the open proposal: a state
    change of its own, audited with the case and who made it, and named in Chinese in the audit viewer and the
    household's timeline."""
    from dibao import reviews
    from dibao.models.management import Proposal, ProposalStatus

    case = _active(session, w)
    staff = user(session, w, "staff_a1")
    household.member_joins(session, staff, case, kind=MemberChangeKind.birth, happened_on=date(2026, 3, 2),
                           reason="出生医学证明 No.123", name="李小宝", relation="孙子女", age=0)
    [proposal] = reviews.open_proposals(session, case)
    baby = next(m for m in case.members if m.name == "李小宝")
    household.member_leaves(session, staff, case, baby.id, kind=MemberChangeKind.moved_out,
                            happened_on=date(2026, 3, 10), reason="户口随母亲迁往外省")
    session.commit()
    assert session.get(Proposal, proposal.id).status == ProposalStatus.declined
    assert reviews.open_proposals(session, case) == []
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "proposal_withdrawn")).all()
    assert (event.object_type, event.object_id, event.region_id) == ("case", str(case.id), case.region_id)
    assert (event.actor_id, event.actor_name) == (staff.id, staff.display_name)
    assert json.loads(event.details) == {"proposal": proposal.id, "amount": "1740.00",
                                         "reason": "成员再次变化后金额与现发金额相同，无需调整。"}
    auth.login("county")
    page = client.get("/admin/audit/", query_string={"action": "proposal_withdrawn"}).get_data(as_text=True)
    rows = page.split("<tbody>", 1)[1]
    assert "撤回调整金额的建议（成员再次变化后金额不变）" in rows and "1740.00" in rows and staff.display_name in rows
    assert "proposal_withdrawn" not in rows
    timeline = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "撤回调整金额的建议（成员再次变化后金额不变）" in timeline


def test_a_change_before_the_decision_only_updates_the_application(session, w):
    case = register(session, user(session, w, "staff_a1"))
    household.member_joins(session, user(session, w, "staff_a1"), case, kind=MemberChangeKind.marriage_in,
                           happened_on=date(2026, 3, 1), reason="结婚登记，配偶户口迁入", name="王某", relation="配偶",
                           age=40)
    assert case.monthly_amount == Decimal("1740.00") and entitlement.periods(session, case) == []


def test_member_change_pages(client, auth, session, w):
    case = _active(session, w)
    session.commit()
    auth.login("staff_a1")
    token = csrf_token(client, f"/admin/cases/{case.id}/changes")
    res = client.post(f"/admin/cases/{case.id}/changes/join", data={
        "csrf_token": token, "kind": "birth", "happened_on": "2026-03-02", "name": "李小宝", "relation": "孙子女",
        "age": "0", "reason": ""})
    assert res.status_code == 400 and "请写明原因" in res.get_data(as_text=True)
    res = client.post(f"/admin/cases/{case.id}/changes/join", data={
        "csrf_token": token, "kind": "birth", "happened_on": "2026-03-02", "name": "李小宝", "relation": "孙子女",
        "age": "0", "reason": "出生医学证明"})
    assert res.status_code == 302
    page = client.get(f"/admin/cases/{case.id}/changes").get_data(as_text=True)
    assert "李小宝" in page and "出生" in page and "960.00 → 1740.00" not in page  # paid as before, until …
    assert "核算的保障金额为 1740.00 元（现发 960.00 元），已报县民政局决定" in page  # … the county decides


# --- item 10: the archive as a whole -------------------------------------------------------------------------------

def test_the_archive_prints_as_one_document_and_downloads_as_one_zip(client, auth, session, w):
    import io
    import zipfile

    from dibao import documents
    from dibao.models.household import DocumentKind

    case = _active(session, w)
    documents.issue(session, user(session, w, "county"), case, DocumentKind.approval)
    session.commit()
    auth.login("staff_a1")
    token = csrf_token(client, f"/admin/cases/{case.id}")
    pdf = tiny_pdf()
    assert client.post(f"/admin/cases/{case.id}/attachments", data={
        "csrf_token": token, "title": "低保申请书", "file": (io.BytesIO(pdf), "a.pdf")},
        content_type="multipart/form-data").status_code == 302
    printed = client.get(f"/admin/cases/{case.id}/archive/print").get_data(as_text=True)
    for part in ("一、基本情况", "二、家庭成员和收入", "三、资产和家庭经济状况核对", "四、入户调查", "五、民主评议",
                 "六、保障金额变动", "七、文书和送达", "八、材料", "九、办理记录", "测试县低保审〔2026〕1号",
                 "最低生活保障审批通知书", "低保申请书", "与申报一致"):
        assert part in printed, part
    res = client.get(f"/admin/cases/{case.id}/archive.zip")
    assert res.status_code == 200 and res.mimetype == "application/zip"
    assert "no-store" in res.headers["Cache-Control"]
    names = zipfile.ZipFile(io.BytesIO(res.data)).namelist()
    assert names[0] == f"{case.number}-一户一档.html"
    assert any(n.startswith("文书/测试县低保审〔2026〕1号") for n in names)
    assert "材料/01-低保申请书.pdf" in names
    assert zipfile.ZipFile(io.BytesIO(res.data)).read("材料/01-低保申请书.pdf").startswith(b"%PDF-")
    session.expire_all()
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "archive_downloaded")) is not None
    auth.logout()
    auth.login("staff_b1")
    assert client.get(f"/admin/cases/{case.id}/archive/print").status_code == 404
    assert client.get(f"/admin/cases/{case.id}/archive.zip").status_code == 404


def test_cabinet_files_archives_by_category(client, auth, session, w):
    from dibao import archive

    one = _active(session, w)
    one.category = 1
    four = register(session, user(session, w, "staff_a1"), category=4)
    to_stage(session, w, four, Stage.active)
    applying = register(session, user(session, w, "staff_a1"))
    other = register(session, user(session, w, "staff_b1"))
    session.commit()
    cabinets = {c.community.name: c for c in archive.cabinets(session, user(session, w, "town_a"))}
    assert set(cabinets) == {"甲一社区", "甲二社区"}
    a1 = cabinets["甲一社区"]
    assert a1.drawers[1] == [one] and a1.drawers[4] == [four] and a1.applying == [applying] and a1.total == 3
    auth.login("staff_a1")
    page = client.get("/admin/cabinet/").get_data(as_text=True)
    assert one.number in page and four.number in page and other.number not in page and "四类" in page


def _report_about(session, case, text="他家有人在外地上班，收入没有申报。"):
    report = feedback.submit_report(session, feedback.Submission(category="income_hidden", description=text),
                                    subject="recipient", region_code=case.region.code, case_number=case.number,
                                    media_dir="").item
    session.flush()
    return report


def test_open_reports_about_a_household_follow_its_transfer_decided_ones_stay(client, auth, session, w):
    """The new community and town keep the archive now, and the old community can no longer open it: an open
    report about the household moves with it (its old assignee, who cannot see it there, is taken off); a
    decided one stays where it was decided; a report about staff stays with the office it was routed to."""
    case = _active(session, w)
    old_community = case.region_id
    waiting = _report_about(session, case)
    assigned = _report_about(session, case, "家里新买了小汽车，没有报告。")
    decided = _report_about(session, case, "家里开了小卖部。")
    feedback.assign(session, user(session, w, "town_a"), assigned, w.users["staff_a1"])
    feedback.decide(session, user(session, w, "town_a"), decided, "not_upheld", "经核查，小卖部已于去年关闭。")
    session.commit()
    assert waiting.region_id == assigned.region_id == decided.region_id == old_community

    household.transfer(session, user(session, w, "county"), case, to_region_id=w.regions["comm_b1"],
                       kind=TransferKind.moved, moved_on=date(2026, 3, 10), reason="搬到乙一社区居住",
                       address="乙一社区幸福路 1 号")
    session.commit()
    assert (waiting.region_id, assigned.region_id) == (w.regions["comm_b1"],) * 2
    assert assigned.assigned_to_id is None  # 甲一's staff cannot see the household any more
    assert decided.region_id == old_community and decided.status == FeedbackStatus.decided
    moved = session.scalars(select(AuditEvent).where(AuditEvent.action == "report_moved")
                            .order_by(AuditEvent.id)).all()
    assert [e.object_id for e in moved] == [waiting.tracking_code, assigned.tracking_code]
    assert '"from": "100001001"' in moved[0].details and '"to": "100002001"' in moved[0].details

    # The new side sees and decides them; the old community and town no longer list them.
    for who, listed in (("staff_b1", True), ("town_b", True), ("staff_a1", False), ("town_a", False)):
        auth.login(who)
        inbox = client.get("/admin/feedback/?state=all").get_data(as_text=True)
        assert (waiting.tracking_code in inbox, assigned.tracking_code in inbox) == (listed, listed), who
        assert (decided.tracking_code in inbox) == (who in ("staff_a1", "town_a")), who
        auth.logout()
    session.rollback()  # a fresh snapshot after the requests' writes (logins)
    feedback.decide(session, user(session, w, "town_b"), waiting, "upheld", "经核查属实，已按规定处理。")
    session.commit()
    assert waiting.decided_by_id == w.users["town_b"]
