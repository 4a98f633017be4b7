"""Names padded with invisible characters and control characters in typed text (dibao.text).

A two-character name typed with a full-width space (张　三), a zero-width space (王\\u200b五) or a bidi override
(李\\u202e四) used to be masked as 张*三 — the whole name on the public web, the API and the kiosk. Names are now
stored clean wherever they enter (registration, members, the import, the online application, payment accounts),
the mask counts only what a reader sees (for names stored before), and control characters never reach the
database or an xlsx export (where BEL read "_x0007_").
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from dibao import accounts, audit, cases, imports, migrate, notices, payments, regions
from dibao.disclosure import mask_name
from dibao.models import (
    AuditEvent,
    Case,
    Level,
    Member,
    NoticeEntry,
    Objection,
    Region,
    Stage,
    User,
    WorkCapacity,
)
from dibao.models.application import Application, ApplicationMember, ApplicationStatus
from dibao.models.disclosure import DisclosureRule
from dibao.models.household import MemberChange, MemberChangeKind, PanelMember, PanelRole
from dibao.models.job import Job
from dibao.models.payment import AccountKind, PaymentAccount
from dibao.text import clean_text, normalise_name
from tests.application_helpers import only, submit
from tests.case_helpers import register, standard, to_stage, user, valid_id
from tests.conftest import T0, csrf_token
from tests.export_helpers import export
from tests.factories import case_awaiting_notice, make_case
from tests.feedback_helpers import objection_data, open_entry
from tests.kiosk_helpers import register as register_kiosk
from tests.payment_helpers import luhn, read
from tests.roster_files import household, person_id, write

# --- the functions -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed,stored", [
    ("张　三", "张三"),  # U+3000, the full-width space of Chinese rosters
    (" 张 三 ", "张三"),
    ("王\u200b五", "王五"),  # zero-width space
    ("李\u202e四", "李四"),  # right-to-left override
    ("\u2066赵\u2069\ufeff六\u0007", "赵六"),  # isolates, BOM, BEL
    ("ㅤ孙ㅤ七", "孙七"),  # U+3164 Hangul filler: a "letter" that shows nothing
    ("阿依古丽·买买提", "阿依古丽·买买提"),
    ("阿依古丽・买买提", "阿依古丽·买买提"),  # U+30FB katakana middle dot
    ("阿依古丽•买买提", "阿依古丽·买买提"),  # U+2022 bullet
    ("阿依古丽‧买买提", "阿依古丽·买买提"),  # U+2027 hyphenation point
    ("阿依古丽･买买提", "阿依古丽·买买提"),  # U+FF65 half-width katakana middle dot
    ("阿依古丽 · · 买买提", "阿依古丽·买买提"),  # a run of dots and spaces: one dot
    ("·阿依古丽·买买提··", "阿依古丽·买买提"),  # no dot at either end
    ("ＬＩ　Ｍｉｎｇ", "LI Ming"),  # NFKC; words in Latin letters keep one space
    ("\u200b\u3000 ", ""),
    ("", ""),
    (None, ""),
])
def test_normalise_name(typed, stored):
    assert normalise_name(typed) == stored


@pytest.mark.parametrize("name,masked", [
    ("张", "张"),
    ("张三", "张*"),  # 2 visible characters
    ("张小明", "张*明"),  # 3
    ("欧阳小明", "欧**明"),  # 4
    ("张　三", "张*"),  # stored before names were cleaned: padded …
    ("　张　　三　", "张*"),
    ("王\u200b五", "王*"),  # … zero-width …
    ("李\u202e四", "李*"),  # … bidi override …
    ("\u2067赵\u2069六\ufeff", "赵*"),
    ("ㅤ孙ㅤ七", "孙*"),
    ("王·五", "王*"),  # two letters around a dot are a two-letter name
    ("王・五", "王*"),
    ("张\u3000小\u200b明", "张*明"),  # 3 visible: today's rule
    ("欧阳\u202e小明", "欧**明"),  # 4 visible
    ("阿依古丽·买买提", "阿******提"),  # the dot is one of the characters a reader sees
    ("·张小明·", "张*明"),
])
def test_mask_name_counts_only_what_a_reader_sees(name, masked):
    assert mask_name(name) == masked


def test_clean_text_drops_control_and_formatting_characters_and_keeps_the_rest():
    typed = "幸福路\u0007 8 号\u202e2 单元\u200b\r\n第二行\t表格\u3000全角空格 😀"
    assert clean_text(typed) == "幸福路 8 号2 单元\n第二行\t表格\u3000全角空格 😀"
    assert clean_text(typed, multiline=False) == "幸福路 8 号2 单元 第二行 表格\u3000全角空格 😀"
    assert clean_text("普通的一行字") == "普通的一行字" and clean_text(None) == ""


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_form_of_the_app_cleans_its_text_fields(app):
    """The cleaning is the forms' base class (dibao.forms): a form built on flask_wtf's or wtforms' own would
    skip it, so every form of the app is checked, field by field, through WTForms' own processing."""
    from flask_wtf import FlaskForm
    from werkzeug.datastructures import MultiDict
    from wtforms import Form
    from wtforms.fields import HiddenField, PasswordField, StringField, TextAreaField

    from dibao import forms

    ours = {c for c in _subclasses(Form) if c.__module__.startswith(("admin", "portal", "kiosk"))}
    assert len(ours) > 40
    assert [c.__qualname__ for c in ours if not issubclass(c, forms.FlaskForm | forms.Form)] == []
    checked = 0
    with app.test_request_context():
        for form_class in ours:
            try:
                form = form_class(meta={"csrf": False}) if issubclass(form_class, FlaskForm) else form_class()
            except TypeError:
                continue  # a form that needs arguments of its own; its fields are bound the same way
            for field in form:
                if not isinstance(field, StringField) or isinstance(field, PasswordField | HiddenField):
                    continue
                field.process(MultiDict({field.name: "甲\u202e乙\u0007\r\n丙"}))
                expected = "甲乙\n丙" if isinstance(field, TextAreaField) else "甲乙 丙"
                assert field.data == expected, (form_class.__qualname__, field.name, field.data)
                checked += 1
    assert checked > 100


