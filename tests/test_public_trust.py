"""Issue 9 (items 1–4): what the public sees of a household ends when its notice ends, when an objection is
upheld, when its amount is 0 without a written reason, and when its photo consent is withdrawn."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from dibao import kiosks, media, notices
from dibao.models import Level, Objection, Report, User
from tests.feedback_helpers import form_fields, jpeg, objection_data
from tests.trust_helpers import _region, publish_household

# A household whose every published value is distinctive enough to be searched for in a response.
SNAPSHOT_VALUES = ("欧阳秀珍", "欧**珍", "梧桐巷", "2468", "5 人", '"household_size": 5', "经复查，乡镇同意纳入低保")


def entry_urls(entry, kiosk) -> dict[str, str]:
    """Every public URL that names the entry (GET)."""
    pid = entry.public_id
    return {
        "page": f"/notices/e/{pid}",
        "api": f"/api/v1/notices/{pid}",
        "photo": f"/media/entry/{pid}/photo",
        "kiosk photo": f"/kiosk/{kiosk.token}/photo/{pid}",
        "QR": f"/Q/E{pid.upper()}",
        "short link": f"/q/E{pid}",
        "objection form": f"/objections/new?entry={pid}",
        "report form": f"/reports/new?entry={pid}",
    }


def board_urls(kiosk) -> dict[str, str]:
    """Public URLs that list the community's entries: they stay up, without the entry."""
    return {
        "choose-entry list": "/objections/new?region=100001001",
        "print board": "/notices/100001001/print",
        "board": "/notices/100001001",
        "API list": "/api/v1/notices?region=100001001",
        "kiosk": f"/kiosk/{kiosk.token}",
    }


def leaked(text: str) -> list[str]:
    return [value for value in SNAPSHOT_VALUES if value in text]


def walk(client, entry, kiosk, objection: dict, report: dict) -> dict[str, tuple[int, list[str]]]:
    """Every public URL of the entry, GET and the two POSTs: status and the snapshot values in the body."""
    seen = {}
    for name, url in {**entry_urls(entry, kiosk), **board_urls(kiosk)}.items():
        res = client.get(url)
        seen[name] = (res.status_code, leaked(res.get_data(as_text=True)))
    for name, url, data in (("objection POST", f"/objections/new?entry={entry.public_id}", objection),
                            ("report POST", "/reports/new", report)):
        res = client.post(url, data=dict(data))
        seen[name] = (res.status_code, leaked(res.get_data(as_text=True)))
    return seen


def forms(client, entry):
    objection = objection_data(client, entry.public_id)
    report = {**form_fields(client, f"/reports/new?entry={entry.public_id}"), "entry": entry.public_id,
              "subject": "recipient", "category": "household", "description": "家里实际住着七口人，有车。",
              "name": "", "phone": "", "website": ""}
    return objection, report


ENTRY_URLS = ("page", "api", "photo", "kiosk photo", "QR", "short link", "objection form", "report form",
              "objection POST", "report POST")


@pytest.mark.parametrize("ending", ["closed", "withdrawn"])
def test_a_closed_or_withdrawn_entry_leaves_every_public_channel(app, client, session, world, clock, ending):
    entry, kiosk = publish_household(app, session, world)
    objection, report = forms(client, entry)

    # While open, the channels show the household (so the check below can fail).
    assert client.get(f"/notices/e/{entry.public_id}").status_code == 200
    assert leaked(client.get(f"/notices/e/{entry.public_id}").get_data(as_text=True))
    assert leaked(client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True))
    assert leaked(client.get("/objections/new?region=100001001").get_data(as_text=True))
    assert client.get(f"/kiosk/{kiosk.token}/photo/{entry.public_id}").status_code == 200
    assert client.get(f"/Q/E{entry.public_id.upper()}").status_code == 302

    if ending == "closed":
        clock.set(entry.batch.closes_at)
        date_text = "公示期已于2026年3月25日"
    else:
        clock.advance(days=2)
        notices.withdraw_entry(session, session.get(User, world.users["town_a"]), entry, "材料有误，重新公示")
        session.commit()
        date_text = "已于2026年3月20日"
    seen = walk(client, entry, kiosk, objection, report)

    assert {name: seen[name][0] for name in ENTRY_URLS} == dict.fromkeys(ENTRY_URLS, 410)
    assert all(seen[name][0] == 200 for name in board_urls(kiosk))
    assert {name: values for name, (_, values) in seen.items() if values} == {}
    # The 410 page: the date, the hotline and how to report — and nothing else of the entry.
    page = client.get(f"/notices/e/{entry.public_id}").get_data(as_text=True)
    assert date_text in page and 'href="tel:12349"' in page and 'href="/reports/new"' in page
    gone = client.get(f"/api/v1/notices/{entry.public_id}").get_json()
    assert gone["error"] == "gone" and date_text in gone["message"] and gone["hotline"] == "12349"
    assert gone["report_url"] == "http://dibao.test/reports/new"
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Objection)) == 0
    assert session.scalar(select(func.count()).select_from(Report)) == 0


