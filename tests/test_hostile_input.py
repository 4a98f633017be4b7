"""Issue 9 (item 12): no 500 on bad input, anywhere.

Every route of the app is taken from ``app.url_map`` (a new route joins by itself) and gets a corpus of hostile
values — numbers past 2^63, negative and full-width numbers, 1e308, NaN, CR/LF, ``../``, NUL, very long text,
SQL and HTML payloads — in each of its path parameters, and in every query and form parameter any view or form
of the app reads, as an anonymous visitor and as a signed-in system admin. No answer may be a 5xx.

The whole corpus runs on SQLite. On PostgreSQL every route gets the part of it whose fate depends on the database
engine (``DATABASE_SENSITIVE``): the rest (line breaks, bidi and zero-width characters, HTML, template and path
payloads) takes the same Python path on both engines, and answering each of them again there only cost minutes.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import select

from dibao import cases, feedback, kiosks, notices
from dibao.models import Level, Region, User
from tests.case_helpers import register, standard
from tests.conftest import PASSWORD, app_config
from tests.factories import case_awaiting_notice
from tests.feedback_helpers import jpeg

ROOT = Path(__file__).resolve().parent.parent

HOSTILE = [
    str(2**31),  # past PostgreSQL's INTEGER (SQLite's integers have no such edge)
    str(2**63), str(2**64 + 1), "9" * 40, "-1", "-9223372036854775809", "0", "1_000", "1e308", "NaN", "inf",
    "１２３４５",  # full-width digits, as a Chinese input method types them
    "٣", "　", "张三\u202e😀",
    "³", "3401021960010100³0",  # digits to str.isdigit() that int() refuses: alone, and in an ID number's shape
    # Names padded so that a mask counting characters showed them whole, and control characters (dibao.text).
    "张　三", "王\u200b五", "李\u202e四\u0007", "\u2066阿依古丽・・买买提\u2069\ufeff",
    "/admin/\r\nSet-Cookie: hacked=1", "/\t/evil.example", "//evil.example/%2e%2e",
    "../../../../etc/passwd", "\x00", "x" * 5000, "' OR '1'='1' --", "1; DROP TABLE dibao_case;--",
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "{{7*7}}{% raw %}", "2026-02-30T25:61", "",
]
# What a database engine may take differently: integers past a BIGINT (either side) and past any NUMERIC column,
# 1e308 / NaN / inf (a NUMERIC column's overflow, PostgreSQL's numeric NaN), digits int() reads but SQL would not,
# NUL (PostgreSQL text cannot hold one), text past a VARCHAR's length (PostgreSQL enforces it, SQLite does not),
# an impossible date, the empty string (not a number when cast), quoted SQL. On PostgreSQL only these are sent.
DATABASE_SENSITIVE = [
    str(2**31), str(2**63), "9" * 40, "-9223372036854775809", "1e308", "NaN", "inf", "１２３４５", "\x00", "x" * 5000,
    "2026-02-30T25:61", "", "' OR '1'='1' --",
]
assert set(DATABASE_SENSITIVE) <= set(HOSTILE)

PARAM_RE = re.compile(r"request\.(?:args|form|values)\.get(?:list)?\(\s*[\"'](\w+)[\"']|int_arg\(\s*[\"'](\w+)[\"']")
FILE_FIELDS = {"photo", "photos", "file"}


@pytest.fixture
def hostile_app(database_url, tmp_path, clock):
    """The app with CSRF, rate limits and login throttling off, so hostile values reach the views and the domain
    behind them (and the anonymous sweep's login attempts do not throttle the admin's sign-in after it)."""
    from dibao import create_app
    from dibao.extensions import limiter

    enabled = limiter.enabled  # one limiter object serves every app of the process: give it back as it was
    # 5xx answers (not exceptions) so that the sweep counts them all; got_request_exception says where.
    config = {**app_config(database_url, tmp_path), "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
              "PROPAGATE_EXCEPTIONS": False, "LOGIN_FREE_FAILURES": 10**6, "LOGIN_FREE_FAILURES_PER_CLIENT": 10**6}
    application = create_app(config)
    yield application
    application.extensions["dibao.engine"].dispose()
    limiter.enabled = enabled


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def parameter_names(app) -> list[str]:
    """Every query or form parameter some view reads (found in the source) or some form declares."""
    names: set[str] = set()
    for folder in ("portal", "admin", "kiosk", "dibao"):
        for path in (ROOT / folder).rglob("*.py"):
            for match in PARAM_RE.finditer(path.read_text()):
                names.add(match.group(1) or match.group(2))
    with app.test_request_context():
        for form_class in set(_all_subclasses(FlaskForm)):
            if not form_class.__module__.startswith(("admin", "portal", "kiosk", "dibao")):
                continue
            try:
                form = form_class(meta={"csrf": False})
            except TypeError:
                continue
            stack = list(form)
            while stack:
                f = stack.pop()
                sub = list(f) if f.type in ("FieldList", "FormField") else []
                stack.extend(sub)
                if not sub:
                    names.add(f.name)
    return sorted(names)


@dataclass
class World:
    values: dict[str, str]  # path parameter → a valid value
    by_endpoint: dict[tuple[str, str], str]  # (endpoint, parameter) → a valid value where the name is ambiguous
    params: list[str] = field(default_factory=list)


def arrange(app, session, world) -> World:
    from dibao.models.feedback import Evidence

    staff = session.get(User, world.users["staff_a1"])
    comm = session.get(Region, world.regions["comm_a1"])
    standard(session, world)
    case = register(session, staff)
    attachment = cases.add_attachment(session, staff, case, title="低保申请书", data=jpeg(), filename="申请书.jpg",
                                  media_dir=app.config["MEDIA_DIR"])
    noticed = case_awaiting_notice(session, session.get(Region, world.regions["comm_a2"]), Level.town)
    batch = notices.publish_batch(session, None, level=Level.town, region=comm.parent, cases=[noticed],
                                  title="甲镇低保审核公示")
    entry = batch.entries[0]
    kiosk = kiosks.register(session, None, name="活动室公示屏", region=noticed.region)
    objection = feedback.submit_objection(session, entry.public_id, feedback.Submission(
        category="income_hidden", description="他家开了饭店，收入不低。", photos=[jpeg()]),
        media_dir=app.config["MEDIA_DIR"]).item
    report = feedback.submit_report(session, feedback.Submission(category="other", description="办事态度很差。"),
                                    subject="staff", region_code=comm.code, about="某工作人员",
                                    media_dir=app.config["MEDIA_DIR"]).item
    session.commit()
    from dibao.models.records import Standard

    return World(
        values={
            "case_id": str(case.id), "member_id": str(case.members[0].id),
            "income_id": str(case.members[0].incomes[0].id), "attachment_id": str(attachment.id),
            "rendition": "thumb", "kind": "objection", "item_id": str(objection.id),
            "evidence_id": str(session.scalar(select(Evidence.id))), "kiosk_id": str(kiosk.id),
            "region_id": str(comm.id), "standard_id": str(session.scalar(select(Standard.id))),
            "user_id": str(world.users["staff_a1"]), "public_id": entry.public_id,
            "entry_public_id": entry.public_id, "entry_id": entry.public_id, "slug": "policy",
            "token": kiosk.token, "index": "0", "filename": "css/base.css", "code": comm.code,
        },
        by_endpoint={
            ("admin.notice_detail", "public_id"): batch.public_id,
            ("admin.notice_withdraw", "public_id"): batch.public_id,
            ("admin.notice_entry_withdraw", "public_id"): batch.public_id,
            ("portal.track_code", "code"): report.tracking_code,
            ("portal.short_link", "code"): f"E{entry.public_id}",
            ("portal.short_link_upper", "code"): f"E{entry.public_id.upper()}",
            ("portal.set_language", "code"): "en",
        },
    )


def build(rule, w: World, hostile: tuple[str, str] | None = None) -> str:
    """The rule's path with valid values, or with ``hostile = (parameter, value)`` in one place."""

    def value(match):
        name = match.group(2)
        if hostile and hostile[0] == name:
            return quote(hostile[1], safe="")
        return quote(w.by_endpoint.get((rule.endpoint, name)) or w.values.get(name, "1"), safe="")

    return re.sub(r"<(?:([a-z]+)(?:\([^)]*\))?:)?(\w+)>", value, rule.rule)


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    exceptions: Counter = field(default_factory=Counter)
    unrouted: int = 0  # hostile path values the router itself refuses (404 before any view): not sent
    swept: set[tuple[str, str]] = field(default_factory=set)  # (method, rule) that got hostile parameters

    def check(self, method: str, url: str, res, what: str) -> None:
        self.requests += 1
        self.statuses[res.status_code] += 1
        if res.status_code >= 500:
            self.errors.append(f"{res.status_code} {method} {url} [{what}]")