# --- registration, the notice board, the API and the kiosk ---------------------------------------------------


def _cells(html: str, label: str) -> list[str]:
    return re.findall(rf'<td data-label="{label}">([^<]*)</td>', html)


def _no_whole_name(html: str, first: str, second: str) -> None:
    """Neither the name nor the name with anything but a letter between its two characters (张*三, 张　三)."""
    assert not re.search(rf"{first}[^\w<]*{second}", html), re.search(rf".{{40}}{first}[^\w<]*{second}.{{40}}",
                                                                      html, re.S)


def _kiosk_names(client, kiosk) -> list[str]:
    """The names on the kiosk's entry slides (a few entries a slide), in order, until the rotation comes round."""
    names, seen = [], []
    for slide in range(10):
        page = re.findall(r'<h3 class="k-name">([^<]+)</h3>',
                          client.get(f"/kiosk/{kiosk.token}/slide/{slide}").get_data(as_text=True))
        if not page or page in seen:
            break
        seen.append(page)
        names += page
    return names


def _mask_kiosk_names(session, world) -> None:
    # Inside the community the kiosk shows full names by default; a county may mask them there too.
    session.rollback()  # a fresh snapshot: the kiosk's polls have written since (SQLite refuses a stale writer)
    session.add(DisclosureRule(channel="kiosk", field="name", mode="masked", updated_at=T0,
                               region_id=world.regions["county"]))
    session.commit()


