"""Issue 4: the demo's notice boards."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from dibao import db, notices
from dibao.models import Case, Level, NoticeBatch, Stage


def test_demo_has_open_boards_at_every_level_closing_soon_and_a_closed_history(app, runner, clock):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    with app.app_context():
        sess = db.session()
        count = sess.scalar(select(func.count(NoticeBatch.id)))
        board = notices.board(sess, None)
        assert {g.batch.level for g in board.groups} == set(Level)
        assert len({e.region_id for e in board.entries}) >= 8  # several communities
        assert any(g.batch.closes_at - clock.now() < timedelta(hours=1) for g in board.groups)
        closed = sess.scalars(select(NoticeBatch).where(NoticeBatch.closing_recorded_at.is_not(None))).all()
        assert len(closed) >= 3
        assert sess.scalar(select(func.count(Case.id)).where(Case.stage == Stage.active)) >= 4  # on the roster
        assert any(notices.batch_status(b) == notices.Status.scheduled for b in sess.scalars(select(NoticeBatch)))
    assert runner.invoke(args=["seed-demo"]).exit_code == 0  # safe to run twice
    with app.app_context():
        assert db.session().scalar(select(func.count(NoticeBatch.id))) == count
