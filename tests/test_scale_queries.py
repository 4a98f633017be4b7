"""Issue 13, province scale: the reworked queries give the same answers as the rules they stand for — the case
search by ID number (hash looked up first), the dashboard's counts (one pass), and the amount in force (one rule,
``entitlement.in_force_intervals``, behind both ``in_force`` and the statistics)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select

from dibao import cases, entitlement, reviews, workdays, workflow
from dibao.models import AmountChange, Case, Decision, Stage
from tests.case_helpers import register, standard, to_stage, user, valid_id
from tests.export_helpers import export


def test_search_by_id_number_finds_the_head_and_a_member_within_scope_only(session, world, clock):
    standard(session, world)
    staff_a1, staff_b1 = user(session, world, "staff_a1"), user(session, world, "staff_b1")
    head_id, member_id, other_id = valid_id(), valid_id(), valid_id()
    by_head = register(session, staff_a1, head_name="甲户", head_id_number=head_id)
    by_member = register(session, staff_a1, head_name="乙户", members=1)
    cases.add_member(session, staff_a1, by_member, name="乙小", relation="子女", age=9, id_number=member_id,
                     health="", work_capacity=by_member.members[0].work_capacity, deduction=None, deduction_note="")
    elsewhere = register(session, staff_b1, head_name="丙户", head_id_number=other_id)
    session.commit()
    county = user(session, world, "county")
    assert [c.id for c in cases.search(session, county, q=head_id).items] == [by_head.id]
    assert [c.id for c in cases.search(session, county, q=member_id[:6] + " " + member_id[6:]).items] == [by_member.id]
    page = cases.search(session, staff_a1, q=other_id)  # another community's household: not in staff_a1's scope
    assert (page.items, page.total) == ([], 0)
    assert [c.id for c in cases.search(session, county, q=other_id).items] == [elsewhere.id]
    assert cases.search(session, county, q=valid_id()).total == 0  # a valid number nobody has


def test_search_by_words_finds_name_address_number_and_phone_and_skips_what_cannot_match(session, world, clock):
    """The staff search: a name or address word (Chinese) by the name and address only — a case number and a
    phone are ASCII, so their LIKE (a trigram index scan each on PostgreSQL) is not sent; digits by all four."""
    standard(session, world)
    staff_a1 = user(session, world, "staff_a1")
    found = register(session, staff_a1, head_name="欧阳明", address="春风路 12 号", head_phone="13698765432")
    other = register(session, staff_a1, head_name="张三", address="秋月街 3 号")
    session.commit()
    county = user(session, world, "county")
    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        by_name = cases.search(session, county, q="欧阳")
        by_address = cases.search(session, county, q="春风路")
        words = list(sent)
        by_phone = cases.search(session, county, q="98765")
        by_number = cases.search(session, county, q=other.number[-9:])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert [c.id for c in by_name.items] == [c.id for c in by_address.items] == [found.id]
    assert [c.id for c in by_phone.items] == [found.id] and [c.id for c in by_number.items] == [other.id]
    assert words and not any("head_phone LIKE" in s or "number LIKE" in s for s in words)
    assert any("head_phone LIKE" in s for s in sent[len(words):])


def _one_count_each(session, user_):
    """The dashboard's figures as they were counted before: one scoped count per condition."""
    in_scope = cases._in_scope(user_)
    counts = {}
    for key, condition in cases.overdue_conditions(calendar=workdays.calendar(session, user_.region)).items():
        counts[key] = session.scalar(select(func.count(Case.id)).where(in_scope, condition))
    counts["review_due"] = reviews.due_count(session, user_)
    counts["open"] = session.scalar(select(func.count(Case.id)).where(
        in_scope, Case.stage.in_(workflow.UNDECIDED_STAGES)))
    return counts


def test_dashboard_counts_in_one_pass_equal_one_count_per_condition(session, world, clock):
    standard(session, world)
    staff_a1, staff_b1 = user(session, world, "staff_a1"), user(session, world, "staff_b1")
    clock.set(datetime(2026, 1, 5, 2, tzinfo=UTC))  # accepted long ago: home visit and whole case overdue
    late = [register(session, staff_a1, head_name=f"早{i}", head_id_number=valid_id()) for i in range(3)]
    register(session, staff_b1, head_name="乙早", head_id_number=valid_id())
    to_stage(session, world, late[1], Stage.county_approval)
    to_stage(session, world, late[2], Stage.active)
    clock.set(datetime(2026, 3, 18, 2, tzinfo=UTC))
    register(session, staff_a1, head_name="新", head_id_number=valid_id())
    session.commit()
    clock.set(datetime(2027, 6, 1, 2, tzinfo=UTC))  # the active household's review is due by now
    for name in ("county", "town_a", "town_b", "staff_a1", "staff_a2"):
        who = user(session, world, name)
        expected = _one_count_each(session, who)
        assert cases.deadline_summary(session, who) == expected, name
    county = cases.deadline_summary(session, user(session, world, "county"))
    assert county == {"home_visit": 3, "county": 1, "whole": 4, "review_due": 1, "open": 4}


