"""``dibao seed-demo`` (issues 2, 3, 4 and the kiosk's): one demo county with people, households over every stage,
notice boards and kiosks, and safe to run twice. Seeded once here and checked for all of it: each seeding costs
seconds, and a test per part seeded it twice each."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from dibao import audit, notices
from dibao.demo import TOWNS
from dibao.models import AuditEvent, Case, Level, NoticeBatch, Region, Stage, User
from dibao.models.kiosk import Kiosk
from dibao.models.records import HomeVisit, ReviewResult, Standard, TownMeetingResult


def _county_and_people(session):
    levels = session.scalars(select(Region.level)).all()
    assert levels.count(Level.county) == 1
    assert levels.count(Level.town) >= 3
    assert levels.count(Level.community) >= 12
    users = session.scalars(select(User)).all()
    assert {u.role.value for u in users} == {"admin", "county_approver", "town_reviewer", "community_staff", "supervisor"}
    # Staff are people with Chinese names; the supervision group's login is a group (issue 11).
    names = [u.display_name for u in users if u.role.value != "supervisor"]
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,4}", n) for n in names), names
    assert all(u.display_name.endswith("群众监督组") for u in users if u.role.value == "supervisor")


def _cases_over_every_stage(session):
    stages = dict(session.execute(select(Case.stage, func.count(Case.id)).group_by(Case.stage)).all())
    assert set(stages) == set(Stage), set(Stage) - set(stages)
    assert sum(stages.values()) >= 40
    # The case demo's own households carry their records (the notice demo adds arranged ones: number "-D4-").
    own = select(Case.id).where(Case.number.not_like("%-D4-%"))
    assert session.scalar(select(func.count()).select_from(own.subquery())) >= 55
    assert session.scalar(select(func.count(HomeVisit.id))) >= 45
    assert session.scalar(select(func.count(ReviewResult.id))) >= 40
    assert session.scalar(select(func.count(TownMeetingResult.id))) >= 25
    assert session.scalar(select(Standard.monthly_amount).order_by(Standard.effective_from)) == 780
    communities = session.scalar(select(func.count(func.distinct(Case.region_id))).where(Case.id.in_(own)))
    assert communities >= 10
    # a few special cases (45 working days), each decided by the county with its reason, as the rules want
    special = session.scalars(select(Case.id).where(Case.special_case.is_(True))).all()
    decided = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "case_flags_changed")).all()
    assert special and {str(i) for i in special} <= set(decided)


def _boards(session, now):
    board = notices.board(session, None)
    assert {g.batch.level for g in board.groups} == set(Level)
    assert len({e.region_id for e in board.entries}) >= 8  # several communities
    assert any(g.batch.closes_at - now < timedelta(hours=1) for g in board.groups)
    closed = session.scalars(select(NoticeBatch).where(NoticeBatch.closing_recorded_at.is_not(None))).all()
    assert len(closed) >= 3
    assert session.scalar(select(func.count(Case.id)).where(Case.stage == Stage.active)) >= 4  # on the roster
    assert any(notices.batch_status(b) == notices.Status.scheduled for b in session.scalars(select(NoticeBatch)))


def _kiosks(runner, session, app):
    communities = sum(len(t[2]) for t in TOWNS)
    assert session.scalar(select(func.count()).select_from(Kiosk)) == communities
    out = runner.invoke(args=["kiosk", "list"]).output
    assert out.count(f"{app.config['PUBLIC_URL']}/kiosk/") == communities and "东关社区活动室公示屏" in out


def _counts(session):
    session.expire_all()
    return {model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Region, User, Case, NoticeBatch, Kiosk, HomeVisit)}


def test_seed_demo_builds_the_whole_demo_county_and_is_safe_to_run_twice(app, runner, session, clock):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "dibao-demo-2026" in first.output
    _county_and_people(session)
    _cases_over_every_stage(session)
    _boards(session, clock.now())
    _kiosks(runner, session, app)
    assert audit.verify(session).ok
    session.rollback()
    counts = _counts(session)

    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "0 new records" in second.output, second.output
    assert _counts(session) == counts
    _kiosks(runner, session, app)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
