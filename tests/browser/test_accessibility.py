"""Issue 14, item 6: axe-core finds no serious or critical problem on any public page, the kiosk, the forms and
the main staff pages of the demo county (axe-core from the npm registry, tests/browser/axe.py).

The counts per page are written to test-artifacts/axe-report.json (and a screenshot of each page beside it),
so a run on an older commit gives the "before" figures.
"""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from dibao.demo import DEMO_PASSWORD
from dibao.models import Case, NoticeEntry, Objection, Stage
from dibao.models.kiosk import Kiosk
from tests.browser.axe import SERIOUS, counts, ensure_axe, scan

pytestmark = pytest.mark.browser
WAIT = 20_000


def _optional(session, model_path: str, attr: str):
    """An id from a model that an older commit may not have (for the "before" run)."""
    module, _, name = model_path.rpartition(".")
    try:
        model = getattr(__import__(module, fromlist=[name]), name)
    except (ImportError, AttributeError):
        return None
    row = session.scalar(select(model).order_by(model.id))
    return getattr(row, attr) if row is not None else None


def _pages(session) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """(public, staff as admin, staff as a community's staff) pages: name → path."""
    from dibao import clock, notices

    at = clock.now()
    entry = next(e for e in session.scalars(select(NoticeEntry).order_by(NoticeEntry.id))
                 if notices.entry_status(e, at) == notices.Status.open)
    closed = next((e for e in session.scalars(select(NoticeEntry).order_by(NoticeEntry.id))
                   if notices.entry_status(e, at) == notices.Status.closed), None)
    community = entry.region
    town = community.parent
    objection = session.scalar(select(Objection).order_by(Objection.id))
    kiosk = session.scalar(select(Kiosk).where(Kiosk.region_id == community.id))
    case = session.scalar(select(Case).where(Case.stage == Stage.active).order_by(Case.id))
    batch = entry.batch
    application_code = _optional(session, "dibao.models.application.Application", "tracking_code")
    application_id = _optional(session, "dibao.models.application.Application", "id")
    announcement = _optional(session, "dibao.models.announcement.Announcement", "public_id")
    announcement_id = _optional(session, "dibao.models.announcement.Announcement", "id")
    public = [
        ("home", "/"), ("board-all", "/notices/"), ("board-town", f"/notices/{town.code}"),
        ("board-community", f"/notices/{community.code}"), ("entry", f"/notices/e/{entry.public_id}"),
        ("print-board", f"/notices/{community.code}/print"), ("roster", "/roster/"),
        ("roster-community", f"/roster/{community.code}"), ("policies", "/policies/"),
        ("procedure", "/policies/procedure"), ("objection-choose", "/objections/new"),
        ("objection-community", f"/objections/new?region={community.code}"),
        ("objection-form", f"/objections/new?entry={entry.public_id}"), ("report-form", "/reports/new"),
        ("track", "/track"), ("track-objection", f"/track/{objection.tracking_code}"),
        ("not-found", "/notices/e/nosuchentry"),
        ("apply-form", "/apply"), ("announcements", "/announcements/"), ("documents", "/documents/"),
        ("track-application", f"/track/{application_code}" if application_code else None),
        ("announcement", f"/announcements/{announcement}" if announcement else None),
        ("kiosk", f"/kiosk/{kiosk.token}"), ("kiosk-not-registered", "/kiosk/not-a-token"),
    ]
    if closed is not None:
        public.append(("gone", f"/notices/e/{closed.public_id}"))
    staff = [
        ("staff-login", "/admin/login"), ("staff-dashboard", "/admin/"), ("staff-cases", "/admin/cases/"),
        ("staff-case", f"/admin/cases/{case.id}"), ("staff-notices", "/admin/notices/"),
        ("staff-batch", f"/admin/notices/{batch.public_id}"), ("staff-feedback", "/admin/feedback/"),
        ("staff-objection", f"/admin/feedback/objection/{objection.id}"), ("staff-kiosks", "/admin/kiosks/"),
        ("staff-kiosk", f"/admin/kiosks/{kiosk.id}"), ("staff-applications", "/admin/applications/"),
        ("staff-announcements", "/admin/announcements/"), ("staff-announcement-new", "/admin/announcements/new"),
        ("staff-announcement", f"/admin/announcements/{announcement_id}" if announcement_id else None),
        ("staff-display-proof", f"/admin/notices/{batch.public_id}/display"),
    ]
    community_staff = []
    if application_id:
        community_staff.append(("staff-application", f"/admin/applications/{application_id}"))
    return ([(n, p) for n, p in public if p], [(n, p) for n, p in staff if p], community_staff)


def _staff_login(page, base, username):
    page.goto(base + "/admin/login")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/$"), timeout=WAIT)


def _community_staff(session) -> str | None:
    try:
        from dibao.models.application import Application, ApplicationStatus
    except ImportError:
        return None
    from dibao.models import Role, User

    application = session.scalar(select(Application).where(Application.status == ApplicationStatus.submitted))
    if application is None:
        return None
    user = session.scalar(select(User).where(User.region_id == application.region_id,
                                             User.role == Role.community_staff))
    return user.username if user else None


def test_no_serious_or_critical_findings_anywhere(browser, live_server, live_app, runner, session, screenshot_dir):
    ensure_axe()
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    session.rollback()
    public, staff, community_staff = _pages(session)
    username = _community_staff(session)
    shots = screenshot_dir / "axe"
    shots.mkdir(exist_ok=True)
    report: dict[str, dict] = {}
    # Scripts are injected into the pages as they are served (CSP forbids inline scripts): bypass it for axe.
    context = browser.new_context(bypass_csp=True, locale="zh-CN", timezone_id="Asia/Shanghai",
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()

    def visit(name, path):
        response = page.goto(live_server.url + path)
        status = response.status if response else 0
        if status == 404 and name not in ("not-found", "kiosk-not-registered"):
            report[name] = {"path": path, "status": status}  # not on this commit
            return
        page.wait_for_load_state("networkidle", timeout=WAIT)
        violations = scan(page)
        page.screenshot(path=str(shots / f"{name}.png"), full_page=not name.startswith("kiosk"))
        report[name] = {"path": path, "status": status, **counts(violations),
                        "violations": [v for v in violations if v["impact"] in SERIOUS]}

    for name, path in public:
        visit(name, path)
    visit(*staff[0])
    _staff_login(page, live_server.url, "admin")
    for name, path in staff[1:]:
        visit(name, path)
    if username and community_staff:
        context.clear_cookies()
        _staff_login(page, live_server.url, username)
        for name, path in community_staff:
            visit(name, path)
    context.close()

    (screenshot_dir / "axe-report.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    lines = [f"{name:24} {r.get('critical', '-'):>3} critical {r.get('serious', '-'):>3} serious  {r['path']}"
             for name, r in report.items()]
    print("\n".join(lines))
    bad = {name: [(v["id"], v["impact"], v["nodes"][:3]) for v in r["violations"]]
           for name, r in report.items() if r.get("violations")}
    assert bad == {}
    missing = [name for name, r in report.items() if "violations" not in r]
    assert missing == []