def test_in_force_is_the_open_interval_of_in_force_intervals(session, world, clock):
    standard(session, world)
    case = register(session, user(session, world, "staff_a1"))
    to_stage(session, world, case, Stage.active)  # approved in March: 960 from April
    county = user(session, world, "county")
    entitlement.start_period(session, county, case, amount=Decimal("1000"), starts_on=date(2026, 6, 1),
                             change=AmountChange.adjusted)
    entitlement.start_period(session, county, case, amount=Decimal("800"), starts_on=date(2026, 6, 20),
                             change=AmountChange.adjusted)  # the same month: the newer one wins
    entitlement.start_period(session, county, case, amount=Decimal("0"), starts_on=date(2026, 9, 1),
                             change=AmountChange.exited)
    session.commit()
    months = [date(2026, m, 1) for m in range(3, 12)]
    intervals = list(session.execute(entitlement.in_force_intervals(months[-1])))
    seen = {}
    for month in months:
        in_force = {row.case_id: row.amount for row in session.execute(entitlement.in_force(month))}
        by_interval = {row.case_id: row.amount for row in intervals
                       if row.starts_on <= month and (row.until is None or month < row.until)}
        assert in_force == by_interval, month
        seen[month] = in_force.get(case.id)
    assert [seen[m] for m in months] == [None, Decimal("960.00"), Decimal("960.00"), Decimal("800.00"),
                                         Decimal("800.00"), Decimal("800.00"), Decimal("0.00"), Decimal("0.00"),
                                         Decimal("0.00")]


def test_review_due_count_is_the_rule_counted_in_two_halves(session, world, clock):
    """``reviews.due_count`` counts "date come" and "a proposal waiting, date not come" apart (for the index):
    the sum equals one count under ``reviews.due_condition`` — a household with both counts once, two open
    proposals count once, a closed proposal or another town's household not at all."""
    from dibao.models.management import Proposal, ProposalKind, ProposalSource, ProposalStatus

    standard(session, world)
    staff_a1, staff_b1 = user(session, world, "staff_a1"), user(session, world, "staff_b1")
    households = [register(session, staff_a1, head_name=f"复{i}", head_id_number=valid_id()) for i in range(6)]
    households.append(register(session, staff_b1, head_name="乙复", head_id_number=valid_id()))
    for case in households[:-1]:
        to_stage(session, world, case, Stage.active)
    households[-1].stage = Stage.active  # another town's household (to_stage drives town A's)
    today = clock.now().date()
    past, future = date(today.year - 1, 1, 1), date(today.year + 1, 1, 1)
    # (review date, proposals' statuses) of each household
    shapes = [(past, []), (past, ["open"]), (future, ["open"]), (future, ["open", "open"]), (future, []),
              (future, ["confirmed"]), (future, ["open"])]  # the last: another town's
    for case, (due, statuses) in zip(households, shapes, strict=True):
        case.next_review_due = due
        for status in statuses:
            session.add(Proposal(case_id=case.id, kind=ProposalKind.amount, source=ProposalSource.review,
                                 status=ProposalStatus(status), reason="复核", created_by_name="专干",
                                 created_at=clock.now()))
    session.commit()
    for name in ("county", "town_a", "town_b", "staff_a1", "staff_a2"):
        who = user(session, world, name)
        one_count = session.scalar(select(func.count(Case.id)).where(
            Case.region_id.in_(cases.scope.region_ids_in_scope(who)), reviews.due_condition()))
        assert reviews.due_count(session, who) == one_count, name
    assert reviews.due_count(session, user(session, world, "town_a")) == 4
    assert reviews.due_count(session, user(session, world, "county")) == 5


# --- fifth pass: the case list's household sizes, the undecided cases' partial indexes (migration 0704) --------

def _sizes_shown(client, cases_):
    """The household size each case's row of the staff case list shows (the 人数 column)."""
    html = client.get("/admin/cases/", headers={"HX-Request": "true"}).get_data(as_text=True)
    shown = {}
    for case in cases_:
        row = re.search(r"<tr[^>]*>\s*<td><a [^>]*>" + re.escape(case.number) + r"</a></td>(.*?)</tr>", html, re.S)
        plain = re.findall(r"<td>([^<]*)</td>", row.group(1))  # name, community, size, category (no class)
        assert plain[0] == case.head_name
        shown[case.head_name] = int(plain[2])
    return shown