def routed(app, url: str, method: str) -> bool:
    """Whether the URL reaches a view at all (a value a converter refuses is a plain 404 of the router)."""
    from werkzeug.exceptions import HTTPException
    from werkzeug.routing import RequestRedirect

    try:
        app.url_map.bind("dibao.test").match(url.split("?")[0], method)
    except RequestRedirect:
        return True
    except HTTPException:
        return False
    return True


def sweep(client, app, w: World, tally: Tally, corpus: list[str], *, relogin=None) -> None:
    rules = sorted(app.url_map.iter_rules(), key=lambda r: (r.rule.endswith("/logout"), r.rule))
    login_walls: set[tuple[str, str]] = set()  # (method, rule) that send an anonymous visitor to log in
    for rule in rules:
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        logged_out = False
        for index, value in enumerate(corpus):
            for method in methods:
                if (method, rule.rule) in login_walls:
                    continue  # sent to the login page before its view reads anything: one value showed it
                # Every query / form parameter at once, path parameters valid.
                url = build(rule, w)
                data = {name: value for name in w.params}
                headers = {"HX-Request": "true"} if index % 2 else {}
                if method == "GET":
                    res = client.get(url, query_string=data, headers=headers)
                else:
                    for name in FILE_FIELDS:
                        data[name] = (io.BytesIO(b"\x00\xff" + value.encode()), f"{value}.jpg")
                    res = client.open(url, method=method, data=data, headers=headers,
                                      content_type="multipart/form-data")
                tally.check(method, url, res, f"params={value[:30]!r}")
                tally.swept.add((method, rule.rule))
                if res.headers.get("Location", "").startswith("/admin/login") and not url.startswith("/admin/login"):
                    logged_out = True
                    if relogin is None:  # anonymous: every value meets the same login wall
                        login_walls.add((method, rule.rule))
                # One path parameter at a time.
                for name in rule.arguments:
                    url = build(rule, w, (name, value))
                    if not routed(app, url, method):
                        tally.unrouted += 1
                        continue
                    res = client.open(url, method=method)
                    tally.check(method, url, res, f"{name}={value[:30]!r}")
        if relogin is not None and logged_out:
            relogin()