def test_an_entry_that_never_was_public_is_not_found_everywhere(app, client, session, world, clock):
    entry, kiosk = publish_household(app, session, world, opens_at=clock.now() + timedelta(days=1))
    statuses = {name: client.get(url).status_code for name, url in entry_urls(entry, kiosk).items()}
    assert statuses == dict.fromkeys(statuses, 404)
    for url in board_urls(kiosk).values():
        assert leaked(client.get(url).get_data(as_text=True)) == []
    assert re.search(r"[0-9]{4}年", client.get(f"/notices/e/{entry.public_id}").get_data(as_text=True)) is None


# --- 4. withdrawn photo consent ----------------------------------------------------------------------


def _age_media_files(app, seconds=2 * 3600):
    """Make every stored file look older than the media gc's grace period."""
    import os
    import time
    from pathlib import Path

    for path in Path(app.config["MEDIA_DIR"]).rglob("*.jpg"):
        os.utime(path, (time.time() - seconds, time.time() - seconds))


def _media_files(app) -> set[str]:
    from pathlib import Path

    root = Path(app.config["MEDIA_DIR"])
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("how", ["consent unticked", "photo deleted"])
def test_withdrawn_photo_consent_takes_the_photo_off_every_channel_at_once(app, client, auth, session, world,
                                                                          runner, how):
    from dibao import cases, disclosure
    from dibao.models import Case

    entry, kiosk = publish_household(app, session, world)
    admin = session.get(User, world.users["admin"])
    rules = {c: {f: disclosure.DEFAULT.mode(c, f) for f in disclosure.Field} for c in disclosure.Channel}
    for channel in (disclosure.Channel.web, disclosure.Channel.api):  # so every channel has a photo to lose
        rules[channel][disclosure.Field.photo] = "show"
    disclosure.save_policy(session, admin, admin.region, rules)
    session.commit()
    key = entry.photo_key
    kiosk_photo = f"/kiosk/{kiosk.token}/photo/{entry.public_id}"
    web_photo = f"/media/entry/{entry.public_id}/photo"
    auth.login("town_a")  # staff of the region see the print channel (photos) on the portal

    def shown() -> dict[str, object]:
        slide = client.get(f"/kiosk/{kiosk.token}/slide/0", headers={"If-None-Match": etags.get("slide", "")})
        etags["slide"] = slide.headers["ETag"].strip('"')
        board = client.get("/notices/100001001/print", headers={"If-None-Match": etags.get("print", "")})
        etags["print"] = board.headers["ETag"].strip('"')
        return {
            "kiosk photo": client.get(kiosk_photo).status_code,
            "web photo": client.get(web_photo).status_code,
            "kiosk display": "k-photo" in client.get(f"/kiosk/{kiosk.token}").get_data(as_text=True),
            "kiosk slide": slide.status_code,  # 304 would keep the cached slide with its photo
            "print board": board.status_code == 200 and web_photo in board.get_data(as_text=True),
            "entry page": web_photo in client.get(f"/notices/e/{entry.public_id}").get_data(as_text=True),
            "API": "photo_url" in client.get(f"/api/v1/notices/{entry.public_id}").get_json(),
        }

    etags: dict[str, str] = {}
    assert shown() == {"kiosk photo": 200, "web photo": 200, "kiosk display": True, "kiosk slide": 200,
                       "print board": True, "entry page": True, "API": True}
    assert shown()["kiosk slide"] == 304  # unchanged: the kiosk keeps its copy

    case = session.get(Case, entry.case_id)
    staff = session.get(User, world.users["staff_a1"])
    if how == "consent unticked":
        cases.set_photo(session, staff, case, data=None, consent=False, media_dir=app.config["MEDIA_DIR"])
    else:
        cases.remove_photo(session, staff, case)
    session.commit()

    assert shown() == {"kiosk photo": 404, "web photo": 404, "kiosk display": False, "kiosk slide": 200,
                       "print board": False, "entry page": False, "API": False}
    session.expire_all()
    assert session.get(type(entry), entry.id).photo_key == key  # the snapshot itself is unchanged

    # The files: kept while the case has the photo (even without consent), deleted once nothing references them.
    _age_media_files(app)
    result = runner.invoke(args=["media", "gc"])
    assert result.exit_code == 0, result.output
    if how == "consent unticked":
        assert "0 unreferenced files deleted" in result.output and key in _media_files(app)
    else:
        assert "3 unreferenced files deleted" in result.output  # the photo and its two renditions
        assert _media_files(app) == set()


