"""Region scoping and roles, as rules of the domain: a user sees and changes only their region's subtree.

Views never filter by region themselves; they ask here. Objects outside the scope are reported as
not found (404) so that their existence is not revealed. :func:`get` is the one way to load a staff-side
object by id; :func:`require_admin` the one check for the system admin's screens.
"""

from __future__ import annotations

from typing import Any, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from dibao import db
from dibao.errors import Forbidden, NotFound
from dibao.models import Region, Role, User

T = TypeVar("T")


def subtree_condition(root: Region) -> ColumnElement[bool]:
    return Region.path.startswith(root.path, autoescape=True)


def regions_in_scope(session: Session, user: User) -> list[Region]:
    stmt = select(Region).where(subtree_condition(user.region)).order_by(Region.path)
    return list(session.scalars(stmt))


def region_ids_in_scope(user: User) -> Select:
    """A subquery of the ids of every region in the user's subtree."""
    return select(Region.id).where(subtree_condition(user.region))


# The supervision group (群众监督组) watches its community's payments and does no casework: its account opens
# nothing else of the backend (admin.payments.may_open) and handles no objection or report (dibao.feedback).
CASEWORK_ROLES = frozenset(Role) - {Role.supervisor}


def does_casework(user: Any) -> bool:
    """Whether ``user``'s role works on cases, notices, objections and reports (every role but the supervision
    group's)."""
    return getattr(user, "role", None) in CASEWORK_ROLES


def watches_payments_only(user: Any) -> bool:
    """Whether ``user`` is a supervision group's account, which opens its community's payments and nothing else."""
    role = getattr(user, "role", None)
    return role is not None and role not in CASEWORK_ROLES


def can_see(user: User, region: Region) -> bool:
    return region.path.startswith(user.region.path)


def region_of(obj: Any) -> Region:
    """The region an object belongs to: a region itself, or its ``region`` (a household's community, a kiosk's
    community, a user's region …)."""
    return obj if isinstance(obj, Region) else obj.region


def get(session: Session, user: User, model: type[T], ident: int | None, message=None) -> T:
    """The object of ``model`` with primary key ``ident`` if it lies in the user's scope; NotFound otherwise
    (also for ids no database can hold)."""
    obj = db.get_record(session, model, ident)
    if obj is None or not can_see(user, region_of(obj)):
        raise NotFound(message or _l("没有找到该记录。"))
    return obj


def get_region(session: Session, user: User, region_id: int) -> Region:
    return get(session, user, Region, region_id, _l("没有找到该行政区划。"))


def require_in_scope(user: User, region: Region) -> None:
    if not can_see(user, region):
        raise NotFound(_l("没有找到该记录。"))


def require_admin(actor: User | None, message) -> None:
    """The system admin's work (accounts, regions, standards, kiosks). ``None`` is the command line, whose
    operator runs the machine."""
    if actor is not None and actor.role != Role.admin:
        raise Forbidden(message)


def county_of(region: Region) -> Region:
    """The county at the top of a region's chain: the owner of county-wide settings (disclosure, content)."""
    while region.parent is not None:
        region = region.parent
    return region


def owns_county_settings(actor: User | None, county: Region) -> bool:
    """A county's settings (its disclosure policy, its content pages) are changed only by an admin whose scope
    is that whole county; town and community admins read them."""
    return actor is not None and actor.role == Role.admin and actor.region_id == county.id


def require_county_settings_owner(actor: User | None, county: Region, message) -> None:
    """Another county's settings do not exist for the actor (404); their own county's they may only read
    unless they own them (403)."""
    if actor is not None and county_of(actor.region).id != county.id:
        raise NotFound(_l("没有找到该记录。"))
    if not owns_county_settings(actor, county):
        raise Forbidden(message)
