"""The payment screens (issue 11): generate → check → approve over HTTP, role × region, supervision."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from dibao import accounts
from dibao.models import Region, Role, Stage
from dibao.models.payment import FundsQuestion, PaymentRun, PaymentTownCheck, RunStatus
from tests.case_helpers import register, standard, to_stage, user
from tests.conftest import csrf_token
from tests.review_helpers import active


@pytest.fixture
def household(session, world, clock):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, case, Stage.active, levels=())
    for name, region in (("sup_a1", "comm_a1"), ("sup_b1", "comm_b1")):
        accounts.create_user(session, None, username=name, display_name=name, password=world.password,
                             role=Role.supervisor, region=session.get(Region, world.regions[region]))
    session.commit()
    clock.set(datetime(2026, 4, 5, 2, 0, tzinfo=UTC))
    return case


def _post(client, url, data=None):
    token = csrf_token(client, "/admin/payments/")
    return client.post(url, data={"csrf_token": token, **(data or {})})


def test_the_county_generates_the_town_checks_the_county_approves(app, client, auth, session, world, household):
    auth.login("county")
    page = client.get("/admin/payments/").get_data(as_text=True)
    assert "生成发放名册" in page and "2026-04" in page
    res = _post(client, "/admin/payments/generate", {"month": "2026-04"})
    # a background job: its page first, the run once the worker has done it
    assert res.status_code == 302 and "/admin/jobs/" in res.headers["Location"]
    job_page = res.headers["Location"]
    assert session.scalar(select(func.count(PaymentRun.id))) == 0
    page = client.get(job_page).get_data(as_text=True)
    assert "等待后台任务进程开始" in page and 'hx-trigger="every 1s"' in page
    assert _post(client, "/admin/payments/generate", {"month": "2026-04"}).status_code == 409  # not twice
    assert app.extensions["dibao.jobs"].drain() == 1
    session.rollback()
    run = session.scalar(select(PaymentRun))
    page = client.get(job_page).get_data(as_text=True)
    assert "已完成" in page and f"/admin/payments/{run.id}" in page and "960.00" in page
    assert 'hx-trigger="every 1s"' not in page
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert household.number in page and "960.00" in page and "待核对" in page and "对账一致" in page
    assert household.head_id_number not in page
    assert _post(client, f"/admin/payments/{run.id}/approve").status_code == 409  # not yet checked
    auth.logout()
    auth.login("town_a")
    assert _post(client, f"/admin/payments/{run.id}/check", {"note": "核对无误"}).status_code == 302
    auth.logout()
    auth.login("county")
    assert "本月资金发放" in client.get("/admin/").get_data(as_text=True)
    assert _post(client, f"/admin/payments/{run.id}/approve").status_code == 302
    session.rollback()
    assert session.get(PaymentRun, run.id).status == RunStatus.approved
    assert _post(client, "/admin/payments/generate", {"month": "2026-04"}).status_code == 409
    assert "已审批锁定" in client.get(f"/admin/payments/{run.id}").get_data(as_text=True)


@pytest.mark.parametrize("who, expected", [
    ("admin", 302), ("county", 302), ("town_a", 403), ("staff_a1", 403), ("sup_a1", 403),
])
def test_generate_over_http(app, client, auth, session, world, household, who, expected):
    auth.login(who)
    assert _post(client, "/admin/payments/generate", {"month": "2026-04"}).status_code == expected
    assert app.extensions["dibao.jobs"].drain() == (1 if expected == 302 else 0)
    session.rollback()
    assert session.scalar(select(func.count(PaymentRun.id))) == (1 if expected == 302 else 0)


@pytest.mark.parametrize("who, expected", [
    ("county", 403), ("town_a", 302), ("town_b", 409), ("staff_a1", 403), ("sup_a1", 403),
])
def test_check_over_http(client, auth, session, world, household, who, expected):
    from dibao import payments
    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    session.commit()
    auth.login(who)
    assert _post(client, f"/admin/payments/{run.id}/check").status_code == expected
    session.rollback()
    checked = session.scalar(select(func.count(PaymentTownCheck.id)).where(PaymentTownCheck.checked_at.is_not(None)))
    assert checked == (1 if expected == 302 else 0)


def test_another_countys_run_does_not_exist(client, auth, session, world, household):
    from dibao import payments, regions
    other = regions.create_region(session, None, code="200", name="外县", parent=None)
    accounts.create_user(session, None, username="outsider", display_name="外县审批", password=world.password,
                         role=Role.county_approver, region=other)
    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    session.commit()
    auth.login("outsider")
    assert client.get(f"/admin/payments/{run.id}").status_code == 404
    assert _post(client, f"/admin/payments/{run.id}/approve").status_code == 404


def test_the_supervision_group_sees_its_community_and_asks(client, auth, session, world, household):
    from dibao import payments
    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    session.commit()
    auth.login("sup_b1")
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert household.number not in page  # another community's household
    _post(client, "/admin/logout")
    auth.login("sup_a1")
    assert client.get("/admin/").status_code == 302  # the supervision group's home is the payments
    assert client.get("/admin/cases/").status_code == 403  # and nothing else of the backend
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert household.number in page and "**** ****" not in page and '<th scope="col">账号</th>' not in page
    assert "/admin/cases/" not in page and "/admin/payments/" in page  # the navigation offers only the payments
    assert _post(client, f"/admin/payments/{run.id}/questions", {"text": "这户人数是否有变化？"}).status_code == 302
    question = session.scalar(select(FundsQuestion))
    assert question.region_id == world.regions["comm_a1"]
    _post(client, "/admin/logout")
    auth.login("staff_a2")
    assert _post(client, f"/admin/payments/questions/{question.id}/answer", {"text": "没有变化。"}).status_code == 404
    auth.logout()
    auth.login("staff_a1")
    assert "这户人数是否有变化" in client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert _post(client, f"/admin/payments/questions/{question.id}/answer",
                 {"text": "户籍人数没有变化。"}).status_code == 302
    session.rollback()
    assert session.get(FundsQuestion, question.id).answer == "户籍人数没有变化。"
    assert Decimal(run.total) == Decimal("960.00")


def test_below_the_county_each_user_sees_their_own_part_beside_the_countys(client, auth, session, world, clock,
                                                                          household):
    """A town's reviewer checks their town's part and a community clerk reads their community's: the list, the
    run's page and the dashboard say the user's own households and money beside the county's whole, never the
    county's figures alone as if they were theirs."""
    from dibao import payments
    clock.set(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))  # approved in March: paid from April, as ``household``
    other = active(session, world, staff="staff_b1", head_name="乙户主", income="0.00", members=1)
    session.commit()
    clock.set(datetime(2026, 4, 5, 2, 0, tzinfo=UTC))
    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    session.commit()
    ours, theirs = household.monthly_amount, other.monthly_amount
    assert ours != theirs and run.households == 2 and run.total == ours + theirs
    views = {"town_a": ("甲镇", 1, 2, ours), "staff_a1": ("甲一社区", 1, 2, ours), "town_b": ("乙街道", 1, 1, theirs),
             "staff_a2": ("甲二社区", 0, 0, Decimal("0.00"))}
    for who, (region, households, persons, total) in views.items():
        auth.login(who)
        part = f"{households} 户，{persons} 人，{total} 元"
        listing = client.get("/admin/payments/").get_data(as_text=True)
        assert f"其中{region}" in listing and part in listing, who
        page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
        assert f"全县2 户，3 人，合计 {run.total} 元" in page, who
        assert f"其中{region}：{households} 户，{persons} 人，合计 {total} 元" in page, who
        assert f"已发放 0，失败 0，待发放 {households}。" in page, who
        dashboard = client.get("/admin/").get_data(as_text=True)
        assert f"{region} {households} 户，{total} 元" in dashboard and f"全县 2 户，{run.total} 元" in dashboard, who
        assert f"{region}：已发放 0，失败 0，待发放 {households}。" in dashboard, who
        auth.logout()
    # The county's own users see the whole run, with no part column.
    auth.login("county")
    listing = client.get("/admin/payments/").get_data(as_text=True)
    assert "其中" not in listing and f"{run.total}" in listing
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert "其中测试县" not in page and f"2 户，3 人，合计 {run.total} 元" in page and "全县2 户" not in page


