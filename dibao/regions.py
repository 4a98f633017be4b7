"""Regions (行政区划): the county → town → community tree with stable codes."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import audit, scope
from dibao.errors import Conflict, Forbidden, NotFound, Problems, collect
from dibao.models import Level, Region, User
from dibao.models.region import CHILD_LEVEL
from dibao.text import clean_line

CODE_RE = re.compile(r"^[0-9A-Za-z]{2,32}$")
MAX_NAME = 100  # (Region.name)

LEVEL_LABELS = {
    Level.county: _l("县（区）"),
    Level.town: _l("乡镇（街道）"),
    Level.community: _l("社区（村）"),
}


def by_code(session: Session, code: str) -> Region:
    region = session.scalar(select(Region).where(Region.code == code))
    if region is None:
        raise NotFound(_l("没有找到该行政区划。"))
    return region


def _check_name(problems: Problems, name: str) -> None:
    """A region's name, already cleaned: required, and it fits its column."""
    if not name:
        problems.add("name", _l("请填写名称。"))
    elif len(name) > MAX_NAME:
        problems.add("name", _l("名称最多 %(n)d 个字。", n=MAX_NAME))


def create_region(
    session: Session, actor: User | None, *, code: str, name: str, parent: Region | None
) -> Region:
    """Add a region under ``parent`` (``None`` creates a county; only the command line may)."""
    scope.require_admin(actor, _l("只有系统管理员可以管理账号和行政区划。"))
    if actor is not None:
        if parent is None:
            raise Forbidden(_l("新的县（区）只能由运维人员在命令行创建。"))
        scope.require_in_scope(actor, parent)
    code = (code or "").strip()
    name = clean_line(name).strip()  # here, so the command line is cleaned like the admin form
    with collect() as problems:  # every problem at once, before anything is written
        if not code:
            problems.add("code", _l("请填写区划代码。"))
        elif not CODE_RE.match(code):
            problems.add("code", _l("区划代码只能由 2 到 32 位字母或数字组成。"))
        elif session.scalar(select(Region.id).where(Region.code == code)) is not None:
            problems.add_error(Conflict(_l("区划代码已被使用。"), field="code"))
        _check_name(problems, name)
        if parent is not None and parent.level not in CHILD_LEVEL:
            problems.add("parent_id", _l("社区（村）下面不能再设下级区划。"))
    level = Level.county if parent is None else CHILD_LEVEL[parent.level]
    path = (parent.path if parent is not None else "/") + code + "/"
    region = Region(code=code, name=name, level=level, parent=parent, path=path)
    session.add(region)
    session.flush()
    audit.record(session, actor, "region_created", "region", region.id, region_id=region.id,
                 details={"code": code, "name": name, "level": level.value},
                 actor_name=None if actor else "命令行")
    return region


def rename_region(session: Session, actor: User, region: Region, name: str) -> Region:
    scope.require_admin(actor, _l("只有系统管理员可以管理账号和行政区划。"))
    scope.require_in_scope(actor, region)
    name = clean_line(name).strip()
    with collect() as problems:
        _check_name(problems, name)
    if name != region.name:
        audit.record(session, actor, "region_renamed", "region", region.id, region_id=region.id,
                     details={"name": [region.name, name]})
        region.name = name
    return region


def tree(session: Session, root: Region) -> list[Region]:
    """The subtree under ``root`` in path order (parents before children)."""
    return list(session.scalars(select(Region).where(scope.subtree_condition(root)).order_by(Region.path)))