def test_a_clerk_registers_a_padded_name_it_is_stored_clean_and_every_public_channel_shows_the_mask(
        client, auth, session, world):
    standard(session, world)
    session.commit()
    kiosk = register_kiosk(session, world.regions["comm_a1"])
    auth.login("staff_a1")
    res = client.post("/admin/cases/new", data={
        "csrf_token": csrf_token(client, "/admin/cases/new"), "head_name": "张　三", "head_id_number": valid_id(),
        "head_age": "61", "head_health": "高血压\u202e", "head_work_capacity": "partial", "head_phone": "13912345678",
        "address": "甲一社区幸福路\u0007 8 号 2 单元 301 室", "public_address": "幸福路 8 号", "category": "1"})
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    case = session.scalars(select(Case)).one()
    assert case.head_name == "张三" and case.members[0].name == "张三"
    assert case.address == "甲一社区幸福路 8 号 2 单元 301 室" and case.members[0].health == "高血压"
    token = csrf_token(client, f"/admin/cases/{case.id}")
    res = client.post(f"/admin/cases/{case.id}/members", data={
        "csrf_token": token, "name": "王\u200b五", "relation": "子女", "age": "30", "work_capacity": "full"})
    assert res.status_code == 302
    res = client.post(f"/admin/cases/{case.id}/account", data={
        "csrf_token": token, "kind": "social_security_card", "bank_name": "农业银行", "holder_name": "张\u00a0三",
        "number": "1234567890"})
    assert res.status_code == 302, res.get_data(as_text=True)[:500]
    session.rollback()
    session.expire_all()
    case = session.get(Case, case.id)
    assert [m.name for m in case.members] == ["张三", "王五"] and case.payment_account.holder_name == "张三"

    # Through the workflow to the community notice, published on the board.
    to_stage(session, world, case, Stage.awaiting_community_notice, levels=(Level.community,))
    comm = session.get(Region, world.regions["comm_a1"])
    entry = notices.publish_batch(session, None, level=Level.community, region=comm, cases=[case],
                                  title="甲一社区低保初审公示").entries[0]
    session.commit()
    assert entry.head_name == "张三"

    board = client.get("/notices/100001001").get_data(as_text=True)
    assert _cells(board, "户主姓名") == ["张*"]
    page = client.get(f"/notices/e/{entry.public_id}").get_data(as_text=True)
    assert "<h1>张*</h1>" in page
    objection_page = client.get(f"/objections/new?entry={entry.public_id}").get_data(as_text=True)
    assert "<dd>张*</dd>" in objection_page
    for html in (board, page, objection_page):
        _no_whole_name(html, "张", "三")
    api = client.get("/api/v1/notices?region=100001001").get_json()
    assert [e["name"] for b in api["batches"] for e in b["entries"]] == ["张*"]
    assert "三" not in json.dumps(api["batches"][0]["entries"][0]["name"], ensure_ascii=False)
    # The kiosk: the full name inside the community (cleaned), masked once the county says so.
    assert _kiosk_names(client, kiosk) == ["张三"]
    _mask_kiosk_names(session, world)
    assert _kiosk_names(client, kiosk) == ["张*"]


def test_households_stored_with_padded_names_before_the_fix_are_masked_on_every_public_page(
        client, session, world):
    """Old rows, written straight into the database as they were typed years ago: the mask must hold."""
    comm = session.get(Region, world.regions["comm_a1"])
    kiosk = register_kiosk(session, world.regions["comm_a1"])
    noticed = [case_awaiting_notice(session, comm, Level.community, head_name=name, id_number=valid_id(n=n))
               for n, name in ((801, "张　三"), (802, "王\u200b五"), (803, "李\u202e四"))]
    entries = notices.publish_batch(session, None, level=Level.community, region=comm, cases=noticed,
                                    title="甲一社区低保初审公示").entries
    make_case(session, comm, stage=Stage.active, head_name="赵\u3000六", id_number=valid_id(n=804))
    make_case(session, comm, stage=Stage.active, head_name="钱\u2060七\u202c", id_number=valid_id(n=805))
    session.commit()
    assert {e.head_name for e in entries} == {"张　三", "王\u200b五", "李\u202e四"}  # the snapshots hold them

    board = client.get("/notices/100001001").get_data(as_text=True)
    assert sorted(_cells(board, "户主姓名")) == sorted(["张*", "王*", "李*"])
    roster = client.get("/roster/100001001").get_data(as_text=True)
    assert sorted(_cells(roster, "户主姓名")) == sorted(["赵*", "钱*"])
    for html in (board, roster, *(client.get(f"/notices/e/{e.public_id}").get_data(as_text=True)
                                  for e in entries)):
        for first, second in (("张", "三"), ("王", "五"), ("李", "四"), ("赵", "六"), ("钱", "七")):
            _no_whole_name(html, first, second)
    api = client.get("/api/v1/notices?region=100001001").get_json()
    assert sorted(e["name"] for b in api["batches"] for e in b["entries"]) == sorted(["张*", "王*", "李*"])
    roster_api = client.get("/api/v1/roster?region=100001001").get_json()
    assert sorted(r["name"] for r in roster_api["recipients"]) == sorted(["赵*", "钱*"])
    # Full names on the kiosk lose the invisible characters (a bidi override would turn the screen around).
    assert sorted(_kiosk_names(client, kiosk)) == sorted(["张　三", "王五", "李四"])
    _mask_kiosk_names(session, world)
    assert sorted(_kiosk_names(client, kiosk)) == sorted(["张*", "王*", "李*"])


