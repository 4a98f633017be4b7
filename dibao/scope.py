"""Region scoping, as a rule of the domain: a user sees and changes only their region's subtree.

Views never filter by region themselves; they ask here. Objects outside the scope are reported as
not found (404) so that their existence is not revealed.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from dibao.errors import NotFound
from dibao.models import Region, User


def subtree_condition(root: Region) -> ColumnElement[bool]:
    return Region.path.startswith(root.path, autoescape=True)


def regions_in_scope(session: Session, user: User) -> list[Region]:
    stmt = select(Region).where(subtree_condition(user.region)).order_by(Region.path)
    return list(session.scalars(stmt))


def region_ids_in_scope(user: User) -> Select:
    """A subquery of the ids of every region in the user's subtree."""
    return select(Region.id).where(subtree_condition(user.region))


def can_see(user: User, region: Region) -> bool:
    return region.path.startswith(user.region.path)


def get_region(session: Session, user: User, region_id: int) -> Region:
    region = session.get(Region, region_id)
    if region is None or not can_see(user, region):
        raise NotFound(_l("没有找到该行政区划。"))
    return region


def require_in_scope(user: User, region: Region) -> None:
    if not can_see(user, region):
        raise NotFound(_l("没有找到该记录。"))