def test_the_case_list_counts_each_households_members_as_they_are_now(app, client, auth, session, world, clock):
    """The list no longer loads every member to show a household's size: the size is counted with the page, in
    the same statement — and follows an added or removed member on the very next request (page, export)."""
    standard(session, world)
    staff = user(session, world, "staff_a1")
    one, three = register(session, staff, head_name="单人户", members=1), register(session, staff, head_name="三人户",
                                                                                 members=3)
    session.commit()
    page = cases.search(session, staff)
    assert page.household_sizes == {one.id: 1, three.id: 3}
    assert all(page.household_sizes[c.id] == len(c.members) for c in page.items)
    auth.login("staff_a1")
    assert _sizes_shown(client, [one, three]) == {"单人户": 1, "三人户": 3}
    session.rollback()  # the test's read ends (SQLite: a snapshot older than the request's writes cannot write)
    cases.add_member(session, staff, one, name="单小", relation="子女", age=9, id_number=None, health="",
                     work_capacity=one.members[0].work_capacity, deduction=None, deduction_note="")
    cases.remove_member(session, staff, three, three.members[-1].id)
    session.commit()
    assert cases.search(session, staff).household_sizes == {one.id: 2, three.id: 2}
    assert _sizes_shown(client, [one, three]) == {"单人户": 2, "三人户": 2}
    sheets, _job = export(app, client, "cases")
    assert sorted((row[1], row[7]) for row in sheets["低保案件"][1:]) == [("三人户", 2), ("单人户", 2)]


def _open_in_order(session, who):
    """The open cases of ``who``'s scope as the rule says, computed in Python: newest change first."""
    scoped = [c for c in session.scalars(select(Case)) if c.region.path.startswith(who.region.path)
              and c.stage in workflow.UNDECIDED_STAGES]
    return [c.id for c in sorted(scoped, key=lambda c: (c.updated_at, c.id), reverse=True)]


def _listed(session, who, per_page=2):
    ids, page = [], 1
    while True:
        found = cases.search(session, who, stage="open", page=page, per_page=per_page)
        ids += [c.id for c in found.items]
        if page >= found.pages:
            return ids, found.total
        page += 1


def _dashboard_by_rule(session, who):
    """The dashboard's deadline counts recounted case by case with the list's own rule (``overdue_keys``)."""
    counts = {"home_visit": 0, "county": 0, "whole": 0, "open": 0}
    for case in session.scalars(select(Case)):
        if case.region.path.startswith(who.region.path):
            for key in cases.overdue_keys(case):
                counts[key] += 1
            counts["open"] += case.stage in workflow.UNDECIDED_STAGES
    return counts


def test_the_open_cases_and_the_dashboard_follow_each_change_at_once(session, world, clock):
    """The open cases' list (walked in its order on the partial index) and the dashboard's counts (read from the
    other one) are the rule's answer after each kind of change: a registration, an edit, time passing, each step
    of the workflow, a special case, an approval, a rejection — for every level of scope."""
    standard(session, world)
    staff_a1, staff_b1 = user(session, world, "staff_a1"), user(session, world, "staff_b1")
    who = [user(session, world, name) for name in ("county", "town_a", "town_b", "staff_a1", "staff_a2")]

    def check(step):
        session.commit()
        session.expire_all()
        for u in who:
            expected = _open_in_order(session, u)
            assert _listed(session, u) == (expected, len(expected)), (step, u.username)
            summary = cases.deadline_summary(session, u)
            assert {k: summary[k] for k in ("home_visit", "county", "whole", "open")} == \
                _dashboard_by_rule(session, u), (step, u.username)

    clock.set(datetime(2026, 1, 5, 2, tzinfo=UTC))
    made = [register(session, staff_a1, head_name=f"甲{i}", head_id_number=valid_id()) for i in range(4)]
    other = register(session, staff_b1, head_name="乙", head_id_number=valid_id())
    check("registered")
    clock.set(datetime(2026, 1, 12, 2, tzinfo=UTC))
    check("a week on: home visits overdue")
    cases.update_household(session, staff_a1, made[0], head_phone=None, address="新地址 1 号", public_address="",
                           category=3, close_relative_of_staff=False, no_income_no_capacity_no_supporter=False,
                           special_case=False)
    # 特殊情况 is the county's to decide (the community's edit cannot change it)
    cases.update_flags(session, user(session, world, "county"), made[0], close_relative_of_staff=False,
                       special_case=True, reason="家庭情况复杂，需延长办理时限。")
    check("edited: newest change, a special case")
    to_stage(session, world, made[1], Stage.investigating)
    check("home visit recorded")
    to_stage(session, world, made[2], Stage.county_approval)
    check("at the county")
    clock.set(datetime(2026, 3, 2, 2, tzinfo=UTC))
    check("two months on: county decision and whole case overdue")
    workflow.record_county_decision(session, user(session, world, "county"), made[2], decision=Decision.approve,
                                    opinion="同意纳入低保。", levels=())
    assert made[2].stage == Stage.active
    check("approved")
    to_stage(session, world, made[3], Stage.community_review)
    check("at the community review")
    workflow.reject(session, staff_a1, made[3], reason="家庭收入超过当地低保标准，不予批准。")
    assert made[3].stage == Stage.rejected
    check("rejected")
    cases.update_household(session, staff_b1, other, head_phone=None, address="乙地址", public_address="",
                           category=1, close_relative_of_staff=False, no_income_no_capacity_no_supporter=False,
                           special_case=False)
    check("edited in the other town")