# --- the roster import ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_an_imported_bidi_name_is_stored_clean_and_shown_masked(app, client, session, world, tmp_path, fmt):
    standard(session, world)
    session.commit()
    rows = household("1", "100001001", person_id(31), name="李\u202e四", holder_name="李\u3000四",
                     address="幸福路\u0007 9 号", monthly_amount="330.00",
                     members=[{"name": "李\u200b小\u00a0五", "id_number": person_id(32, "20100101"), "age": ""}])
    report = imports.import_roster(session, user(session, world, "county"), write(tmp_path / f"r.{fmt}", rows,
                                                                                  fmt=fmt), f"r.{fmt}")
    session.commit()
    assert report.ok and report.imported == 1, report.problems
    case = session.scalars(select(Case)).one()
    assert case.head_name == "李四" and [m.name for m in case.members] == ["李四", "李小五"]
    assert case.payment_account.holder_name == "李四" and case.address == "幸福路 9 号"

    roster = client.get("/roster/100001001").get_data(as_text=True)
    assert _cells(roster, "户主姓名") == ["李*"]
    _no_whole_name(roster, "李", "四")
    assert [r["name"] for r in client.get("/api/v1/roster?region=100001001").get_json()["recipients"]] == ["李*"]


def test_the_import_report_flags_a_name_that_is_empty_after_cleaning(app, client, auth, session, world, tmp_path):
    standard(session, world)
    session.commit()
    rows = [*household("1", "100001001", person_id(41), name="\u200b\u3000\u202e"),
            *household("2", "100001001", person_id(42), name="周桂英")]
    auth.login("county")
    with open(write(tmp_path / "roster.csv", rows, fmt="csv"), "rb") as fh:
        res = client.post("/admin/data/import", data={"csrf_token": csrf_token(client, "/admin/data/"),
                                                      "file": (fh, "roster.csv")}, content_type="multipart/form-data")
    job_id = int(re.search(r"/admin/jobs/(\d+)", res.headers["Location"]).group(1))
    app.extensions["dibao.jobs"].drain()
    report = imports.Report.from_dict(json.loads(session.get(Job, job_id).result))
    assert [(p.row, p.column, p.code) for p in report.errors] == [(2, "姓名", "required")]
    page = client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert "请填写姓名。" in page and "确认导入" not in page


# --- the residents' application form ---------------------------------------------------------------------------


def test_an_online_application_stores_names_and_text_clean(app, client, session, world):
    res = submit(client, head_name="王　秀兰", address="甲一社区幸福路\u0007 12 号\u202e", **{
        "members-0-name": "王\u200b小军", "reason": "老伴去年去世，\u0007我一个人靠种菜生活，每月收入不到三百元。"})
    assert res.status_code == 303, res.get_data(as_text=True)[:500]
    application = only(session, Application)
    assert application.head_name == "王秀兰" and [m.name for m in application.members] == ["王小军"]
    assert application.address == "甲一社区幸福路 12 号"
    assert application.reason == "老伴去年去世，我一个人靠种菜生活，每月收入不到三百元。"