def test_a_towns_part_is_reconciled_on_its_own(client, auth, session, world, clock, household):
    """The town reviewer confirms their town's part, so their part must add up on its own: an error in one town
    is shown to that town even when another town's opposite error cancels it in the county's sums."""
    from dibao import payments
    from dibao.models.payment import PaymentLine
    clock.set(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    other = active(session, world, staff="staff_b1", head_name="乙户主", income="0.00", members=1)
    session.commit()
    clock.set(datetime(2026, 4, 5, 2, 0, tzinfo=UTC))
    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    session.commit()
    ours = session.scalar(select(PaymentLine).where(PaymentLine.run_id == run.id,
                                                    PaymentLine.case_id == household.id))
    theirs = session.scalar(select(PaymentLine).where(PaymentLine.run_id == run.id, PaymentLine.case_id == other.id))
    ours.amount += Decimal("100.00")  # behind the domain's back, and cancelled out county-wide
    theirs.amount -= Decimal("100.00")
    session.commit()
    county_wide = payments.reconcile(session, run)
    town_a = payments.reconcile(session, run, session.get(Region, world.regions["town_a"]))
    assert county_wide.amounts == county_wide.in_force and county_wide.region is None
    assert town_a.amounts == town_a.in_force + Decimal("100.00") and not town_a.ok and town_a.lines == 1
    assert payments.reconcile(session, run, session.get(Region, world.regions["county"])).region is None

    ours.amount -= Decimal("100.00")  # town A mended; town B's error now shows county-wide too
    session.commit()
    for who, region, part_ok in (("town_a", "甲镇", True), ("staff_a1", "甲一社区", True),
                                 ("town_b", "乙街道", False)):
        auth.login(who)
        page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
        dashboard = client.get("/admin/").get_data(as_text=True)
        if part_ok:
            assert f"{region}对账一致。" in page and f"{region}对账一致" in dashboard, who
            assert "部分对账不一致" not in page, who
        else:
            assert f"{region}对账不一致，请核查。" in page and f"{region}对账不一致，请核查" in dashboard, who
            assert f"{region}部分对账不一致（见下方“对账”），请先核查再确认。" in page, who
        assert "全县对账不一致，请核查。" in page and "全县对账不一致，请核查" in dashboard, who
        auth.logout()
    auth.login("county")
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert "对账不一致，请核查。" in page and "全县对账" not in page and "部分</h3>" not in page


def test_the_supervision_group_reads_its_towns_state_not_the_towns_notes_nor_the_countys_sums(
        client, auth, session, world, household):
    """Residents of one community: a town reviewer's note is staff's free text and may name households of other
    communities; the county's reconciliation is more than their part (found by this stop's second audit)."""
    from dibao import payments
    from tests.case_helpers import user

    run = payments.generate(session, None, session.get(Region, world.regions["county"]), "2026-04")
    payments.check_town(session, user(session, world, "town_a"), run, note="甲二社区刘某某户收入有变，已核实。")
    session.commit()
    auth.login("sup_a1")
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert "甲镇：已核对" in page.replace("\n", "")
    assert "刘某某" not in page and "乙街道" not in page and "全县对账" not in page
    assert "甲一社区部分" in page  # its own part of the reconciliation
    _post(client, "/admin/logout")
    auth.login("county")
    page = client.get(f"/admin/payments/{run.id}").get_data(as_text=True)
    assert "刘某某" in page, page[page.find("乡镇核对"):page.find("乡镇核对") + 400]
    assert "对账一致" in page  # staff read them as before
