"""Issue 13: a board is published with bulk writes (one executemany of the entries, one UPDATE of the cases, one
executemany of the audit events). It must store exactly what the rules applied one case at a time store, keep the
session's objects current, and refuse without leaving anything half-written."""

from __future__ import annotations

import collections
import itertools
import statistics
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dibao import audit, notices, workflow
from dibao import clock as dibao_clock
from dibao.errors import Conflict
from dibao.models import AuditEvent, Case, Level, NoticeBatch, NoticeEntry, Stage
from tests.factories import case_awaiting_notice
from tests.notice_helpers import _region, _user

TITLE = "甲镇低保审核公示"


def _town_cases(session) -> list[Case]:
    """Households of two communities of 甲镇, as varied as a board gets: photos with and without consent, an
    approval with an override reason, no public address (the community's name is shown instead)."""
    a1, a2 = _region(session, "100001001"), _region(session, "100001002")
    cases = [case_awaiting_notice(session, a1, Level.town, photo_key="photos/a.jpg", photo_consent=True),
             case_awaiting_notice(session, a2, Level.town, photo_key="photos/b.jpg", photo_consent=False),
             case_awaiting_notice(session, a1, Level.town, head_name="李四"),
             case_awaiting_notice(session, a2, Level.town, members=1)]
    workflow.current_opinion(cases[2], Level.town).override_reason = "重病，支出型贫困"
    cases[3].public_address = ""
    session.commit()
    return cases


def _one_by_one(session, actor, region, cases) -> None:
    """The rules applied one case at a time through the ORM, as publishing wrote a board before the bulk path: an
    entry object and a ``_move`` (with its own audit event) per case, then the batch and its event."""
    now = dibao_clock.now()
    batch = NoticeBatch(public_id=notices.new_public_id(), level=Level.town, region=region, title=TITLE,
                        opens_at=now, closes_at=now + timedelta(days=7), fingerprint="", created_by_id=actor.id,
                        created_at=now)
    session.add(batch)
    session.flush()
    entries = []
    for position, case in enumerate(cases):
        opinion = workflow.current_opinion(case, Level.town)
        entries.append(NoticeEntry(public_id=notices.new_public_id(), batch_id=batch.id, case=case,
                                   position=position, region_id=case.region_id, **notices.snapshot(case, opinion)))
        session.add(entries[-1])
        workflow._move(session, actor, case, Stage.town_notice, action="notice_published",
                       details={"batch": batch.public_id})
    batch.fingerprint = notices.fingerprint(batch, entries)
    audit.record(session, actor, "notice_batch_published", "notice_batch", batch.public_id, region_id=region.id,
                 details={"level": "town", "entries": len(entries), "opens_at": now.isoformat(),
                          "fingerprint": batch.fingerprint})
    session.flush()


def _stored(session, case_ids, events_after: int) -> dict:
    """What the database holds after a publish, read with plain column queries (not the session's objects)."""
    skip = {"id", "batch_id"}
    entry_columns = [c for c in NoticeEntry.__table__.c if c.name not in skip]
    event_columns = [c for c in AuditEvent.__table__.c if c.name != "id"]
    case = Case.__table__.c
    return {
        "batch": session.execute(select(NoticeBatch.public_id, NoticeBatch.fingerprint, NoticeBatch.title,
                                        NoticeBatch.opens_at, NoticeBatch.closes_at)).all(),
        "entries": [row._asdict() for row in session.execute(
            select(*entry_columns).order_by(NoticeEntry.__table__.c.position))],
        "cases": session.execute(select(case.id, case.stage, case.stage_changed_at, case.updated_at)
                                 .where(case.id.in_(case_ids)).order_by(case.id)).all(),
        "events": [row._asdict() for row in session.execute(
            select(*event_columns).where(AuditEvent.id > events_after).order_by(AuditEvent.id))],
    }