def test_an_application_whose_name_is_only_invisible_characters_is_refused(app, client, session, world):
    res = submit(client, head_name="\u200b\u3000\u202e")
    assert res.status_code == 400 and "请填写申请人姓名" in res.get_data(as_text=True)


# --- control characters: gone from the database and from the xlsx exports ---------------------------------------


def _raw_xlsx(client, job_id) -> str:
    """The export's XML as written (a reader such as calamine would turn "_x0007_" back into BEL)."""
    data = client.get(f"/admin/jobs/{job_id}/file").data
    with zipfile.ZipFile(io.BytesIO(data)) as book:
        return "".join(book.read(n).decode() for n in book.namelist() if n.endswith(".xml"))


def test_an_objection_and_an_address_lose_their_control_characters_in_the_database_and_the_export(
        app, client, auth, session, world):
    # In the neighbouring community: the factory's case numbers never meet the one the clerk registers below.
    entry = open_entry(session, world, community="comm_a2", head_name="孙大海")
    res = client.post("/objections/new", data=objection_data(
        client, entry.public_id, description="他家\u0007开了饭店，\u202e收入不低。\r\n第二行\t说明。",
        name="举报\u200b人", phone="13800001111"))
    assert res.status_code in (302, 303), res.get_data(as_text=True)[:500]
    session.rollback()
    objection = session.scalars(select(Objection)).one()
    assert objection.description == "他家开了饭店，收入不低。\n第二行\t说明。"
    assert objection.submitter_name == "举报人"

    standard(session, world)
    session.commit()
    auth.login("staff_a1")
    res = client.post("/admin/cases/new", data={
        "csrf_token": csrf_token(client, "/admin/cases/new"), "head_name": "周秀英", "head_id_number": valid_id(),
        "head_age": "68", "head_work_capacity": "none", "head_phone": "13912345678",
        "address": "甲一社区\u0007幸福路 8 号\u202e", "category": "1"})
    assert res.status_code == 302
    session.rollback()
    assert session.scalar(select(Case.address).where(Case.head_name == "周秀英")) == "甲一社区幸福路 8 号"

    sheets, job_id = export(app, client, "cases")
    assert "甲一社区幸福路 8 号" in str(sheets["低保案件"])
    xml = _raw_xlsx(client, job_id)
    assert "_x0007_" not in xml and "\u202e" not in xml
    auth.logout()
    auth.login("town_a")  # the town handles objections in both its communities
    sheets, job_id = export(app, client, "feedback")
    assert [r[3] for r in sheets["异议"][1:]] == ["他家开了饭店，收入不低。\n第二行\t说明。"]
    xml = _raw_xlsx(client, job_id)
    assert "_x0007_" not in xml and "\u202e" not in xml


def test_text_stored_with_control_characters_before_the_fix_is_exported_without_them(app, client, auth, session,
                                                                                     world):
    comm = session.get(Region, world.regions["comm_a1"])
    make_case(session, comm, stage=Stage.active, head_name="吴\u202e老汉", address="旧地址\u0007幸福路 3 号",
              amount=Decimal("500.00"))
    session.commit()
    auth.login("staff_a1")
    sheets, job_id = export(app, client, "roster")
    assert [r[3] for r in sheets["在保家庭名册"][1:]] == ["吴老汉"]
    xml = _raw_xlsx(client, job_id)
    assert "_x0007_" not in xml and "\u202e" not in xml and "旧地址幸福路 3 号" in xml


# --- names stored before the cleaning: the migration rewrites the working records ---------------------------------

BEFORE_CLEANING = "0707_roster_summary"  # the revision before 0708_clean_stored_names


def _audit_rows(session) -> list[tuple]:
    return [tuple(r) for r in session.execute(select(
        AuditEvent.id, AuditEvent.actor_name, AuditEvent.details, AuditEvent.hash, AuditEvent.prev_hash)
        .order_by(AuditEvent.id))]


