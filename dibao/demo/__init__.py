"""``dibao seed-demo``: a realistic, deterministic demo county (Faker zh_CN, fixed seed), safe to run twice.

The steps live beside this module (cases, notices, feedback, kiosks); ``people`` makes valid demo ID and
phone numbers. Nothing here is imported by the running app except the command.

Everything is found by its stable code or username before it is created, so a second run adds nothing.

The demo's accounts share a published password, so it never goes into a database with real data in it (a
region outside the demo county, an account or a household the demo did not make), and not at all under
``DIBAO_ENV=production`` (which also refuses that password at login).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import accounts, db, regions
from dibao.config import DEMO_PASSWORD
from dibao.errors import Conflict
from dibao.models import Case, Region, Role, User

COUNTY = ("341399", "阳光县")
TOWNS = [
    ("341399001", "城关镇", ["东关社区", "西关社区", "南街社区", "北苑社区"]),
    ("341399002", "东城街道", ["光明社区", "幸福里社区", "和平社区", "新华社区"]),
    ("341399101", "西河镇", ["西河社区", "杨柳村", "桥头村"]),
    ("341399102", "南山乡", ["南山村", "石门村", "枫林村"]),
]


# The demo households' ID numbers are made up under this (unassigned) place code (people.id_number).
DEMO_PLACE = COUNTY[0]


def demo_codes() -> set[str]:
    codes = {COUNTY[0]}
    for t_code, _name, communities in TOWNS:
        codes.add(t_code)
        codes.update(f"{t_code}{c_index:03d}" for c_index in range(1, len(communities) + 1))
    return codes


def demo_usernames() -> set[str]:
    names = {"admin", "county", "jiandu101"}  # jiandu101: a supervision group (issue 11, dibao/demo/payments.py)
    for t_index, (_code, _name, communities) in enumerate(TOWNS, start=1):
        names.add(f"town{t_index}")
        names.update(f"staff{t_index}{c_index:02d}" for c_index in range(1, len(communities) + 1))
    return names


def real_data(session: Session) -> list[str]:
    """What in this database the demo did not make (a few examples of each kind); empty for a fresh database
    or one that holds only the demo county."""
    found = []
    codes = session.scalars(select(Region.code).where(Region.code.not_in(demo_codes())).order_by(Region.code)
                            .limit(3)).all()
    if codes:
        found.append(str(_l("行政区划 %(codes)s", codes="、".join(codes))))
    users = session.scalars(select(User.username).where(User.username.not_in(demo_usernames()))
                            .order_by(User.username).limit(3)).all()
    if users:
        found.append(str(_l("账号 %(names)s", names="、".join(users))))
    # Compared in Python, not in SQL: the column may be encrypted at rest.
    numbers = []
    for number, id_number in session.execute(select(Case.number, Case.head_id_number).order_by(Case.id)).yield_per(500):
        if not (id_number or "").startswith(DEMO_PLACE):
            numbers.append(number)
            if len(numbers) == 3:
                break
    if numbers:
        found.append(str(_l("低保案件 %(numbers)s", numbers="、".join(numbers))))
    return found


def refuse_real_data(session: Session, *, production: bool) -> None:
    """The demo's published password must never reach real accounts' neighbours: refuse, changing nothing."""
    if production:
        raise Conflict(_l("这是生产环境（DIBAO_ENV=production）：演示数据和演示账号（密码公开）不能装入。"))
    found = real_data(session)
    if found:
        raise Conflict(_l("数据库里已有不属于演示县的真实数据（%(found)s），演示数据和演示账号（密码公开）不能装入。"
                          "请换一个空数据库再运行 seed-demo。没有改动任何数据。", found="；".join(found)))


@dataclass
class DemoResult:
    county: Region
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role label, region)
    created: int = 0


def _region(session: Session, code: str, name: str, parent: Region | None, result: DemoResult) -> Region:
    existing = session.scalar(select(Region).where(Region.code == code))
    if existing is not None:
        return existing
    result.created += 1
    return regions.create_region(session, None, code=code, name=name, parent=parent)


def _user(session: Session, username: str, name: str, role: Role, region: Region, result: DemoResult) -> User:
    existing = session.scalar(select(User).where(User.username == username))
    if existing is None:
        result.created += 1
        existing = accounts.create_user(session, None, username=username, display_name=name,
                                        password=DEMO_PASSWORD, role=role, region=region)
    result.logins.append((username, str(accounts.ROLE_LABELS[role]), region.name))
    return existing


def seed_demo(session: Session, seed: int = 2026, *, production: bool = False) -> DemoResult:
    refuse_real_data(session, production=production)
    from faker import Faker  # here, not at the top: every web worker loads this module for the CLI (~5 MB)

    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    rng = random.Random(seed)  # noqa: F841 - later steps draw from it in a fixed order

    result = DemoResult(county=None)  # type: ignore[arg-type]
    county = result.county = _region(session, COUNTY[0], COUNTY[1], None, result)
    _user(session, "admin", fake.name(), Role.admin, county, result)
    _user(session, "county", fake.name(), Role.county_approver, county, result)
    for t_index, (t_code, t_name, communities) in enumerate(TOWNS, start=1):
        town = _region(session, t_code, t_name, county, result)
        _user(session, f"town{t_index}", fake.name(), Role.town_reviewer, town, result)
        for c_index, c_name in enumerate(communities, start=1):
            community = _region(session, f"{t_code}{c_index:03d}", c_name, town, result)
            _user(session, f"staff{t_index}{c_index:02d}", fake.name(), Role.community_staff, community, result)
    session.flush()
    # Later steps, each safe to run twice, in a fixed order (they draw from the same random sources).
    from dibao.demo import cases, feedback, kiosks, notices

    result.created += cases.seed_cases(session, fake, rng, county)
    result.created += notices.seed_notices(session, county, seed)
    result.created += feedback.seed_feedback(session, county, seed)
    result.created += kiosks.seed_kiosks(session, county)
    from dibao.demo import residents

    result.created += residents.seed_residents(session, county, seed)  # issue 14
    from dibao.demo import household

    result.created += household.seed_household(session, county, seed)  # issue 10: assets, panels, 文书, a transfer
    from dibao.demo import management

    result.created += management.seed_management(session, county)  # issue 10: reviews, contacts, 提标
    from dibao.demo import payments

    result.created += payments.seed_payments(session, county, seed)  # issue 11
    return result


@click.command("seed-demo")
@with_appcontext
@click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed gives the same county.")
def seed_demo_command(seed: int) -> None:
    """Build the demo county (regions, staff at every level). Safe to run twice; refuses a database with real
    data in it, and refuses outright under DIBAO_ENV=production."""
    session = db.session()
    try:
        result = seed_demo(session, seed, production=current_app.config["ENV"] == "production")
    except Conflict as err:
        session.rollback()
        click.echo(str(err.message), err=True)
        raise SystemExit(1) from None
    session.commit()
    click.echo(f"demo county {result.county.name} ({result.county.code}): {result.created} new records")
    click.echo(f"demo logins (password for all: {DEMO_PASSWORD}) at /admin/login:")
    for username, role, region in result.logins:
        click.echo(f"  {username:<10} {role} · {region}")