def test_a_bulk_published_board_stores_what_the_rules_one_by_one_store(world, session, clock, monkeypatch):
    cases = _town_cases(session)
    ids = [c.id for c in cases]
    actor, town = _user(session, "town_a"), _region(session, "100001")
    head = session.scalar(select(func.max(AuditEvent.id))) or 0
    clock.advance(minutes=5)

    def same_public_ids():  # both runs draw the same public ids, so the fingerprints and events can be compared
        counter = itertools.count(1)
        monkeypatch.setattr(notices, "new_public_id", lambda: f"p{next(counter):04d}")
        monkeypatch.setattr(notices, "new_public_ids", lambda n: [f"p{next(counter):04d}" for _ in range(n)])

    same_public_ids()
    _one_by_one(session, actor, town, cases)
    expected = _stored(session, ids, head)
    session.rollback()

    same_public_ids()
    batch = notices.publish_batch(session, actor, level=Level.town, region=town, cases=cases, title=TITLE)
    session.flush()
    stored = _stored(session, ids, head)
    assert stored["entries"] == expected["entries"]
    assert stored["cases"] == expected["cases"]
    assert stored["batch"] == expected["batch"]
    assert stored["events"] == expected["events"]  # content, order, time and hashes: the same chain
    assert [e["action"] for e in stored["events"]] == ["notice_published"] * 4 + ["notice_batch_published"]
    assert stored["entries"][0]["photo_key"] == "photos/a.jpg" and stored["entries"][1]["photo_key"] is None
    assert stored["entries"][2]["opinion_override_reason"] == "重病，支出型贫困"
    assert stored["entries"][3]["public_address"] == "甲二社区"
    assert {c[1] for c in stored["cases"]} == {Stage.town_notice}
    assert stored["cases"][0][2] == clock.now()
    session.commit()
    assert audit.verify(session).ok
    assert batch.fingerprint == notices.fingerprint(batch, batch.entries)  # the entries as read back
    assert [e.case_id for e in batch.entries] == ids


def test_the_session_shows_the_new_stage_without_a_refresh(world, session, clock):
    cases = _town_cases(session)
    actor = _user(session, "town_a")
    clock.advance(minutes=5)
    notices.publish(session, actor, case_ids=[c.id for c in cases], title=TITLE)
    # What a view reads next in the same request: the objects it already holds and a query's answer.
    assert [c.stage for c in cases] == [Stage.town_notice] * 4
    assert all(c.stage_changed_at == clock.now() for c in cases)
    assert not any(isinstance(obj, Case) for obj in session.dirty)  # stored, not waiting for another UPDATE
    assert session.scalars(select(Case).where(Case.stage == Stage.town_notice).order_by(Case.id)).all() == cases
    assert notices.awaiting_cases(session, actor) == []
    session.commit()
    with Session(session.get_bind()) as other:
        assert {c.stage for c in other.scalars(select(Case))} == {Stage.town_notice}


def _nothing_written(session, ids, head) -> None:
    assert session.scalar(select(func.count()).select_from(NoticeBatch)) == 0
    assert session.scalar(select(func.count()).select_from(NoticeEntry)) == 0
    assert (session.scalar(select(func.max(AuditEvent.id))) or 0) == head
    stages = session.execute(select(Case.__table__.c.stage).where(Case.__table__.c.id.in_(ids))
                             .order_by(Case.__table__.c.id)).scalars().all()
    assert Stage.town_notice not in stages


def test_a_case_moved_meanwhile_refuses_the_whole_board(world, session, clock):
    cases = _town_cases(session)
    ids = [c.id for c in cases]
    actor, town = _user(session, "town_a"), _region(session, "100001")
    head = session.scalar(select(func.max(AuditEvent.id))) or 0
    session.commit()  # the cases stay loaded as they were read
    with Session(session.get_bind()) as other:  # another request sends one household back meanwhile
        other.get(Case, ids[2]).stage = Stage.investigating
        other.commit()
    with pytest.raises(Conflict):
        notices.publish_batch(session, actor, level=Level.town, region=town, cases=cases, title=TITLE)
    session.rollback()  # what the request does with a refusal
    _nothing_written(session, ids, head)
    assert session.get(Case, ids[2]).stage == Stage.investigating  # not overwritten by the publish
    assert audit.verify(session).ok


def test_a_refused_case_in_the_middle_is_refused_before_anything_is_written(world, session, clock):
    cases = _town_cases(session)
    ids = [c.id for c in cases]
    actor, town = _user(session, "town_a"), _region(session, "100001")
    workflow.current_opinion(cases[2], Level.town).superseded = True  # no town opinion stands for this one
    session.commit()
    head = session.scalar(select(func.max(AuditEvent.id))) or 0
    with pytest.raises(Conflict, match=cases[2].number):
        notices.publish_batch(session, actor, level=Level.town, region=town, cases=cases, title=TITLE)
    _nothing_written(session, ids, head)  # in the same transaction: nothing to roll back
    assert [c.stage for c in cases] == [Stage.awaiting_town_notice] * 4