def test_the_migration_cleans_names_stored_before_and_leaves_notices_and_the_audit_log_alone(
        app, session, world, clock, capsys):
    comm = session.get(Region, world.regions["comm_a1"])
    staff = user(session, world, "staff_a1")
    # Rows as an older version stored them (written directly: today's domain would clean them).
    padded = make_case(session, comm, stage=Stage.active, head_name="张　三", id_number=valid_id(n=901), members=1)
    session.add(Member(case=padded, position=1, name="王\u200b五", relation="子女", age=30,
                       work_capacity=WorkCapacity.full, health="", monthly_deduction=Decimal("0")))
    session.add(PaymentAccount(case=padded, kind=AccountKind.bank_card, bank_name="农商银行", holder_name="张\u00a0三",
                               number="6222020200112233445", updated_by_name="甲一专干", updated_at=T0))
    session.add(MemberChange(case_id=padded.id, kind=MemberChangeKind.birth, member_name="王\u200b五",
                             happened_on=T0.date(), reason="出生", size_after=2, recorded_by_name="甲一专干",
                             created_at=T0))
    nothing_left = make_case(session, comm, stage=Stage.active, head_name="\u200b\u3000", id_number=valid_id(n=902),
                             members=1)
    noticed = case_awaiting_notice(session, comm, Level.community, head_name="李\u202e四", id_number=valid_id(n=903))
    entry = notices.publish_batch(session, None, level=Level.community, region=comm, cases=[noticed],
                                  title="甲一社区低保初审公示").entries[0]
    application = Application(
        tracking_code="A1B2C3D4", region_id=comm.id, status=ApplicationStatus.submitted, head_name="赵\u3000六",
        head_id_number=valid_id(n=904), head_phone="13912345678", head_work_capacity=WorkCapacity.none,
        address="幸福路 1 号", reason="生活困难", by_proxy=True, proxy_name="钱\u2060七", proxy_relation="子女",
        proxy_phone="13912345679", deadline=T0.date(), created_at=T0)
    application.members = [ApplicationMember(position=0, name="赵\u202e小六", relation="子女", age=12,
                                             work_capacity=WorkCapacity.none)]
    session.add(application)
    session.add(PanelMember(region_id=comm.id, name="孙\u3000八", role=PanelRole.resident, term_start=T0.date(),
                            term_end=T0.date().replace(year=2028), created_by_name="甲一专干", created_at=T0))
    staff.display_name = "甲一\u202e专干"
    comm.name = "甲一社区\u0007"
    session.flush()
    audit.record(session, staff, "note", "case", padded.id, region_id=comm.id, details={"name": "张　三"})
    session.commit()
    assert cases.search(session, staff, q="张三").total == 0  # what the clerk met before
    batch = entry.batch
    fingerprint = batch.fingerprint
    assert notices.fingerprint(batch, batch.entries) == fingerprint
    events = _audit_rows(session)
    assert any(row[1] == "甲一\u202e专干" for row in events)
    ids = {"padded": padded.id, "nothing_left": nothing_left.id, "noticed": noticed.id, "entry": entry.id,
           "application": application.id, "staff": staff.id, "comm": comm.id}
    session.close()

    engine = app.extensions["dibao.engine"]
    migrate.downgrade(engine, BEFORE_CLEANING)
    capsys.readouterr()
    migrate.upgrade(engine, "heads")
    printed = capsys.readouterr().out
    assert "2 left as they are" in printed  # the head's name, and the same name as the household's first member
    assert f"dibao_case.head_name #{ids['nothing_left']}" in printed and "case_member.name #" in printed

    padded = session.get(Case, ids["padded"])
    assert padded.head_name == "张三" and [m.name for m in padded.members] == ["张三", "王五"]
    assert padded.payment_account.holder_name == "张三"
    assert session.scalars(select(MemberChange.member_name)).all() == ["王五"]
    assert session.get(Case, ids["nothing_left"]).head_name == "\u200b\u3000"  # never an empty name
    assert session.get(Case, ids["noticed"]).head_name == "李四"
    application = session.get(Application, ids["application"])
    assert (application.head_name, application.proxy_name, [m.name for m in application.members]) == (
        "赵六", "钱七", ["赵小六"])
    assert session.scalars(select(PanelMember.name)).all() == ["孙八"]
    assert session.get(User, ids["staff"]).display_name == "甲一专干"
    assert session.get(Region, ids["comm"]).name == "甲一社区"
    staff = session.get(User, ids["staff"])
    assert [c.id for c in cases.search(session, staff, q="张三").items] == [ids["padded"]]
    assert [c.id for c in cases.search(session, staff, q="李四").items] == [ids["noticed"]]

    # Frozen on purpose: the published entry (its fingerprint) and the audit log (its hash chain).
    entry = session.get(NoticeEntry, ids["entry"])
    assert entry.head_name == "李\u202e四"
    assert notices.fingerprint(entry.batch, entry.batch.entries) == entry.batch.fingerprint == fingerprint
    assert _audit_rows(session) == events
    assert audit.verify(session).ok


