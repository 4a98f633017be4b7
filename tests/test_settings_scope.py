"""Issue 9 item 6: settings are scoped like everything else.

The disclosure policy and the 四公开 content pages belong to a county: its admin changes them, everyone in the
county reads them, another county's do not exist for you. Each county's boards, entries and kiosks use their own
county's policy; a page spanning several counties shows the strictest.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from dibao import content, db, disclosure, migrate, notices
from dibao.disclosure import Channel, Field
from dibao.errors import Forbidden, NotFound
from dibao.models import AuditEvent, Level, Region, Role, User
from dibao.models.disclosure import ContentPage, DisclosureRule
from tests.conftest import csrf_token
from tests.factories import case_awaiting_notice


@pytest.fixture
def counties(world, session, make_region, make_user):
    """A second county with its own admin, and admins whose scope is one town or one community."""
    county_b = make_region("200", "邻县")
    make_region("200001", "丙镇", parent="200")
    make_region("200001001", "丙一社区", parent="200001")
    make_user("admin_b", Role.admin, county_b, display_name="邻县管理员")
    make_user("admin_town", Role.admin, session.get(Region, world.regions["town_a"]), display_name="甲镇管理员")
    make_user("admin_comm", Role.admin, session.get(Region, world.regions["comm_a1"]), display_name="甲一管理员")
    return world


USERS = ["admin", "admin_b", "admin_town", "admin_comm", "county", "town_a", "staff_a1"]
OWN_COUNTY = {"admin_b": "200"}  # everyone else lies in county 100
OWNERS = {"admin", "admin_b"}  # an admin whose scope is the whole county


def _grid_form(token, **changes):
    form = {"csrf_token": token}
    for ch in Channel:
        for f in Field:
            form[f"{ch.value}-{f.value}"] = disclosure.DEFAULT.mode(ch, f)
    form.update({k.replace("__", "-"): v for k, v in changes.items()})
    return form


def _state(session):
    session.rollback()
    rules = session.execute(select(DisclosureRule.region_id, DisclosureRule.channel, DisclosureRule.field,
                                   DisclosureRule.mode).order_by(DisclosureRule.id)).all()
    pages = session.execute(select(ContentPage.region_id, ContentPage.slug, ContentPage.title)).all()
    return rules, pages, session.scalar(select(func.count(AuditEvent.id)))


def _county_id(session, code):
    return session.scalar(select(Region.id).where(Region.code == code))


@pytest.mark.parametrize("who", USERS)
def test_disclosure_policy_matrix(client, auth, session, counties, who):
    auth.login(who)
    page = client.get("/admin/disclosure")
    assert page.status_code == 200  # everyone reads their own county's policy
    html = page.get_data(as_text=True)
    assert ("邻县" if who == "admin_b" else "测试县") in html
    assert ('<select id="web-name"' in html) == (who in OWNERS), "the form is offered only to the owner"
    before = _state(session)
    res = client.post("/admin/disclosure", data=_grid_form(csrf_token(client, "/admin/disclosure"), web__name="full"))
    after = _state(session)
    own = _county_id(session, OWN_COUNTY.get(who, "100"))
    if who in OWNERS:
        assert res.status_code == 302
        assert disclosure.load_policy(session, session.get(Region, own)).mode(Channel.web, Field.name) == "full"
        other = _county_id(session, "100" if who == "admin_b" else "200")
        assert disclosure.load_policy(session, session.get(Region, other)).mode(Channel.web, Field.name) == "masked"
        assert {row.region_id for row in after[0]} == {own}
    else:
        assert res.status_code == 403
        assert after == before, "a refused request changes nothing"


@pytest.mark.parametrize("who", USERS)
def test_content_page_matrix(client, auth, session, counties, who):
    auth.login(who)
    page = client.get("/admin/content/policy")
    assert page.status_code == 200
    assert ('name="body"' in page.get_data(as_text=True)) == (who in OWNERS)
    before = _state(session)
    res = client.post("/admin/content/policy", data={"csrf_token": csrf_token(client, "/admin/content/policy"),
                                                     "title": f"{who}的政策", "body": "本县的低保政策。"})
    after = _state(session)
    if who in OWNERS:
        assert res.status_code == 302
        own = session.get(Region, _county_id(session, OWN_COUNTY.get(who, "100")))
        assert content.get_page(session, "policy", own).title == f"{who}的政策"
        other = session.get(Region, _county_id(session, "100" if who == "admin_b" else "200"))
        assert content.get_page(session, "policy", other).title == "低保政策"  # the built-in text
    else:
        assert res.status_code == 403
        assert after == before


def test_out_of_region_is_not_found_and_changes_nothing(app, session, counties):
    admin_b = session.scalar(select(User).where(User.username == "admin_b"))
    admin_town = session.scalar(select(User).where(User.username == "admin_town"))
    county_a = session.get(Region, counties.regions["county"])
    grid = {ch: {f: "full" if f == Field.name else disclosure.DEFAULT.mode(ch, f) for f in Field} for ch in Channel}
    before = _state(session)
    with app.test_request_context():
        with pytest.raises(NotFound):
            disclosure.save_policy(session, admin_b, county_a, grid)
        with pytest.raises(NotFound):
            content.save_page(session, admin_b, county_a, "policy", "别县改的", "别县改的内容。")
        with pytest.raises(Forbidden):
            disclosure.save_policy(session, admin_town, county_a, grid)
        with pytest.raises(Forbidden):
            content.save_page(session, admin_town, county_a, "policy", "镇里改的", "镇里改的内容。")
        with pytest.raises(Forbidden):
            disclosure.save_policy(session, None, county_a, grid)
    assert _state(session) == before


def test_a_town_admin_cannot_publish_another_towns_full_names(client, auth, session, counties):
    """The incident of the issue: a town admin set the web to full names, and another town's names showed."""
    region = session.get(Region, counties.regions["comm_b1"])
    case = case_awaiting_notice(session, region, Level.community, head_name="乙户主")
    notices.publish_batch(session, None, level=Level.community, region=region, cases=[case], title="乙一公示")
    session.commit()
    auth.login("admin_town")
    res = client.post("/admin/disclosure", data=_grid_form(csrf_token(client, "/admin/disclosure"), web__name="full"))
    assert res.status_code == 403
    board = client.get("/notices/100002001").get_data(as_text=True)
    assert "乙*主" in board and "乙户主" not in board