def test_no_route_answers_5xx_to_hostile_input(hostile_app, database_url, world, clock):
    import traceback

    from flask import got_request_exception
    from sqlalchemy.orm import Session

    app = hostile_app
    corpus = DATABASE_SENSITIVE if database_url.startswith("postgresql") else HOSTILE
    with Session(app.extensions["dibao.engine"], expire_on_commit=False) as sess:
        w = arrange(app, sess, world)
    w.params = parameter_names(app)
    assert {"entry", "region", "code", "next", "amount", "title", "public_answer", "page", "per_page"} <= set(w.params)
    tally = Tally()

    def note(sender, exception, **extra):  # where a 5xx came from, for the failure message
        ours = [f for f in traceback.extract_tb(exception.__traceback__) if "/site-packages/" not in f.filename]
        tally.exceptions[f"{type(exception).__name__}: {str(exception)[:80]} at {ours[-1:]}"] += 1

    got_request_exception.connect(note, app)
    sweep(app.test_client(), app, w, tally, corpus)
    admin = app.test_client()

    def login():
        res = admin.post("/admin/login", data={"username": "admin", "password": PASSWORD})
        assert res.status_code == 302, res.get_data(as_text=True)[:500]

    login()
    sweep(admin, app, w, tally, corpus, relogin=login)

    routes = len(list(app.url_map.iter_rules()))
    print(f"\nhostile input: {len(corpus)} values × {routes} routes ({len(w.params)} query/form parameters), "
          f"{tally.requests} requests as anonymous and admin ({tally.unrouted} more refused by the router), "
          f"statuses {dict(sorted(tally.statuses.items()))}, 5xx found: {len(tally.errors)}")
    assert (tally.errors, tally.exceptions) == ([], Counter())
    # Every route and method answered hostile values (on PostgreSQL too, where the corpus is the smaller one).
    assert tally.swept == {(m, r.rule) for r in app.url_map.iter_rules() for m in r.methods - {"HEAD", "OPTIONS"}}
    # What the sweep got stored (failed sign-ins, renamed regions …) lost its control and formatting characters.
    assert stored_control_characters(app.extensions["dibao.engine"]) == {}