UNDECIDED_IN_SQL = re.compile(r"'([a-z_]+)'")


def test_the_undecided_indexes_hold_exactly_the_undecided_stages():
    """The partial indexes serve ``stage IN (workflow.UNDECIDED_STAGES)`` only while their predicate names the same
    stages: a stage added to the rule without a migration would leave the dashboard on the slow path."""
    from importlib import import_module

    from dibao.models.case import UNDECIDED_INDEXED

    rule = {stage.value for stage in workflow.UNDECIDED_STAGES}
    assert set(UNDECIDED_IN_SQL.findall(UNDECIDED_INDEXED.text)) == rule
    migration = import_module("migrations.versions.0704_case_undecided")
    assert set(UNDECIDED_IN_SQL.findall(migration.UNDECIDED.text)) == rule


def test_postgresql_answers_the_dashboard_and_the_open_list_from_the_undecided_indexes(session, world, clock):
    """The statements as sent (stages as bound parameters) let PostgreSQL prove the indexes' predicate: the counts
    come from ``ix_dibao_case_undecided_region_id`` alone, the list's order from ``…_updated_at``."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans")
    standard(session, world)
    register(session, user(session, world, "staff_a1"), head_name="甲", head_id_number=valid_id())
    session.commit()
    county = user(session, world, "county")
    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        cases.deadline_summary(session, county)
        cases.search(session, county, stage="open")
    finally:
        event.remove(engine, "before_cursor_execute", capture)

    def plan(statement, parameters, **off):
        conn = session.connection()
        for setting in off:  # a tiny table is cheapest to scan: take that choice away, keep the others
            conn.exec_driver_sql(f"SET LOCAL {setting} = off")
        return "\n".join(line for (line,) in conn.exec_driver_sql("EXPLAIN " + statement, parameters))

    deadline = next(s for s in sent if "FILTER" in s[0])
    open_count = next(s for s in sent if s[0].startswith("SELECT count(*)") and "FILTER" not in s[0]
                      and "next_review_due" not in s[0] and "management_proposal" not in s[0])
    open_page = next(s for s in sent if "ORDER BY dibao_case.updated_at DESC" in s[0])
    assert "Index Only Scan using ix_dibao_case_undecided_region_id" in plan(*deadline, enable_seqscan=1,
                                                                              enable_bitmapscan=1)
    assert "Index Only Scan using ix_dibao_case_undecided_region_id" in plan(*open_count, enable_seqscan=1,
                                                                              enable_bitmapscan=1)
    assert "ix_dibao_case_undecided_updated_at" in plan(*open_page, enable_seqscan=1, enable_bitmapscan=1,
                                                         enable_sort=1)
    session.rollback()


def test_the_search_indexes_are_trigram_indexes_on_postgresql_and_absent_on_sqlite(session):
    """The staff search's LIKE '%…%' is served by trigram GIN indexes on PostgreSQL; on SQLite no B-tree can
    serve it, so none is kept there (each would cost a write on every new household: migration 0706)."""
    from sqlalchemy import inspect

    found = {index["name"] for index in inspect(session.connection()).get_indexes("dibao_case")}
    search = {f"ix_dibao_case_{col}_trgm" for col in ("head_name", "number", "address", "head_phone")}
    if session.get_bind().dialect.name == "postgresql":
        assert search <= found
        methods = dict(session.connection().exec_driver_sql(
            "SELECT c.relname, a.amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
            "WHERE c.relname LIKE 'ix_dibao_case_%%_trgm'").all())
        assert methods == dict.fromkeys(search, "gin")
    else:
        assert not search & found
        plan = session.connection().exec_driver_sql(
            "EXPLAIN QUERY PLAN SELECT id FROM dibao_case WHERE number LIKE '100001001-2026-%'").all()
        assert "ix_dibao_case_number_trgm" not in str(plan)
