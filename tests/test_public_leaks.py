"""Issue 4: no public response of the whole suite carries an ID number or phone number of a household.

How it works: the plugin tests/plugins/public_leaks.py (loaded by tests/conftest.py) records the long digit runs
of every public response of the suite. The test here seeds the demo county and crawls
every public page it links to, learning the demo households' ID and phone numbers; once the run is over, the
plugin checks every recorded run (of every xdist worker) against them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

from flask import Flask
from sqlalchemy import select

from dibao import db
from tests.plugins import public_leaks
from tests.plugins.public_leaks import DEMO_SECRETS, RECORDED


def _links(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="([^"]+)"', html)


def test_seed_demo_and_crawl_every_public_page(app, client, runner, clock):
    from dibao.models import Case, Member, Objection, Report

    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        sess = db.session()
        for case in sess.scalars(select(Case)):
            DEMO_SECRETS.update(v for v in (case.head_id_number, case.head_phone) if v)
        DEMO_SECRETS.update(v for v in sess.scalars(select(Member.id_number)) if v)
        for model in (Objection, Report):
            DEMO_SECRETS.update(v for v in sess.scalars(select(model.submitter_phone)) if v)
        from dibao.models.payment import PaymentAccount  # issue 11: account numbers are never public either

        DEMO_SECRETS.update(v for v in sess.scalars(select(PaymentAccount.number)) if v)
    DEMO_SECRETS.update(re.sub(r"\D", "", v) for v in list(DEMO_SECRETS))
    assert len(DEMO_SECRETS) > 50  # the demo has households with ID and phone numbers

    seen: set[str] = set()
    queue = ["/", "/robots.txt", "/notices/", "/roster/", "/policies/", "/api/v1/notices", "/api/v1/roster",
             "/api/v1/openapi.json", "/funds/", "/api/v1/funds", "/api/v1/roster?per_page=3",
             "/api/v1/notices?per_page=3", "/favicon.ico"]
    statuses: dict[int, int] = defaultdict(int)
    while queue and len(seen) < 600:
        url = queue.pop(0)
        parts = urlsplit(url)
        if parts.netloc or not url.startswith("/") or url in seen:
            continue
        if url.startswith(("/admin", "/static", "/lang", "/kiosk")):
            continue
        seen.add(url)
        res = client.get(url)
        statuses[res.status_code] += 1
        assert res.status_code < 500, url
        if res.mimetype == "text/html":
            queue.extend(link.replace("&amp;", "&") for link in _links(res.get_data(as_text=True)))
        elif res.mimetype == "application/json" and url.startswith("/api/v1/notices"):
            queue.extend(urlsplit(u).path for u in re.findall(r'"url": ?"([^"]+)"', res.get_data(as_text=True)))
        if res.mimetype == "application/json" and (res.get_json() or {}).get("next"):  # every page of a listing
            following = urlsplit(res.get_json()["next"])
            queue.append(f"{following.path}?{following.query}")
    assert statuses[200] > 40, dict(statuses)
    assert any(u.startswith("/notices/e/") for u in seen) and any(u.endswith("/print") for u in seen)
    assert any("/api/v1/roster?" in u and "page=2" in u for u in seen)  # the paged API was walked


def test_the_recorder_would_catch_a_leak():
    """The check can fail: a public response carrying a phone number is recorded; an /admin one is not."""
    probe = Flask("probe")
    probe.add_url_rule("/p", "p", lambda: "<p>电话 138 1234 5678 身份证 110101195003071234</p>")
    probe.add_url_rule("/admin/p", "ap", lambda: "<p>13900001111</p>")
    with probe.test_client() as c:
        c.get("/p")
        c.get("/admin/p")
    try:
        assert "/p?" in RECORDED["13812345678"] and "/p?" in RECORDED["110101195003071234"]
        assert "13900001111" not in RECORDED
        assert any("13812345678" in problem and "/p?" in problem for problem in public_leaks.problems())
    finally:
        for run in ("13812345678", "110101195003071234"):
            RECORDED[run].discard("/p?")
            if not RECORDED[run]:
                del RECORDED[run]