def test_each_county_shows_its_own_policy_and_a_shared_page_the_strictest(client, session, counties):
    admin_b = session.scalar(select(User).where(User.username == "admin_b"))
    county_b = admin_b.region
    grid = {ch: {f: disclosure.DEFAULT.mode(ch, f) for f in Field} for ch in Channel}
    grid[Channel.web][Field.name] = grid[Channel.api][Field.name] = "full"
    disclosure.save_policy(session, admin_b, county_b, grid)
    for code, name in [("100001001", "甲户主"), ("200001001", "丙户主")]:
        region = session.scalar(select(Region).where(Region.code == code))
        case = case_awaiting_notice(session, region, Level.community, head_name=name)
        notices.publish_batch(session, None, level=Level.community, region=region, cases=[case], title="公示")
    session.commit()
    assert "丙户主" in client.get("/notices/200001001").get_data(as_text=True)  # county B shows full names
    own = client.get("/notices/100001001").get_data(as_text=True)
    assert "甲*主" in own and "甲户主" not in own  # county A keeps masking
    everything = client.get("/notices/").get_data(as_text=True)
    assert "丙*主" in everything and "丙户主" not in everything  # spanning both: the strictest
    api = client.get("/api/v1/notices?region=200001001").get_json()
    assert api["batches"][0]["entries"][0]["name"] == "丙户主"


def test_the_kiosk_shows_its_own_countys_content(session, counties):
    admin_b = session.scalar(select(User).where(User.username == "admin_b"))
    content.save_page(session, admin_b, admin_b.region, "policy", "邻县低保政策", "邻县自己的政策说明。")
    session.commit()
    community_b = session.scalar(select(Region).where(Region.code == "200001001"))
    community_a = session.get(Region, counties.regions["comm_a1"])
    from dibao import clock, kiosks

    assert kiosks.info_slides(session, community_b, clock.now())[0][1]["title"] == "邻县低保政策"
    assert kiosks.info_slides(session, community_a, clock.now())[0][1]["title"] == "低保政策"


def test_existing_settings_move_to_every_county(database_url):
    """The migration: the one deployment-wide row becomes each county's row, so nothing shown changes."""
    engine = db.make_engine(database_url)
    migrate.downgrade(engine, "0200_staff_sessions")
    with engine.begin() as conn:
        for code in ("100", "200"):
            conn.execute(text("INSERT INTO region (code, name, level, path) VALUES (:c, :c, 'county', :p)"),
                         {"c": code, "p": f"/{code}/"})
        conn.execute(text("INSERT INTO disclosure_rule (channel, field, mode, updated_at) "
                          "VALUES ('web', 'name', 'hidden', '2026-03-01 00:00:00')"))
        conn.execute(text("INSERT INTO content_page (slug, title, body, position, updated_at) "
                          "VALUES ('policy', '本地政策', '正文', 0, '2026-03-01 00:00:00')"))
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rules = conn.execute(text("SELECT r.code, d.mode FROM disclosure_rule d JOIN region r ON r.id = d.region_id "
                                  "ORDER BY r.code")).all()
        pages = conn.execute(text("SELECT r.code, c.title FROM content_page c JOIN region r ON r.id = c.region_id "
                                  "ORDER BY r.code")).all()
    engine.dispose()
    assert [tuple(r) for r in rules] == [("100", "hidden"), ("200", "hidden")]
    assert [tuple(p) for p in pages] == [("100", "本地政策"), ("200", "本地政策")]

