"""Issue 9, item 15: demo accounts (a published password) never reach production or a database with real data."""

from __future__ import annotations

from sqlalchemy import func, select

from dibao import create_app, regions
from dibao.config import DEMO_PASSWORD
from dibao.demo import real_data
from dibao.models import AuditEvent, Region, Role, User
from tests.conftest import app_config
from tests.factories import make_case


def _counts(session):
    session.expire_all()
    return (session.scalar(select(func.count(Region.id))), session.scalar(select(func.count(User.id))))


def test_seed_demo_refuses_a_database_with_real_regions_and_changes_nothing(runner, world, session):
    before = _counts(session)
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "真实数据" in result.output and "行政区划 100" in result.output and "没有改动任何数据" in result.output
    assert _counts(session) == before
    assert session.scalar(select(Region).where(Region.code == "341399")) is None


def test_a_household_the_demo_did_not_make_is_real_data(app, runner, session):
    county = regions.create_region(session, None, code="341399", name="阳光县", parent=None)
    town = regions.create_region(session, None, code="341399001", name="城关镇", parent=county)
    community = regions.create_region(session, None, code="341399001001", name="东关社区", parent=town)
    session.commit()
    assert real_data(session) == []  # the demo county's own regions are not real data
    case = make_case(session, community, id_number="110101195003071234")
    session.commit()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1 and case.number in result.output
    assert session.scalar(select(func.count(User.id))) == 0


def _production_app(monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("DIBAO_ENV", "production")
    return create_app(app_config(database_url, tmp_path))


def test_production_refuses_seed_demo_outright(monkeypatch, database_url, tmp_path, clock, session):
    prod = _production_app(monkeypatch, database_url, tmp_path)
    try:
        result = prod.test_cli_runner().invoke(args=["seed-demo"])
    finally:
        prod.extensions["dibao.engine"].dispose()
    assert result.exit_code == 1 and "DIBAO_ENV=production" in result.output
    assert _counts(session) == (0, 0)


def _user_with_demo_password(app):
    from dibao import accounts, db

    with app.app_context():
        sess = db.session()
        county = regions.create_region(sess, None, code="500", name="某县", parent=None)
        accounts.create_user(sess, None, username="admin", display_name="管理员", password=DEMO_PASSWORD,
                             role=Role.admin, region=county)
        sess.commit()


def test_production_refuses_the_demo_password_at_login(monkeypatch, database_url, tmp_path, clock, session):
    from tests.conftest import Auth

    prod = _production_app(monkeypatch, database_url, tmp_path)
    try:
        _user_with_demo_password(prod)
        client = prod.test_client()
        res = Auth(client).login("admin", DEMO_PASSWORD)
        assert res.status_code == 401 and "用户名或密码不正确" in res.get_data(as_text=True)
        assert client.get("/admin/").status_code == 302  # not signed in
    finally:
        prod.extensions["dibao.engine"].dispose()
    assert session.scalar(select(AuditEvent.id).where(AuditEvent.action == "login_refused_published_password"))


def test_outside_production_the_demo_password_signs_in(app, client, auth, session):
    _user_with_demo_password(app)
    assert auth.login("admin", DEMO_PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200
