"""The choices and the files of the staff forms converted earlier (tests/test_all_errors_staff.py and
tests/test_all_errors_staff_remaining.py). A value a select or radio list does not offer (a stale page, a changed
list, a hostile client) used to stop in the form's own check, alone, before the domain's; a bad uploaded file was
refused only once the other fields had passed. Now one POST shows the choice's or the file's message beside its
field together with the other problems, with a 4xx, and saves nothing — no row, no audit event, no file in the
media folder. The domain calls (the command line's and the jobs') refuse the same values with the same messages,
never with a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dibao import announcements, assets, cases, clock, documents, household, panel, workflow
from dibao.errors import Invalid
from dibao.models import AuditEvent, Case, Member, Opinion, Stage
from dibao.models.announcement import Announcement, AnnouncementKind
from dibao.models.display import BoardPhoto
from dibao.models.household import (
    Asset,
    Delivery,
    DocumentKind,
    MemberChange,
    PanelMember,
    PanelQuestion,
    Transfer,
)
from dibao.models.management import Proposal
from dibao.models.payment import PaymentAccount
from dibao.models.records import (
    Attachment,
    CaseRecord,
    ReviewMeeting,
    ReviewResult,
    Standard,
    TownMeetingResult,
)
from tests.case_helpers import region, register, standard, to_stage, user
from tests.kiosk_helpers import publish
from tests.staff_form_helpers import post_with_mistakes

NOT_A_FILE = b"GIF89a but not really a picture"  # a picture's first bytes, nothing decodable after them
BROKEN_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\n"  # no %%EOF: incomplete


def _applied(session, w):
    case = register(session, user(session, w, "staff_a1"), members=2)
    return {"case": case, "member": case.members[-1]}


def _active(session, w):
    case = to_stage(session, w, register(session, user(session, w, "staff_a1"), members=2), Stage.active)
    return {"case": case, "member": case.members[-1]}


def _at(stage):
    def make(session, w):
        return {"case": to_stage(session, w, register(session, user(session, w, "staff_a1")), stage)}
    return make


def _issued(session, w):
    case = _active(session, w)["case"]
    return {"case": case, "document": documents.issue(session, user(session, w, "county"), case,
                                                      DocumentKind.approval)}


def _panel(session, w):
    comm, staff = region(session, w, "comm_a1"), user(session, w, "staff_a1")
    start = clock.today() - timedelta(days=30)
    people = [panel.add_member(session, staff, comm, name=name, role="resident", term_start=start,
                               term_end=start + timedelta(days=700)) for name in ("评一", "评二", "评三")]
    return {f"p{i}": p for i, p in enumerate(people)}


def _panel_meeting(session, w):
    made = _applied(session, w)
    people = _panel(session, w)
    made["meeting"] = panel.convene(session, user(session, w, "staff_a1"), region(session, w, "comm_a1"),
                                    held_on=clock.today(), location="会议室", member_ids=[p.id for p in people.values()],
                                    attendee_ids=[], other_attendees=["镇干部刘敏"])
    return made


def _verification(session, w):
    made = _applied(session, w)
    made["verification"] = assets.request_verification(session, user(session, w, "staff_a1"), made["case"],
                                                       requested_on=clock.today(), authorised_on=clock.today(),
                                                       agencies=["不动产登记"])
    return made


def _batch(session, w):
    return {"batch": publish(session, w.regions["comm_a1"], ["张建国"])}


def _announcement(session, w):
    return {"announcement": announcements.publish(
        session, user(session, w, "staff_a1"), kind=AnnouncementKind.announcement, region=region(session, w, "comm_a1"),
        fields=announcements.Fields(title="入户调查时间安排", body="本周六上午入户调查。", starts_on=clock.today(),
                                    ends_on=clock.today()), media_dir="")}


# id: (who posts, the records made first, the url, the form, [(field, a message expected beside it)], the table)
# Each form holds a choice its list does not offer (or a bad file) and at least one other mistake.
CHOICES = {
    "registration: category and work capacity": ("staff_a1", None, "/admin/cases/new", {
        "head_name": "", "head_id_number": "{id}", "head_age": "70", "head_work_capacity": "strong",
        "address": "幸福路 8 号", "category": "9"},
        [("head_name", "请填写户主姓名"), ("head_work_capacity", "请选择劳动能力"), ("category", "请选择分类")], Case),
    "household: category": ("staff_a1", _applied, "/admin/cases/{case}/edit", {
        "head_phone": "", "address": "", "category": "x"},
        [("address", "请填写家庭住址"), ("category", "请选择分类")], Case),
    "member: relation and work capacity": ("staff_a1", _applied, "/admin/cases/{case}/members", {
        "name": "", "relation": "邻居", "age": "30", "work_capacity": "strong"},
        [("name", "请填写成员姓名"), ("relation", "请选择与户主的关系"), ("work_capacity", "请选择劳动能力")], Member),
    "member edit: relation": ("staff_a1", _applied, "/admin/cases/{case}/members/{member}", {
        "name": "", "relation": "邻居", "age": "30", "work_capacity": "full"},
        [("name", "请填写成员姓名"), ("relation", "请选择与户主的关系")], AuditEvent),
    "account: kind": ("staff_a1", _applied, "/admin/cases/{case}/account", {
        "kind": "cash", "bank_name": "", "holder_name": "李桂兰", "number": "6222020200000000"},
        [("kind", "请选择账户类型"), ("bank_name", "请填写开户银行")], PaymentAccount),
    "community review: decision": ("staff_a1", _at(Stage.community_review), "/admin/cases/{case}/community-review", {
        "meeting_id": "0", "held_on": "{today}", "location": "会议室", "panel": "评一\n评二\n评三", "votes_for": "",
        "votes_against": "0", "decision": "maybe", "opinion": "同意上报"},
        [("decision", "请选择评议结果"), ("votes_for", "请填写票数")], ReviewResult),
    "community review: meeting": ("staff_a1", _at(Stage.community_review), "/admin/cases/{case}/community-review", {
        "meeting_id": "12x", "votes_for": "3", "votes_against": "0", "decision": "approve", "opinion": ""},
        [("meeting_id", "请选择本社区的评议会议"), ("opinion", "请填写评议意见")], ReviewResult),
    "town decision: decision": ("town_a", _at(Stage.town_decision), "/admin/cases/{case}/town-decision", {
        "title": "", "held_on": "{today}", "participants": "书记\n镇长\n民政助理", "decision": "maybe",
        "opinion": "同意"},
        [("decision", "请选择研究结果"), ("title", "请填写会议名称")], TownMeetingResult),
    "county decision: decision": ("county", _at(Stage.county_approval), "/admin/cases/{case}/county-decision", {
        "decision": "maybe", "opinion": "", "override_amount": "", "override_reason": ""},
        [("decision", "请选择审批结果"), ("opinion", "请填写审批意见")], Opinion),
    "periodic review: category": ("staff_a1", _active, "/admin/cases/{case}/periodic-review", {
        "findings": "", "category": "9"},
        [("findings", "请填写复核情况"), ("category", "请选择分类")], CaseRecord),
    "review: category": ("staff_a1", _active, "/admin/cases/{case}/review", {
        "checked": "income", "findings": "", "category": "x", "outcome": "continue"},
        [("findings", "请填写复核情况"), ("category", "请选择分类")], CaseRecord),
    "standard: region": ("admin", None, "/admin/standards/", {
        "region_id": "999999999", "monthly_amount": "八百", "effective_from": "2027-01-01", "note": ""},
        [("region_id", "请选择适用区划"), ("monthly_amount", "金额格式不对")], Standard),
    "asset: kind": ("staff_a1", _applied, "/admin/cases/{case}/assets", {
        "kind": "gold", "units": "0", "area": "", "value": ""},
        [("kind", "请选择资产类型"), ("units", "1 至 99 之间的整数")], Asset),
    "member joins: kind and relation": ("staff_a1", _active, "/admin/cases/{case}/changes/join", {
        "kind": "adoption", "happened_on": "{today}", "name": "", "relation": "邻居", "age": "0",
        "reason": "出生医学证明"},
        [("kind", "请选择成员增加的原因"), ("name", "请填写成员姓名"), ("relation", "请选择与户主的关系")], MemberChange),
    "member leaves: member and kind": ("staff_a1", _active, "/admin/cases/{case}/changes/leave", {
        "member_id": "x", "kind": "birth", "happened_on": "", "reason": "死亡证明"},
        [("member_id", "请选择减少的家庭成员"), ("kind", "请选择成员减少的原因"), ("happened_on", "请填写日期")],
        MemberChange),
    "transfer: region and kind": ("town_a", _active, "/admin/cases/{case}/transfer", {
        "to_region_id": "999999999", "kind": "flood", "moved_on": "", "address": "新村 1 号", "reason": "拆迁安置搬家"},
        [("to_region_id", "请选择迁入的社区"), ("kind", "请选择迁移类型"), ("moved_on", "请填写日期")], Transfer),
    "delivery: way": ("county", _issued, "/admin/documents/{document}/deliveries", {
        "delivered_on": "{today}", "way": "pigeon", "recipient": "", "delivered_by": "县民政局"},
        [("way", "请选择送达方式"), ("recipient", "请填写签收人")], Delivery),
    "panel member: role": ("staff_a1", None, "/admin/panels/{comm_a1}/members", {
        "name": "", "role": "chair", "term_start": "2026-01-01", "term_end": "2027-12-31"},
        [("name", "请填写姓名"), ("role", "请选择身份")], PanelMember),
    "panel meeting: members": ("staff_a1", _panel, "/admin/panels/{comm_a1}/meetings", {
        "held_on": "{today}", "location": "会议室", "members": ["{p0}", "{p1}", "{p2}", "x"], "attendees": "{p0}"},
        [("members", "只能从评议日期在任的本社区评议小组成员中选择"), ("attendees", "同一人不能既参加评议又列席")],
        ReviewMeeting),
    "question: meeting": ("staff_a1", _panel_meeting, "/admin/cases/{case}/questions", {
        "meeting_id": "x", "asked_by": "镇干部刘敏", "question": "车?", "answer": "没有车", "answered_by": "评一"},
        [("meeting_id", "请选择本社区的评议会议"), ("question", "至少 4 个字")], PanelQuestion),
    "death: member": ("staff_a1", _active, "/admin/cases/{case}/death", {"member_id": "x", "died_on": ""},
                      [("member_id", "请选择去世的家庭成员"), ("died_on", "请填写死亡日期")], Proposal),
    # an unknown kind used to publish an ordinary announcement; a region the list does not offer answered 404 alone
    "announcement: kind": ("staff_a1", None, "/admin/announcements/new", {
        "kind": "notice", "region_id": "{comm_a1}", "title": "", "body": "正文", "starts_on": "{today}",
        "ends_on": "{today}"},
        [("kind", "请选择类型"), ("title", "请填写标题")], Announcement),
    "announcement: a region out of scope": ("staff_a1", None, "/admin/announcements/new", {
        "kind": "announcement", "region_id": "{comm_a2}", "title": "", "body": "正文", "starts_on": "{today}",
        "ends_on": "{today}"},
        [("region_id", "请选择发布范围"), ("title", "请填写标题")], Announcement),
    "announcement: kind and a region that is no number": ("staff_a1", None, "/admin/announcements/new", {
        "kind": "", "region_id": "12x", "title": "公告", "body": "", "starts_on": "{today}", "ends_on": "{today}"},
        [("kind", "请选择类型"), ("region_id", "请选择发布范围"), ("body", "请填写正文")], Announcement),
    "announcement edit: region": ("staff_a1", _announcement, "/admin/announcements/{announcement}", {
        "region_id": "{town_a}", "title": "", "body": "正文", "starts_on": "{today}", "ends_on": "{today}"},
        [("region_id", "请选择发布范围"), ("title", "请填写标题")], Announcement),
}

FILES = {
    "attachment: a file that is no picture": ("staff_a1", _applied, "/admin/cases/{case}/attachments", {
        "title": "", "file": (NOT_A_FILE, "申请书.jpg")},
        [("title", "请填写材料名称"), ("file", "只能上传照片或 PDF 文件")], Attachment),
    "attachment: an incomplete PDF": ("staff_a1", _applied, "/admin/cases/{case}/attachments", {
        "title": "", "file": (BROKEN_PDF, "申请书.pdf")},
        [("title", "请填写材料名称"), ("file", "PDF 文件不完整")], Attachment),
    "verification result: its document": ("town_a", _verification,
                                          "/admin/cases/{case}/verifications/{verification}/result", {
        "result": "consistent", "result_on": "", "findings": "", "document": (NOT_A_FILE, "核对报告.jpg")},
        [("result_on", "请填写核对结果的日期"), ("document", "只能上传照片或 PDF 文件")], Attachment),
    "case photo": ("staff_a1", _applied, "/admin/cases/{case}/photo", {
        "consent": "y", "photo": (NOT_A_FILE, "户照片.jpg")},
        [("photo", "无法识别这个文件")], Case),
    "board photo": ("staff_a1", _batch, "/admin/notices/{batch}/display/photos", {
        "taken_on": "", "note": "社区公示栏", "photo": (NOT_A_FILE, "board.jpg")},
        [("taken_on", "请填写拍摄日期"), ("photo", "无法识别这个文件")], BoardPhoto),
    "announcement: picture and file": ("staff_a1", None, "/admin/announcements/new", {
        "kind": "announcement", "region_id": "{comm_a1}", "title": "", "body": "正文", "starts_on": "{today}",
        "ends_on": "{today}", "picture": (NOT_A_FILE, "配图.jpg"), "files": (BROKEN_PDF, "通知.pdf")},
        [("title", "请填写标题"), ("picture", "图片：无法识别这个文件"), ("files", "附件“通知.pdf”：PDF 文件不完整")],
        Announcement),
}


@pytest.mark.parametrize("name", list(CHOICES))
def test_a_choice_not_offered_is_said_with_the_other_problems(app, client, auth, session, world, name):
    post_with_mistakes(app, client, auth, session, world, CHOICES[name])


@pytest.mark.parametrize("name", list(FILES))
def test_a_bad_file_is_said_with_the_other_problems_and_nothing_is_written(app, client, auth, session, world,
                                                                           name):
    post_with_mistakes(app, client, auth, session, world, FILES[name])


# --- the domain calls, as the command line and the jobs make them: the same refusals, never a ValueError ------------

def _fields(err) -> list[str | None]:
    return [field for field, _message in err.field_problems]


def test_the_domain_collects_a_choice_no_list_offers(app, session, world):
    standard(session, world)
    made = _active(session, world)
    applied = _applied(session, world)["case"]
    session.commit()
    staff, town = user(session, world, "staff_a1"), user(session, world, "town_a")
    case = made["case"]
    with app.test_request_context():
        with pytest.raises(Invalid) as caught:
            cases.add_member(session, staff, applied, name="", relation="邻居", age=30, id_number=None, health="",
                             work_capacity="strong", deduction=None, deduction_note="")
        assert _fields(caught.value) == ["name", "relation", "work_capacity"]
        with pytest.raises(Invalid) as caught:
            cases.set_payment_account(session, staff, applied, kind="cash", bank_name="", holder_name="李桂兰",
                                      number="6222020200000000")
        assert _fields(caught.value) == ["kind", "bank_name"]
        with pytest.raises(Invalid) as caught:
            assets.add_asset(session, staff, applied, kind="gold", units=0)
        assert _fields(caught.value) == ["kind", "units"]
        with pytest.raises(Invalid) as caught:
            household.member_leaves(session, staff, case, -1, kind="birth", happened_on=None, reason="死亡证明")
        assert _fields(caught.value) == ["member_id", "kind", "happened_on"]
        with pytest.raises(Invalid) as caught:
            household.transfer(session, town, case, to_region_id=None, kind="flood", moved_on=None, reason="拆迁安置搬家",
                               address="新村 1 号")
        assert _fields(caught.value) == ["to_region_id", "kind", "moved_on"]
        with pytest.raises(Invalid) as caught:
            panel.add_member(session, staff, region(session, world, "comm_a1"), name="", role="chair",
                             term_start=clock.today(), term_end=clock.today())
        assert _fields(caught.value) == ["name", "role"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Asset)) == 0


def test_the_decisions_refuse_a_value_no_radio_offers(app, session, world):
    standard(session, world)
    county_case = _at(Stage.county_approval)(session, world)["case"]
    town_case = _at(Stage.town_decision)(session, world)["case"]
    session.commit()
    with app.test_request_context():
        with pytest.raises(Invalid) as caught:
            workflow.record_county_decision(session, user(session, world, "county"), county_case, decision="maybe",
                                            opinion="")
        assert _fields(caught.value) == ["decision", "opinion"]
        with pytest.raises(Invalid) as caught:
            workflow.record_town_decision(session, user(session, world, "town_a"), town_case, decision="",
                                          opinion="同意纳入低保保障", held_on=clock.today(), title="", participants=["甲"] * 3)
        assert _fields(caught.value)[:2] == ["decision", "title"]
    session.rollback()
    assert session.get(Case, county_case.id).stage == Stage.county_approval