def test_media_gc_keeps_what_is_referenced_and_what_is_fresh(app, session, world):
    from dibao import sweep

    entry, _ = publish_household(app, session, world)
    orphan = media.store_image(jpeg(color=(10, 200, 10)), app.config["MEDIA_DIR"])
    assert sweep.run_sweep(app).media_deleted == []  # just written: an upload may not be committed yet
    _age_media_files(app)
    deleted = sweep.run_sweep(app).media_deleted
    assert sorted(deleted) == sorted([orphan.key, media.rendition_key(orphan.key, "thumb"),
                                      media.rendition_key(orphan.key, "display")])
    assert entry.photo_key in _media_files(app)


# --- 2. an upheld objection ------------------------------------------------------------------------------


def _object(client, entry) -> Objection:
    res = client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id))
    assert res.status_code == 303
    return res


@pytest.mark.parametrize("outcome", ["upheld", "partly_upheld"])
def test_an_upheld_objection_takes_the_entry_off_every_board_at_once(app, client, auth, session, world, outcome):
    from dibao.models import AuditEvent, NoticeEntry, Stage
    from tests.conftest import csrf_token

    entry, kiosk = publish_household(app, session, world)
    _object(client, entry)
    objection = session.scalar(select(Objection))
    answer = "经入户核查，该户有经营收入未申报，异议成立，已退回重新调查。"
    auth.login("town_a")
    url = f"/admin/feedback/objection/{objection.id}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": outcome,
                                             "notes": "乡镇干部王五入户核实，查看了营业执照。", "public_answer": answer})
    assert res.status_code == 303
    auth.logout()

    # Still inside its window, the entry is gone from every channel on the next request.
    assert client.get(f"/notices/e/{entry.public_id}").status_code == 410
    assert client.get(f"/api/v1/notices/{entry.public_id}").status_code == 410
    for url in board_urls(kiosk).values():
        assert leaked(client.get(url).get_data(as_text=True)) == [], url
    session.rollback()
    withdrawn = session.get(NoticeEntry, entry.id)
    assert withdrawn.withdrawn_reason == answer and withdrawn.withdrawn_by_id == world.users["town_a"]
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "notice_entry_withdrawn_early",
                                                   AuditEvent.object_id == entry.public_id))
    details = json.loads(event.details)
    assert details["reason"] == answer and details["objection"] == objection.tracking_code
    assert withdrawn.case.stage == Stage.investigating  # and the case still goes back to investigation


def test_an_objection_not_upheld_leaves_the_entry_on_the_board(app, client, auth, session, world):
    from tests.conftest import csrf_token

    entry, _ = publish_household(app, session, world)
    _object(client, entry)
    objection = session.scalar(select(Objection))
    auth.login("town_a")
    url = f"/admin/feedback/objection/{objection.id}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "not_upheld",
                                             "notes": "乡镇干部王五入户核实，走访三户邻居。",
                                             "public_answer": "经核查，该户收入情况属实，异议不成立。"})
    assert res.status_code == 303  # (decided, not refused)
    assert client.get(f"/notices/e/{entry.public_id}").status_code == 200


# --- 3. no public approval of a household whose amount is 0 ---------------------------------------------


