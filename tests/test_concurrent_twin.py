"""Two submissions of the same thing at once (a double click, two clerks): the domain's own check sees no twin,
and the database's unique constraint refuses the second write. That is a 409 with a message in Chinese on the
form and nothing saved — not a 500 (found on PostgreSQL by this stop's hostile audit, with the standards form)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from dibao import db, web
from dibao.models import AuditEvent
from dibao.models.records import Standard
from tests.conftest import csrf_token


@pytest.fixture
def twin_committed_first(app, world):
    """Right before the request's first flush, the twin of the standard it adds is written — what the faster of
    two concurrent submissions does between the slower one's check and its write. (Written on the request's own
    connection: SQLite lets one writer at a time, so the twin cannot come from another here; what is tested is
    what the constraint's refusal does to the request.)"""

    done = []

    def commit_twin(session: Session, _context, _instances) -> None:
        mine = next((obj for obj in session.new if isinstance(obj, Standard)), None)
        if mine is None or done:
            return
        done.append(mine)
        session.connection().execute(Standard.__table__.insert().values(
            region_id=mine.region.id, monthly_amount=Decimal("780.00"), effective_from=mine.effective_from,
            note="另一次提交", method="gap", created_at=mine.created_at))

    event.listen(Session, "before_flush", commit_twin)
    yield
    event.remove(Session, "before_flush", commit_twin)
    assert done, "the request never flushed a standard"


def test_a_standard_saved_twice_at_once_is_a_conflict_on_the_form_not_a_500(app, client, auth, world,
                                                                            twin_committed_first):
    auth.login("admin")
    res = client.post("/admin/standards/", data={
        "csrf_token": csrf_token(client, "/admin/standards/"), "region_id": world.regions["county"],
        "monthly_amount": "780", "effective_from": "2026-06-01", "note": "文件", "method": "gap"})
    assert res.status_code == 409
    assert str(web.SAVED_BY_SOMEONE_ELSE) in res.get_data(as_text=True)
    with app.app_context():
        session = db.session()
        # Nothing of this submission (its transaction rolled back whole), and no event of it.
        assert session.scalars(select(Standard.note)).all() == []
        assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "standard_set")) == 0
    # The page answers as before afterwards: the session was rolled back, not left broken.
    assert client.get("/admin/standards/").status_code == 200


def test_an_integrity_error_that_is_not_a_twin_stays_a_fault(app):
    """Only a unique constraint lost to a concurrent writer becomes a 409: a missing value is a bug to see."""
    with app.app_context():
        with pytest.raises(Exception) as caught:
            web.perform(lambda session: session.execute(Standard.__table__.insert().values(
                region_id=None, monthly_amount=Decimal("1"), effective_from=date(2026, 1, 1), note="",
                method="gap", created_at=None)))
        assert caught.type.__name__ == "IntegrityError"
