"""A province for measuring (issue 13): ``dibao seed-scale --households N`` on PostgreSQL, loaded with COPY.

Counties × towns × communities; N households (80 % in payment, the rest exited, rejected or somewhere in the
workflow) with 1–4 members, incomes, five years of amount history (approval, then a yearly raise), five years of
notice rounds per community (closed boards whose entries are the households approved then), one open community
board per community (up to 40 entries of households awaiting their round) and objections against 2 % of entries.

Rows go in through psycopg 3's COPY on one connection and one transaction; ID numbers are encrypted and
blind-indexed exactly as the ORM would do it. Nothing here runs in a request.
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, text

from dibao import clock
from dibao.crypto import blind_index, encrypt

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国志文斌凤春梅海燕"
RELATIONS = ("配偶", "子女", "父母", "子女")
SOURCES = ("wage", "pension", "farming", "support")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _id_number(rng: random.Random, birth_year: int) -> str:
    body = f"{rng.randint(110000, 659000)}{birth_year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def build(engine: Engine, households: int, *, counties: int = 16, towns: int = 12, communities: int = 15,
          seed: int = 13, progress=print) -> dict:
    """Load the province into an empty (migrated) PostgreSQL database; returns figures (rows, seconds)."""
    if engine.dialect.name != "postgresql":
        raise RuntimeError("seed-scale needs PostgreSQL (COPY)")
    rng = random.Random(seed)
    now = clock.now()
    started = time.monotonic()
    counts: dict[str, int] = {}
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM dibao_case")
            if cur.fetchone()[0]:
                raise RuntimeError("seed-scale wants an empty database")

            def copy(table: str, columns: tuple[str, ...], rows) -> None:
                n = 0
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)
                        n += 1
                counts[table] = counts.get(table, 0) + n

            # --- regions ---------------------------------------------------------------------------------
            region_rows, community_ids, community_codes = [], [], {}
            rid = 0
            for c in range(1, counties + 1):
                rid += 1
                county_id, ccode = rid, f"S{c:02d}"
                region_rows.append((county_id, ccode, f"第{c}县", "county", None, f"/{ccode}/"))
                for t in range(1, towns + 1):
                    rid += 1
                    town_id, tcode = rid, f"{ccode}{t:03d}"
                    region_rows.append((town_id, tcode, f"第{c}县第{t}镇", "town", county_id, f"/{ccode}/{tcode}/"))
                    for m in range(1, communities + 1):
                        rid += 1
                        mcode = f"{tcode}{m:03d}"
                        region_rows.append((rid, mcode, f"第{t}镇第{m}社区", "community", town_id,
                                            f"/{ccode}/{tcode}/{mcode}/"))
                        community_ids.append(rid)
                        community_codes[rid] = mcode
            copy("region", ("id", "code", "name", "level", "parent_id", "path"), region_rows)
            progress(f"regions: {len(region_rows)}")

            # --- households ------------------------------------------------------------------------------
            per = {cid: 0 for cid in community_ids}
            awaiting: dict[int, list[tuple]] = {cid: [] for cid in community_ids}  # for the open boards
            approved_by_year: dict[tuple[int, int], list[tuple]] = {}
            case_cols = ("id", "number", "region_id", "stage", "stage_changed_at", "head_name", "head_id_number",
                         "head_id_hash", "head_phone", "address", "public_address", "category",
                         "close_relative_of_staff", "special_case", "no_income_no_capacity_no_supporter",
                         "photo_consent", "computed_amount", "monthly_amount", "household_income", "marginal",
                         "accepted_at", "approved_at", "payment_start", "next_review_due", "created_at", "updated_at")
            member_rows, income_rows, period_rows = [], [], []
            member_id = income_id = period_id = 0
            this_year = clock.to_local(now).year

            def cases():
                nonlocal member_id, income_id, period_id
                for i in range(1, households + 1):
                    cid = community_ids[i % len(community_ids)]
                    per[cid] += 1
                    roll = rng.random()
                    stage = ("active" if roll < 0.80 else "exited" if roll < 0.90 else "rejected" if roll < 0.95
                             else "awaiting_community_notice" if roll < 0.975 else
                             rng.choice(("applied", "investigating", "town_review", "county_approval")))
                    size = rng.choice((1, 2, 2, 3, 3, 4))
                    head = _name(rng)
                    birth = rng.randint(1940, 1995)
                    id_number = _id_number(rng, birth)
                    accepted = now - timedelta(days=rng.randint(10, 5 * 365))
                    approved = accepted + timedelta(days=25) if stage in ("active", "exited") else None
                    amount = Decimal(rng.randint(200, 900) * size)
                    income = Decimal(rng.randint(0, 400))
                    address = f"{community_codes[cid]}社区{rng.randint(1, 60)}号楼{rng.randint(1, 6)}单元"
                    yield (i, f"{community_codes[cid]}-{accepted.year}-{i:07d}", cid, stage, _naive(accepted),
                           head, encrypt(id_number), blind_index(id_number), f"139{rng.randint(0, 99999999):08d}",
                           address, f"{community_codes[cid]}社区", rng.randint(1, 4), False, False, False, False,
                           amount, amount if stage == "active" else None, income, False, _naive(accepted),
                           _naive(approved) if approved else None,
                           (approved.date().replace(day=1) + timedelta(days=32)).replace(day=1) if approved else None,
                           date(this_year + 1, rng.randint(1, 12), 1) if stage == "active" else None,
                           _naive(accepted), _naive(accepted))
                    for pos in range(size):
                        member_id += 1
                        mid = id_number if pos == 0 else _id_number(rng, rng.randint(1940, 2020))
                        member_rows.append((member_id, i, pos, head if pos == 0 else _name(rng),
                                            "本人" if pos == 0 else rng.choice(RELATIONS), rng.randint(3, 85),
                                            encrypt(mid), blind_index(mid), "", "partial", Decimal(0), ""))
                        if rng.random() < 0.5:
                            income_id += 1
                            income_rows.append((income_id, member_id, rng.choice(SOURCES),
                                                Decimal(rng.randint(50, 800)), ""))
                    if approved:
                        start = (approved.date().replace(day=1) + timedelta(days=32)).replace(day=1)
                        period_id += 1
                        period_rows.append((period_id, i, start, amount, "approved", "", "县民政局", _naive(approved)))
                        for year in range(start.year + 1, this_year + 1):  # a raise every January
                            period_id += 1
                            period_rows.append((period_id, i, date(year, 1, 1), amount, "standard_raised",
                                                "提标", "县民政局", _naive(approved)))
                        approved_by_year.setdefault((cid, approved.year), []).append(
                            (i, head, address, size, income, amount))
                    elif stage == "awaiting_community_notice" and len(awaiting[cid]) < 40:
                        awaiting[cid].append((i, head, address, size, income, amount))

            copy("dibao_case", case_cols, cases())
            progress(f"households: {households} ({time.monotonic() - started:.0f} s)")
            copy("case_member", ("id", "case_id", "position", "name", "relation", "age", "id_number",
                                 "id_number_hash", "health", "work_capacity", "monthly_deduction", "deduction_note"),
                 member_rows)
            copy("member_income", ("id", "member_id", "source", "monthly_amount", "note"), income_rows)
            copy("amount_period", ("id", "case_id", "starts_on", "amount", "change", "reason", "created_by_name",
                                   "created_at"), period_rows)
            member_rows.clear(), income_rows.clear(), period_rows.clear()  # free them before the boards
            progress(f"members, incomes, amount history ({time.monotonic() - started:.0f} s)")

            # --- notice rounds: five years of closed boards, one open board per community ---------------
            batch_rows, entry_rows, objection_rows = [], [], []
            batch_id = entry_id = objection_id = 0

            def board(cid: int, opens: datetime, items: list[tuple], title: str) -> None:
                nonlocal batch_id, entry_id, objection_id
                batch_id += 1
                closes = opens + timedelta(days=7)
                fp = hashlib.sha256(f"{batch_id}".encode()).hexdigest()
                batch_rows.append((batch_id, f"b{batch_id:09d}", "community", cid, title, _naive(opens),
                                   _naive(closes), fp, _naive(opens)))
                for pos, (case_id, head, address, size, income, amount) in enumerate(items):
                    entry_id += 1
                    entry_rows.append((entry_id, f"e{entry_id:09d}", batch_id, case_id, pos, cid, head, address,
                                       f"{community_codes[cid]}社区", size, income, amount, 1, "approve",
                                       "经民主评议，同意纳入低保。", "社区工作人员", _naive(opens)))
                    if rng.random() < 0.02:
                        objection_id += 1
                        objection_rows.append((objection_id, f"T{objection_id:09d}", cid, "income_hidden",
                                               "反映该户有隐瞒收入的情况。", False, "decided", "not_upheld",
                                               (opens + timedelta(days=20)).date(), _naive(opens + timedelta(days=2)),
                                               entry_id, case_id))

            for (cid, year), items in approved_by_year.items():
                board(cid, datetime(year, 3, 1, 1, 0, tzinfo=UTC), items, f"{year}年低保社区初审公示")
            for cid, items in awaiting.items():
                if items:
                    board(cid, now - timedelta(days=2), items, "低保社区初审公示")
            copy("notice_batch", ("id", "public_id", "level", "region_id", "title", "opens_at", "closes_at",
                                  "fingerprint", "created_at"), batch_rows)
            copy("notice_entry", ("id", "public_id", "batch_id", "case_id", "position", "region_id", "head_name",
                                  "address", "public_address", "household_size", "household_income",
                                  "monthly_amount", "category", "opinion_decision", "opinion_text", "opinion_author",
                                  "opinion_at"), entry_rows)
            copy("objection", ("id", "tracking_code", "region_id", "category", "description", "real_name", "status",
                               "outcome", "deadline", "created_at", "entry_id", "case_id"), objection_rows)
            progress(f"notice rounds ({time.monotonic() - started:.0f} s)")
            for table in ("region", "dibao_case", "case_member", "member_income", "amount_period", "notice_batch",
                          "notice_entry", "objection"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - fixed names
                            f"(SELECT coalesce(max(id), 1) FROM {table}))")
        conn.commit()
        with engine.begin() as c:
            c.execute(text("ANALYZE"))
    finally:
        raw.close()
    return {"rows": counts, "seconds": round(time.monotonic() - started, 1)}


import click  # noqa: E402
from flask.cli import with_appcontext  # noqa: E402


@click.command("seed-scale")
@click.option("--households", type=int, default=10_000, show_default=True)
@click.option("--counties", type=int, default=16, show_default=True)
@click.option("--towns", type=int, default=12, show_default=True, help="per county")
@click.option("--communities", type=int, default=15, show_default=True, help="per town")
@click.option("--summaries/--no-summaries", default=True, show_default=True,
              help="fill the roster and statistics summaries after the build, as the sweep would in time")
@with_appcontext
def seed_scale_command(households: int, counties: int, towns: int, communities: int, summaries: bool) -> None:
    """Fill an empty, migrated PostgreSQL database with a province of HOUSEHOLDS households (COPY)."""
    from flask import current_app

    from dibao import db, roster_summary, stats_summary

    if current_app.config.get("ENV") == "production":
        raise click.ClickException("seed-scale refuses a production deployment")
    try:
        figures = build(db.engine(), households, counties=counties, towns=towns, communities=communities,
                        progress=click.echo)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"built in {figures['seconds']} s: " + ", ".join(f"{t} {n}" for t, n in figures["rows"].items()))
    if summaries:
        # COPY passes no flush hook: without this a deployment's first statistics pages would count the province
        # live (10.9 s at 1,000,000 households) until the sweep, a bounded number of regions a pass, caught up.
        session = db.session()
        for name, module in (("roster", roster_summary), ("statistics", stats_summary)):
            started = time.monotonic()
            done = module.refresh(session, everything=True)
            click.echo(f"{name} summary: {done.regions} regions in {time.monotonic() - started:.1f} s")
