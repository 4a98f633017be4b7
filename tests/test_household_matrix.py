"""Issue 10 items 6–10: the role × region matrix of every new staff action. Each is tried by every role, on a case
(or a community) in 甲一社区 and so in and out of region. Exactly the allowed combinations succeed; everything else
is refused by the server (out of region 404, wrong role 403, wrong stage 409) with nothing changed."""

import io
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import assets, documents, panel
from dibao.models import AuditEvent, Case, Stage
from dibao.models.household import AssetKind, AssetLimits, DocumentKind, PanelRole
from tests.case_helpers import region, register, standard, to_stage, user
from tests.conftest import csrf_token
from tests.factories import tiny_pdf

USERS = ["staff_a1", "staff_a2", "staff_b1", "town_a", "town_b", "county", "admin"]
SEES_CASE = {"staff_a1", "town_a", "county", "admin"}
PDF = tiny_pdf()


def _limits(session, world):
    assets.set_limits(session, user(session, world, "admin"), region(session, world, "county"), housing_units=1,
                      housing_area_per_person=Decimal("40"), vehicles=0,
                      deposits_per_person=Decimal("9000"), business_allowed=False)


def _prepare_asset(session, world, case):
    return {"asset": assets.add_asset(session, user(session, world, "staff_a1"), case, kind=AssetKind.vehicle).id}


def _prepare_request(session, world, case):
    v = assets.request_verification(session, user(session, world, "staff_a1"), case,
                                    requested_on=date(2026, 3, 18), authorised_on=date(2026, 3, 18), agencies=["税务"])
    return {"v": v.id}


def _prepare_flag(session, world, case):
    _limits(session, world)
    assets.add_asset(session, user(session, world, "staff_a1"), case, kind=AssetKind.vehicle)
    return {}


def _prepare_document(session, world, case):
    return {"d": documents.issue(session, user(session, world, "county"), case, DocumentKind.approval).id}


def _prepare_meeting(session, world, case):
    community = region(session, world, "comm_a1")
    staff = user(session, world, "staff_a1")
    ids = [panel.add_member(session, staff, community, name=n, role=PanelRole.resident,
                            term_start=date(2026, 1, 1),
                            term_end=date(2028, 12, 31)).id for n in ("甲", "乙", "丙", "丁")]
    meeting = panel.convene(session, staff, community, held_on=date(2026, 3, 18), location="",
                            member_ids=ids[:3], attendee_ids=ids[3:], other_attendees=[])
    return {"m": meeting.id}


def _nothing(session, world, case):
    return {}


# action → (stage, prepare, path (formatted with the prepared ids), form data, allowed, multipart)
ACTIONS = {
    "asset_add": (Stage.applied, _nothing, "/cases/{c}/assets", lambda t, x: {
        "csrf_token": t, "kind": "vehicle", "units": "1"}, {"staff_a1", "town_a", "county"}),
    "asset_delete": (Stage.applied, _prepare_asset, "/cases/{c}/assets/{asset}/delete",
                     lambda t, x: {"csrf_token": t}, {"staff_a1", "town_a", "county"}),
    "verification_request": (Stage.applied, _nothing, "/cases/{c}/verifications", lambda t, x: {
        "csrf_token": t, "requested_on": "2026-03-18", "authorised_on": "2026-03-17", "agencies": ["税务"]},
        {"staff_a1", "town_a", "county"}),
    "verification_result": (Stage.town_review, _prepare_request, "/cases/{c}/verifications/{v}/result",
                            lambda t, x: {"csrf_token": t, "result": "consistent", "result_on": "2026-03-18",
                                          "document": (io.BytesIO(PDF), "r.pdf")}, {"town_a", "county"}),
    "asset_discretion": (Stage.county_approval, _prepare_flag, "/cases/{c}/asset-discretion", lambda t, x: {
        "csrf_token": t, "text": "车辆为残疾人代步车，酌情不计入资产。"}, {"county"}),
}


def _prepare_member(session, world, case):
    return {"m": case.members[1].id}


# item 6: member changes (community staff) and transfer (town within its town, county anywhere)
CHANGES = {
    "member_join": (Stage.active, _nothing, "/cases/{c}/changes/join", lambda t, x: {
        "csrf_token": t, "kind": "birth", "happened_on": "2026-03-10", "name": "新生儿", "relation": "孙子女",
        "age": "0", "reason": "出生医学证明"}, {"staff_a1"}),
    "member_leave": (Stage.active, _prepare_member, "/cases/{c}/changes/leave", lambda t, x: {
        "csrf_token": t, "member_id": str(x["m"]), "kind": "moved_out", "happened_on": "2026-03-10",
        "reason": "户口迁出到外省"}, {"staff_a1"}),
    "transfer": (Stage.active, _nothing, "/cases/{c}/transfer", lambda t, x: {
        "csrf_token": t, "to_region_id": "5", "kind": "separation", "moved_on": "2026-03-10",
        "address": "甲二社区 8 号", "reason": "人户分离，实际居住在甲二社区"}, {"town_a", "county"}),
}


def _snapshot(session, case_id):
    session.rollback()
    session.expire_all()
    case = session.get(Case, case_id)
    return (case.stage, case.region_id, case.updated_at, case.household_size, case.monthly_amount,
            session.scalar(select(func.count(AuditEvent.id))))