def test_public_ids_are_drawn_evenly_from_the_alphabet():
    ids = notices.new_public_ids(5000)
    assert len(ids) == 5000 and len(set(ids)) == 5000
    assert all(len(i) == 10 and set(i) <= set(notices.PUBLIC_ID_ALPHABET) for i in ids)
    counts = collections.Counter("".join(ids))
    assert set(counts) == set(notices.PUBLIC_ID_ALPHABET)
    # 256 byte values over 31 characters: keeping every byte would make the first 8 characters ~12 % more
    # frequent (1,758 against 1,563 of 50,000); drawn evenly, each is near 1,613 (standard deviation ~40).
    first, rest = notices.PUBLIC_ID_ALPHABET[:8], notices.PUBLIC_ID_ALPHABET[8:]
    assert abs(statistics.mean(counts[c] for c in first) - statistics.mean(counts[c] for c in rest)) < 60
    assert len(notices.new_public_id()) == 10 and len(notices.new_public_id(6)) == 6


def test_bulk_rows_are_stored_as_the_orm_stores_them_and_each_secret_sealed_apart(world, session, clock):
    """dibao.db.insert_rows, the bulk writers' insert (executemany on SQLite, COPY on PostgreSQL): values go
    through their columns' types — an encrypted column gets a fresh nonce for every value even when two values
    are the same, dates and enums are stored as the ORM stores them — and a column left out is refused."""
    from sqlalchemy import text

    from dibao import crypto, db
    from dibao.models import Member

    case = case_awaiting_notice(session, _region(session, "100001001"), Level.town)
    session.flush()
    same = case.members[0].id_number
    rows = [{"case_id": case.id, "position": 10 + i, "name": f"成员{i}", "relation": "子女", "age": 9,
             "id_number": same, "id_number_hash": crypto.blind_index(same), "health": "", "work_capacity":
             case.members[0].work_capacity, "monthly_deduction": 0, "deduction_note": ""} for i in range(2)]
    db.insert_rows(session, Member.__table__, rows)
    stored = session.execute(text("SELECT id_number FROM case_member WHERE position >= 10 ORDER BY position")).all()
    assert len(stored) == 2 and stored[0][0] != stored[1][0] and same not in (stored[0][0], stored[1][0])
    assert [crypto.decrypt(s[0]) for s in stored] == [same, same]
    loaded = session.scalars(select(Member).where(Member.case_id == case.id, Member.position >= 10)
                             .execution_options(populate_existing=True)).all()
    assert [m.work_capacity for m in loaded] == [case.members[0].work_capacity] * 2
    with pytest.raises(ValueError, match="no value for"):
        db.insert_rows(session, Member.__table__, [{k: v for k, v in rows[0].items() if k != "health"}])  # a Python default


def test_ids_drawn_for_a_bulk_insert_are_new_and_the_next_insert_goes_past_them(world, session, clock):
    """dibao.db.new_ids: a bulk writer's ids, drawn before its insert (the import writes its households' members
    and incomes without reading an id back). They are new, the rows are stored under them, and an ordinary
    insert afterwards gets an id past them — on SQLite even after the highest row was deleted."""
    from dibao import db
    from dibao.models import Member

    case = case_awaiting_notice(session, _region(session, "100001001"), Level.town)
    session.flush()
    before = {m.id for m in case.members}
    highest = max(before)
    session.delete(next(m for m in case.members if m.id == highest))
    session.flush()
    ids = db.new_ids(session, Member.__table__, 3)
    assert len(set(ids)) == 3 and not set(ids) & (before - {highest})
    template = case.members[0]
    rows = [{"id": member_id, "case_id": case.id, "position": 20 + i, "name": f"新成员{i}", "relation": "子女",
             "age": 5, "id_number": None, "id_number_hash": None, "health": "", "work_capacity":
             template.work_capacity, "monthly_deduction": 0, "deduction_note": ""} for i, member_id in enumerate(ids)]
    db.insert_rows(session, Member.__table__, rows)
    stored = dict(session.execute(select(Member.id, Member.name).where(Member.id.in_(ids))).all())
    assert stored == {member_id: f"新成员{i}" for i, member_id in enumerate(ids)}
    later = Member(case_id=case.id, position=30, name="后来者", relation="子女", age=1, id_number=None,
                   id_number_hash=None, health="", work_capacity=template.work_capacity)
    session.add(later)
    session.flush()
    assert later.id > max(ids)
