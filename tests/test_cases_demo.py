"""Issue 3: `dibao seed-demo` spreads households over every stage, with records; safe to run twice."""

from sqlalchemy import func, select

from dibao import audit
from dibao.models import Case, Stage
from dibao.models.records import HomeVisit, ReviewResult, Standard, TownMeetingResult


def test_seed_demo_spreads_cases_over_every_stage(runner, session):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
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
    assert audit.verify(session).ok

    session.rollback()
    count = session.scalar(select(func.count(Case.id)))
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "0 new records" in second.output
    session.rollback()
    assert session.scalar(select(func.count(Case.id))) == count