def _run(client, auth, session, world, who, stage, prepare, path, data, allowed, entry=None):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, case, stage)
    ids = {"c": case.id, **prepare(session, world, case)}
    session.commit()
    auth.login(who)
    token = csrf_token(client, "/admin/")
    url = "/admin" + path.format(**ids)
    if entry is not None:  # the page that offers the action
        page = client.get(entry.format(**ids))
        assert page.status_code == (200 if who in SEES_CASE else 404)
    before = _snapshot(session, case.id)
    res = client.post(url, data=data(token, ids), content_type="multipart/form-data")
    after = _snapshot(session, case.id)
    if who in allowed:
        assert res.status_code == 302, (who, res.status_code, res.get_data(as_text=True)[:1500])
        assert after != before
    else:
        assert res.status_code in ((404,) if who not in SEES_CASE else (403, 409)), (res.status_code, who)
        assert after == before, "a refused request changes nothing"
    return case, res


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_assets_matrix(client, auth, session, world, action, who):
    stage, prepare, path, data, allowed = ACTIONS[action]
    _run(client, auth, session, world, who, stage, prepare, path, data, allowed, entry="/admin/cases/{c}/assets")


@pytest.mark.parametrize("who", USERS)
def test_asset_limits_matrix(client, auth, session, world, who):
    auth.login(who)
    token = csrf_token(client, "/admin/")
    res = client.post("/admin/household/asset-limits", data={
        "csrf_token": token, "housing_units": "1", "housing_area_per_person": "40", "vehicles": "0",
        "deposits_per_person": "9360"})
    session.rollback()
    assert client.get("/admin/household/asset-limits").status_code == 200  # everyone reads them
    count = session.scalar(select(func.count(AssetLimits.id)))
    if who == "admin":
        assert res.status_code == 302 and count == 1
    else:
        assert res.status_code == 403 and count == 0


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("action", list(CHANGES))
def test_changes_matrix(client, auth, session, world, action, who):
    stage, prepare, path, data, allowed = CHANGES[action]
    assert world.regions["comm_a2"] == 5
    _run(client, auth, session, world, who, stage, prepare, path, data, allowed, entry="/admin/cases/{c}/changes")


# item 8: 文书 — the county issues (the town too for its own rejections), every level of the case records delivery
DOCUMENTS = {
    "issue_approval": (Stage.active, _nothing, "/cases/{c}/documents/approval", lambda t, x: {"csrf_token": t},
                       {"county"}),
    "delivery": (Stage.active, _prepare_document, "/documents/{d}/deliveries", lambda t, x: {
        "csrf_token": t, "delivered_on": "2026-03-18", "way": "in_person", "recipient": "李桂兰",
        "delivered_by": "送达人"}, {"staff_a1", "town_a", "county"}),
}


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("action", list(DOCUMENTS))
def test_documents_matrix(client, auth, session, world, action, who):
    stage, prepare, path, data, allowed = DOCUMENTS[action]
    case, _res = _run(client, auth, session, world, who, stage, prepare, path, data, allowed,
                      entry="/admin/cases/{c}/documents")
    for document in documents.documents_of(session, case):  # the printed notice: its case's scope
        assert client.get(f"/admin/documents/{document.id}").status_code == (200 if who in SEES_CASE else 404)


# item 9: the panel is the community's (its staff and its town manage it); questions are recorded by its staff
@pytest.mark.parametrize("who", USERS)
def test_question_matrix(client, auth, session, world, who):
    _run(client, auth, session, world, who, Stage.community_review, _prepare_meeting, "/cases/{c}/questions",
         lambda t, x: {"csrf_token": t, "meeting_id": str(x["m"]), "asked_by": "丁", "question": "收入是否属实？",
                       "answer": "已核实。", "answered_by": "甲"}, {"staff_a1"}, entry="/admin/cases/{c}/questions")


MANAGES_PANEL = {"staff_a1", "town_a"}


@pytest.mark.parametrize("who", USERS)
@pytest.mark.parametrize("action", ["member", "meeting", "end"])
def test_panel_matrix(client, auth, session, world, who, action):
    if action != "member":
        _prepare_meeting(session, world, None)
    session.commit()
    community = world.regions["comm_a1"]
    auth.login(who)
    token = csrf_token(client, "/admin/")
    assert client.get(f"/admin/panels/{community}").status_code == (200 if who in SEES_CASE else 404)
    if action == "member":
        url, data = f"/admin/panels/{community}/members", {
            "csrf_token": token, "name": "新成员", "role": "resident", "term_start": "2026-01-01",
            "term_end": "2028-12-31"}
    elif action == "meeting":
        url, data = f"/admin/panels/{community}/meetings", {
            "csrf_token": token, "held_on": "2026-03-18", "members": ["1", "2", "3"]}
    else:
        url, data = "/admin/panels/members/1/end", {"csrf_token": token}
    before = session.scalar(select(func.count(AuditEvent.id)))
    res = client.post(url, data=data)
    session.rollback()
    after = session.scalar(select(func.count(AuditEvent.id)))
    if who in MANAGES_PANEL:
        assert res.status_code == 302 and after == before + 1
    else:
        assert res.status_code == (403 if who in SEES_CASE else 404) and after == before


# item 10: the whole archive (print, zip) and the pages of a case are read where the case is seen
@pytest.mark.parametrize("who", USERS)
def test_archive_matrix(client, auth, session, world, who):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    auth.login(who)
    for path in ("archive/print", "archive.zip", "assets", "changes", "documents", "questions"):
        assert client.get(f"/admin/cases/{case.id}/{path}").status_code == (200 if who in SEES_CASE else 404), path
    assert (case.number in client.get("/admin/cabinet/").get_data(as_text=True)) == (who in SEES_CASE)