def stored_control_characters(engine) -> dict[str, list[str]]:
    """Every text column's values holding a control or formatting character (Unicode Cc, Cf) other than a line
    break or tab: what dibao.text removes from everything typed."""
    import unicodedata

    from sqlalchemy import String, Text
    from sqlalchemy.orm import Session

    from dibao.db import Base

    found: dict[str, list[str]] = {}
    with Session(engine) as sess:
        for table in Base.metadata.sorted_tables:
            for column in (c for c in table.columns if isinstance(c.type, String | Text)):
                for value in sess.execute(select(column)).scalars():
                    if isinstance(value, str) and any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t"
                                                      for ch in value):
                        found.setdefault(f"{table.name}.{column.name}", []).append(value[:60])
    return found


# --- the cases the sweep above found, one by one ------------------------------------------------------


def test_numbers_no_database_holds_name_nothing(client, auth, session, world):
    from dibao.models import Objection
    from tests.conftest import csrf_token

    auth.login("town_a")
    for url in (f"/admin/cases/{2**63}", f"/admin/cases/{2**64}/members/1", f"/admin/users/{2**63}",
                f"/admin/feedback/objection/{10**30}", f"/admin/cases/?page={2**64}"):
        res = client.get(url)
        assert res.status_code in (200, 404) and "系统出错" not in res.get_data(as_text=True), url
    comm = session.get(Region, world.regions["comm_a1"])
    entry = notices.publish_batch(session, None, level=Level.town, region=comm.parent, title="公示",
                                  cases=[case_awaiting_notice(session, comm, Level.town)]).entries[0]
    feedback.submit_objection(session, entry.public_id, feedback.Submission(
        category="other", description="情况与公示不符。"), media_dir="/nonexistent")
    session.commit()
    url = f"/admin/feedback/objection/{session.scalar(select(Objection.id))}"
    res = client.post(url + "/decide", data={"csrf_token": csrf_token(client, url), "outcome": "check",
                                             "assignee": str(2**63)})
    assert res.status_code == 400 and "请选择能够办理这件的工作人员" in res.get_data(as_text=True)


def test_money_like_1e308_or_nan_is_refused_with_a_message(client, auth, session, world):
    from dibao import entitlement
    from dibao.errors import Invalid
    from dibao.models import Stage
    from tests.conftest import csrf_token
    from tests.factories import make_case

    for text, message in (("1e308", "金额过大"), ("NaN", "金额格式不对"), ("-Infinity", "金额格式不对"),
                          ("1E+400", "金额过大"), ("-5", "不能为负数"), ("1.005", "两位小数")):
        with pytest.raises(Invalid, match=message):
            entitlement.parse_money(text, field_name="amount")
    case = make_case(session, session.get(Region, world.regions["comm_a1"]), stage=Stage.active)
    session.commit()
    auth.login("county")
    url = f"/admin/cases/{case.id}/adjust"
    for amount in ("1e308", "NaN"):
        res = client.post(url, data={"csrf_token": csrf_token(client, url), "amount": amount,
                                     "reason": "收入变化，重新核定金额"})
        assert res.status_code == 400 and "金额" in res.get_data(as_text=True), amount


def test_redirect_targets_with_line_breaks_or_tabs_are_refused(client, world):
    for target in ("/\r\nSet-Cookie: hacked=1", "/notices/\nX-Evil: 1", "/\t/evil.example"):
        res = client.get("/lang/en", query_string={"next": target})
        assert res.status_code == 400 and "跳转地址含有无效字符" in res.get_data(as_text=True), target
        assert "hacked" not in res.headers.get("Set-Cookie", "") and "Location" not in res.headers
    assert client.get("/lang/en", query_string={"next": "/notices/"}).headers["Location"] == "/notices/"
    assert client.get("/lang/en", query_string={"next": "//evil.example"}).headers["Location"] == "/"
    res = client.post("/admin/login?next=/admin/%0d%0aSet-Cookie:%20hacked=1",
                      data={"username": "admin", "password": PASSWORD})
    assert res.status_code == 400 and "hacked" not in res.headers.get("Set-Cookie", "")