# --- the command line and the domain functions behind it -----------------------------------------------------------


def test_create_user_and_create_region_clean_what_the_command_line_typed(app, runner, session, world):
    res = runner.invoke(args=["create-region", "--code", "100003", "--name", "丙\u202e街道\u0007 ",
                              "--parent", "100"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(args=["create-user", "--username", "cli_clean", "--name", "周\u3000七\u200b", "--role",
                              "town_reviewer", "--region", "100003", "--password", "correct-horse-battery"])
    assert res.exit_code == 0, res.output
    session.expire_all()
    assert session.scalar(select(Region.name).where(Region.code == "100003")) == "丙街道"
    assert session.scalar(select(User.display_name).where(User.username == "cli_clean")) == "周七"
    res = runner.invoke(args=["create-user", "--username", "cli_empty", "--name", "\u200b\u3000", "--role",
                              "town_reviewer", "--region", "100003", "--password", "correct-horse-battery"])
    assert res.exit_code != 0 and "请填写姓名" in res.output
    assert session.scalar(select(User.id).where(User.username == "cli_empty")) is None

    admin = user(session, world, "admin")
    staff = session.scalar(select(User).where(User.username == "cli_clean"))
    accounts.update_user(session, admin, staff, display_name="周\u202e七 ", role=staff.role, region=staff.region,
                         active=True)
    region = session.scalar(select(Region).where(Region.code == "100003"))
    regions.rename_region(session, admin, region, "丙\u200b街道\u0007")
    session.commit()
    assert (staff.display_name, region.name) == ("周七", "丙街道")


# --- the bank file ---------------------------------------------------------------------------------------------


def test_the_bank_file_carries_holder_names_clean_even_when_stored_padded(session, world, clock):
    standard(session, world)
    staff = user(session, world, "staff_a1")
    households = []
    for i, holder in enumerate(("张　三", "李\u202e四", None)):
        case = register(session, staff, head_name=f"户主{i}", income="0.00", members=1)
        to_stage(session, world, case, Stage.active, levels=())
        if holder:
            cases.set_payment_account(session, staff, case, kind=AccountKind.bank_card, bank_name="农商银行",
                                      holder_name="占位", number=luhn(f"62220202001122334{i}"))
        households.append(case)
    session.flush()
    # Stored before names were cleaned: the account holders and a head without an account.
    for case, holder in zip(households, ("张　三", "李\u202e四", "王\u200b五"), strict=True):
        if case.payment_account:
            session.execute(update(PaymentAccount).where(PaymentAccount.case_id == case.id)
                            .values(holder_name=holder))
        else:
            session.execute(update(Case).where(Case.id == case.id).values(head_name=holder))
    session.commit()
    clock.set(datetime(2026, 4, 5, 2, 0, tzinfo=UTC))
    county = user(session, world, "county")
    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    payments.check_town(session, user(session, world, "town_a"), run)
    payments.approve(session, county, run)
    session.commit()
    rows = read(payments.export_bank_file(session, county, run))
    assert rows[1][1] == "户名"
    assert sorted(r[1] for r in rows[2:]) == sorted(["张三", "李四", "王五"])