def _zero_amount_case(session, world):
    """A household of two whose counted income (2 × 900 yuan) is above the standard (780 yuan per person)."""
    from dibao.models import Stage
    from tests.case_helpers import register, standard, to_stage, user

    standard(session, world)
    case = register(session, user(session, world, "staff_a1"), income="1800.00", members=2)
    to_stage(session, world, case, Stage.community_review)
    session.commit()
    return case


def test_community_and_town_refuse_to_approve_a_zero_amount_without_a_written_reason(app, client, session, world,
                                                                                     auth, clock):
    from dibao import workflow
    from dibao.errors import Invalid
    from dibao.models import Case, Decision, Stage
    from tests.case_helpers import community_review, town_decision, user
    from tests.conftest import csrf_token

    case = _zero_amount_case(session, world)
    staff = user(session, world, "staff_a1")
    # The staff form offers the override field and shows the amount; without a reason "同意" is refused.
    auth.login("staff_a1")
    url = f"/admin/cases/{case.id}/community-review"
    page = client.get(url).get_data(as_text=True)
    assert 'name="override_reason"' in page and "特殊情况说明" in page
    res = client.post(url, data={"csrf_token": csrf_token(client, url), "meeting_id": "0",
                                 "held_on": "2026-03-18", "location": "社区会议室",
                                 "panel": "评一\n评二\n评三", "votes_for": "3", "votes_against": "0",
                                 "votes_abstain": "0", "decision": "approve", "opinion": "同意上报。"})
    assert res.status_code == 400 and "保障金额为 0" in res.get_data(as_text=True)
    session.rollback()
    case = session.get(Case, case.id)
    assert case.stage == Stage.community_review and not case.opinions

    with pytest.raises(Invalid) as refused:
        community_review(session, staff, case, levels=(Level.town,))
    assert refused.value.field == "override_reason"
    session.rollback()
    case = session.get(Case, case.id)
    community_review(session, staff, case, levels=(Level.town,), decision=Decision.reject)  # "不同意" needs none
    assert case.stage == Stage.rejected
    session.rollback()

    # Town: the same rule.
    case = session.get(Case, case.id)
    reason = "户主重病住院，收入来源即将中断，经评议小组一致同意暂予纳入。"
    signed = community_review(session, staff, case, levels=(Level.town,), override_reason=reason)
    assert signed.override_reason == reason
    workflow.record_town_check(session, user(session, world, "town_a"), case, "材料齐全，复查属实。")
    with pytest.raises(Invalid):
        town_decision(session, user(session, world, "town_a"), case, levels=(Level.town,))
    signed = town_decision(session, user(session, world, "town_a"), case, levels=(Level.town,),
                           override_reason=reason)
    assert signed.override_reason == reason and case.stage == Stage.awaiting_town_notice


def test_an_approval_despite_a_zero_amount_shows_its_written_reason_on_the_board(app, client, session, world):
    from dibao import workflow
    from dibao.models import Case
    from tests.case_helpers import community_review, town_decision, user

    case = _zero_amount_case(session, world)
    reason = "户主重病住院，收入来源即将中断，经评议小组一致同意暂予纳入。"
    community_review(session, user(session, world, "staff_a1"), case, levels=(Level.town,), override_reason=reason)
    town = user(session, world, "town_a")
    workflow.record_town_check(session, town, case, "材料齐全，复查属实。")
    town_decision(session, town, case, levels=(Level.town,), override_reason=reason)
    batch = notices.publish(session, town, case_ids=[case.id], title="甲镇低保审核公示")
    kiosk = kiosks.register(session, None, name="活动室公示屏", region=_region(session, world))
    entry = batch.entries[0]
    session.commit()
    assert entry.opinion_override_reason == reason  # the snapshot carries it (and its fingerprint covers it)
    assert batch.fingerprint == notices.fingerprint(batch, batch.entries)
    for url in ("/notices/100001001", f"/notices/e/{entry.public_id}", "/notices/100001001/print",
                f"/kiosk/{kiosk.token}"):
        assert reason in client.get(url).get_data(as_text=True), url
    assert client.get(f"/api/v1/notices/{entry.public_id}").get_json()["opinion_override_reason"] == reason
    session.rollback()
    with pytest.raises(Exception, match="已发布的公示内容不能修改"):
        entry = session.get(type(entry), entry.id)
        entry.opinion_override_reason = "改过的理由"
        session.flush()
    session.rollback()
    assert session.get(Case, case.id).opinions[-1].override_reason == reason