def test_an_attachment_titled_with_a_line_break_can_be_downloaded(app, client, auth, session, world):
    from dibao.models.records import Attachment

    staff = session.get(User, world.users["staff_a1"])
    case = register(session, staff)
    typed = cases.add_attachment(session, staff, case, title="低保申请书\r\n第二页", data=jpeg(),
                               filename="scan.jpg", media_dir=app.config["MEDIA_DIR"])
    assert typed.title == "低保申请书 第二页"  # one line from now on
    old = Attachment(case_id=case.id, title="病历\n复印件", media_key=typed.media_key, content_type="image/jpeg",
                   size_bytes=typed.size_bytes, uploaded_by_name="甲一专干", created_at=typed.created_at)
    session.add(old)  # an older row, stored before titles were kept on one line
    session.commit()
    auth.login("staff_a1")
    for attachment in (typed, old):
        res = client.get(f"/admin/cases/attachments/{attachment.id}")
        disposition = res.headers["Content-Disposition"]
        assert res.status_code == 200 and "\n" not in disposition and "\r" not in disposition
        assert "attachment" in disposition or "inline" in disposition


def test_a_nul_character_is_refused_before_any_view(client, world):
    for url in ("/notices/e/%00", "/track?code=%00", "/reports/new?region=a%00b"):
        res = client.get(url)
        assert res.status_code == 400 and "无效字符" in res.get_data(as_text=True), url
    res = client.get("/api/v1/notices?region=a%00b")
    assert res.status_code == 400 and res.get_json()["error"] == "invalid" and "无效字符" in res.get_json()["message"]


def test_full_width_tracking_codes_are_recognised(client, session, world):
    report = feedback.submit_report(session, feedback.Submission(category="other", description="办事态度很差。"),
                                    subject="staff", region_code="100001001", about="某工作人员",
                                    media_dir="/nonexistent").item
    session.commit()
    code = report.tracking_code
    typed = "".join(chr(ord(ch) + 0xFEE0) for ch in f"{code[:5].lower()}-{code[5:]}")  # ＡＢＣＤＥ－ＦＧＨＪＫ
    res = client.get("/track", query_string={"code": typed})
    assert res.status_code == 302 and res.headers["Location"] == f"/track/{code}"
    assert client.get(f"/track/{quote(typed)}").status_code == 200


def test_a_page_and_its_htmx_fragment_never_share_an_etag(client, session, world):
    comm = session.get(Region, world.regions["comm_a1"])
    case = case_awaiting_notice(session, comm, Level.town)
    notices.publish_batch(session, None, level=Level.town, region=comm.parent, cases=[case], title="公示")
    session.commit()
    page = client.get("/notices/100001001")
    fragment = client.get("/notices/100001001", headers={"HX-Request": "true"})
    assert "<html" in page.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert page.headers["ETag"] != fragment.headers["ETag"]
    # The page's tag does not make the fragment request a 304 (htmx would swap a whole page in), nor back.
    assert client.get("/notices/100001001", headers={"HX-Request": "true", "If-None-Match": page.headers["ETag"]}
                      ).status_code == 200
    assert client.get("/notices/100001001", headers={"If-None-Match": fragment.headers["ETag"]}).status_code == 200
    assert "HX-Request" in client.get("/notices/100001001", headers={"If-None-Match": page.headers["ETag"]}
                                      ).headers["Vary"]


def test_api_errors_are_json_and_a_405_names_the_allowed_methods(client, world):
    res = client.get("/api/v1/nothing-here")
    assert res.status_code == 404 and res.get_json()["error"] == "not_found" and "不存在" in res.get_json()["message"]
    res = client.post("/api/v1/notices")
    assert res.status_code == 405 and res.get_json()["error"] == "method_not_allowed"
    assert set(res.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    res = client.delete("/notices/")
    assert res.status_code == 405 and "GET" in res.headers["Allow"] and "不支持" in res.get_data(as_text=True)
