"""Issue 9 item 9: limits hold as documented with several workers, and objection flooding cannot freeze cases.

Rate limits are counted in the database (or Redis), so two processes serving one deployment share one count.
One client may hold only a few entries with open objections (past that an objection is received but holds nothing
until staff check it), and staff close duplicate objections together.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dibao import config
from dibao.models import AuditEvent, FeedbackStatus, Level, Objection, Stage
from tests.conftest import csrf_token
from tests.feedback_helpers import objection_data, open_entry

ROOT = Path(__file__).resolve().parent.parent

# One worker of a deployment: the app as dibao.wsgi builds it, from the environment, asking /track (30 per minute).
WORKER = """
import sys
from dibao import create_app
client = create_app().test_client()
print(",".join(str(client.get("/track").status_code) for _ in range(int(sys.argv[1]))))
"""


def _worker(database_url: str, tmp_path: Path, requests: int) -> list[int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIBAO_")}
    env.update(DIBAO_DATABASE_URL=database_url, DIBAO_SECRET_KEY="shared-secret", DIBAO_MEDIA_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", WORKER, str(requests)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120, check=True)
    return [int(code) for code in out.stdout.strip().splitlines()[-1].split(",")]


def test_two_workers_on_one_database_share_one_limit(database_url, tmp_path):
    first = _worker(database_url, tmp_path, 20)
    second = _worker(database_url, tmp_path, 20)
    assert first == [200] * 20
    assert second == [200] * 10 + [429] * 10  # 30 per minute for the deployment, not per worker


def test_limits_are_shared_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("DIBAO_REDIS_URL", raising=False)
    assert config.from_environment(tmp_path)["RATELIMIT_STORAGE_URI"] == "dibao+db://"
    monkeypatch.setenv("DIBAO_REDIS_URL", "redis://127.0.0.1:6379/3")
    assert config.from_environment(tmp_path)["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/3"


def test_two_app_instances_in_one_process_count_together(database_url, tmp_path):
    from dibao import create_app
    from tests.conftest import app_config

    settings = {**app_config(database_url, tmp_path), "RATELIMIT_STORAGE_URI": "dibao+db://"}
    first = create_app(settings)
    codes = [first.test_client().get("/track").status_code for _ in range(25)]
    second = create_app(settings)  # (the memory storage started from zero here)
    codes += [second.test_client().get("/track").status_code for _ in range(4)]
    codes += [first.test_client().get("/track").status_code for _ in range(2)]
    assert codes == [200] * 30 + [429]
    for app in (first, second):
        app.extensions["dibao.engine"].dispose()


# --- one client cannot hold many entries ---------------------------------------------------------------------

def _object(client, entry, address="10.0.0.5", **overrides):
    return client.post(f"/objections/new?entry={entry.public_id}", data=objection_data(client, entry.public_id,
                                                                                        **overrides),
                       environ_base={"REMOTE_ADDR": address})


def _holding(session, entry) -> list[FeedbackStatus]:
    session.rollback()  # a new snapshot (SQLite WAL keeps the old one while a transaction is open)
    return [o.status for o in session.scalars(select(Objection).where(Objection.entry_id == entry.id)
                                              .order_by(Objection.id))]


def test_one_client_holds_at_most_five_entries(app, client, session, world, clock):
    app.config["FEEDBACK_RATE_LIMIT"] = "100 per minute"
    entries = [open_entry(session, world, head_name=f"王{n}明") for n in range(7)]
    for entry in entries[:5]:
        assert _object(client, entry).status_code == 303
    res = _object(client, entries[5], description="第六户：他家开着一辆新车。")
    assert res.status_code == 303  # never refused (a whole network would be): received, but it holds nothing
    assert _holding(session, entries[5]) == [FeedbackStatus.over_cap]
    assert session.scalar(select(func.count()).select_from(Objection)) == 6
    assert _object(client, entries[0]).status_code == 303  # more about an entry it already holds: holds
    assert _holding(session, entries[0]) == [FeedbackStatus.received] * 2
    assert _object(client, entries[5], address="10.0.0.6").status_code == 303  # another client: holds
    assert _holding(session, entries[5]) == [FeedbackStatus.over_cap, FeedbackStatus.received]

    objection = session.scalar(select(Objection).where(Objection.entry_id == entries[1].id))
    objection.status = FeedbackStatus.decided  # one answered: the client holds four entries again
    session.commit()
    assert _object(client, entries[6]).status_code == 303
    assert _holding(session, entries[6]) == [FeedbackStatus.received]
    clock.advance(days=1, seconds=1)
    assert _object(client, entries[5]).status_code == 303  # a day later the earlier ones no longer count
    assert _holding(session, entries[5])[-1] == FeedbackStatus.received
    keys = set(session.scalars(select(Objection.client_key)))
    assert None not in keys and not any("10.0.0" in key for key in keys)  # a keyed hash, never the address


# --- duplicates decided together ------------------------------------------------------------------------------

USERS = ["staff_a1", "staff_a2", "staff_b1", "town_a", "town_b", "county", "admin"]
SEES = {"staff_a1", "town_a", "county", "admin"}
DECIDES = {"town_a", "county", "admin"}  # a town notice: the town (or above) answers its objections


def _duplicates(client, session, world, n=3):
    entry = open_entry(session, world, level=Level.town)
    for i in range(n):
        assert _object(client, entry, address=f"10.0.1.{i}").status_code == 303
    session.rollback()
    return entry, [o.id for o in session.scalars(select(Objection).order_by(Objection.id))]


def _state(session):
    session.rollback()
    return (sorted((o.id, o.status, o.outcome) for o in session.scalars(select(Objection))),
            session.scalar(select(func.count(AuditEvent.id))))


@pytest.mark.parametrize("who", USERS)
def test_decide_together_matrix(client, auth, session, world, clock, who):
    entry, ids = _duplicates(client, session, world)
    clock.advance(days=8)  # the window closed while the objections held the case
    auth.login(who)
    url = f"/admin/feedback/entries/{entry.id}/decide"
    inbox = client.get("/admin/feedback/?kind=objection").get_data(as_text=True)
    assert (url in inbox) == (who in SEES), "the inbox offers the action to those who see the objections"
    page = client.get(url)
    assert page.status_code == (200 if who in SEES else 404)
    before = _state(session)
    res = client.post(url, data={"csrf_token": csrf_token(client, "/admin/"), "objection_ids": ids,
                                 "outcome": "not_upheld", "public_answer": "经核查，该户情况属实，异议不成立。",
                                 "notes": "乡镇干部王五入户核实，走访三户邻居。"})
    after = _state(session)
    if who in DECIDES:
        assert res.status_code == 303
        assert {status for _, status, _ in after[0]} == {FeedbackStatus.decided}
        decided = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "objection_decided")).all()
        assert sorted(decided) == sorted(session.scalars(select(Objection.tracking_code)))  # one event each
        assert session.get(Objection, ids[0]).case.stage == Stage.county_approval  # moved once, at the end
    else:
        assert res.status_code == (404 if who not in SEES else 403)
        assert after == before, "a refused request changes nothing"


def test_decide_together_only_the_ticked_and_only_open_ones(client, auth, session, world):
    entry, ids = _duplicates(client, session, world)
    other_entry, other_ids = _duplicates(client, session, world, n=1)
    auth.login("town_a")
    url = f"/admin/feedback/entries/{entry.id}/decide"
    token = csrf_token(client, url)
    before = _state(session)
    res = client.post(url, data={"csrf_token": token, "objection_ids": [ids[0], other_ids[-1]],
                                 "outcome": "upheld", "public_answer": "经核查，异议成立。"})
    assert res.status_code == 400 and "请勾选这条公示下仍未办结的异议" in res.get_data(as_text=True)
    assert _state(session) == before
    res = client.post(url, data={"csrf_token": token, "objection_ids": ids[:2], "outcome": "upheld",
                                 "public_answer": "经入户核查，该户有经营收入未申报，异议成立。",
                                 "notes": "乡镇干部王五入户核实，查看了营业执照。"})
    assert res.status_code == 303
    session.rollback()
    statuses = [session.get(Objection, i).status for i in ids]
    assert statuses == [FeedbackStatus.decided, FeedbackStatus.decided, FeedbackStatus.received]
    assert session.get(Objection, ids[0]).case.stage == Stage.investigating  # upheld: back once, not twice
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "sent_back_by_objection")) == 1
