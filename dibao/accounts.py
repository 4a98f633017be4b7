"""Staff accounts: passwords (argon2), login with lockout, and user management within a region scope."""

from __future__ import annotations

import re
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dibao import audit, clock, scope
from dibao.errors import Conflict, Invalid
from dibao.models import Level, Region, Role, User

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost the same (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("not-a-password")

MIN_PASSWORD_LENGTH = 10
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,64}$")

# The lowest region level at which a role makes sense.
ROLE_LEVELS = {
    Role.community_staff: {Level.community},
    Role.town_reviewer: {Level.town},
    Role.county_approver: {Level.county},
    Role.admin: {Level.county, Level.town, Level.community},
}

ROLE_LABELS = {
    Role.community_staff: _l("社区低保专干"),
    Role.town_reviewer: _l("乡镇（街道）审核人员"),
    Role.county_approver: _l("县民政局审批人员"),
    Role.admin: _l("系统管理员"),
}

ADMIN_ONLY = _l("只有系统管理员可以管理账号和行政区划。")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(_l("密码至少需要 %(n)d 个字符。", n=MIN_PASSWORD_LENGTH), field="password")


@dataclass(frozen=True)
class LoginAttempt:
    """The answer to a login: the user, or the refusal (which never says which part was wrong). A refusal is
    not an error of the request: its failure count and audit event are kept (committed) all the same."""

    user: User | None
    refusal: str | None = None
    locked: bool = False


def authenticate(session: Session, username: str, password: str, max_failures: int, lockout,
                 refused_passwords: tuple[str, ...] = ()) -> LoginAttempt:
    """Check a login. Counts failures; the ``max_failures``-th failure locks the account for ``lockout``.

    ``refused_passwords`` (production: the demo's published password) are refused even when they match,
    with the answer of a wrong password; the refusal is audited so that an admin sets a new one."""
    wrong = str(_l("用户名或密码不正确。"))
    locked = str(_l("连续输错密码次数过多，账号已锁定 15 分钟，请稍后再试。"))
    now = clock.now()
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        audit.record(session, None, "login_failed", "user", None, details={"username": username[:64]})
        return LoginAttempt(None, wrong)
    if user.locked_until is not None and user.locked_until > now:
        audit.record(session, None, "login_refused_locked", "user", user.id, region_id=user.region_id)
        return LoginAttempt(None, locked, locked=True)
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        details = {"failures": user.failed_logins}
        if user.failed_logins >= max_failures:
            user.locked_until = now + lockout
            user.failed_logins = 0
            details["locked_until"] = user.locked_until.isoformat()
            audit.record(session, None, "account_locked", "user", user.id, region_id=user.region_id,
                         details=details)
            return LoginAttempt(None, locked, locked=True)
        audit.record(session, None, "login_failed", "user", user.id, region_id=user.region_id, details=details)
        return LoginAttempt(None, wrong)
    if not user.active:
        audit.record(session, None, "login_refused_inactive", "user", user.id, region_id=user.region_id)
        return LoginAttempt(None, wrong)
    if password in refused_passwords:
        audit.record(session, None, "login_refused_published_password", "user", user.id, region_id=user.region_id)
        return LoginAttempt(None, wrong)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    audit.record(session, user, "login", "user", user.id, region_id=user.region_id)
    return LoginAttempt(user)


def load_user(session: Session, user_id: str) -> User | None:
    """Flask-Login loader: ``<id>.<session_version>``; a bumped version ends old sessions."""
    try:
        raw_id, raw_version = user_id.split(".", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    user = session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


# --- management -------------------------------------------------------------------------------------

def _check_role_region(role: Role, region: Region) -> None:
    if region.level not in ROLE_LEVELS[role]:
        raise Invalid(_l("该角色不能设在这一级行政区划。"), field="region_id")


def list_users(session: Session, actor: User) -> list[User]:
    stmt = (
        select(User)
        .join(User.region)
        .where(scope.subtree_condition(actor.region))
        .order_by(Region.path, User.username)
    )
    return list(session.scalars(stmt))


def get_user(session: Session, actor: User, user_id: int) -> User:
    return scope.get(session, actor, User, user_id, _l("没有找到该账号。"))


def create_user(
    session: Session,
    actor: User | None,
    *,
    username: str,
    display_name: str,
    password: str,
    role: Role,
    region: Region,
) -> User:
    """Create a staff account. ``actor`` None is the command line (the operator of the machine)."""
    if actor is not None:
        scope.require_admin(actor, ADMIN_ONLY)
        scope.require_in_scope(actor, region)
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise Invalid(_l("用户名只能包含小写字母、数字、点、下划线和连字符，3 到 64 个字符。"), field="username")
    if not display_name.strip():
        raise Invalid(_l("请填写姓名。"), field="display_name")
    check_password_strength(password)
    _check_role_region(role, region)
    if session.scalar(select(func.count()).select_from(User).where(User.username == username)):
        raise Conflict(_l("用户名已被使用。"), field="username")
    user = User(
        username=username,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        region=region,
        active=True,
        failed_logins=0,
        session_version=1,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user_created", "user", user.id, region_id=region.id,
                 details={"username": username, "role": role.value, "region": region.code},
                 actor_name=None if actor else "命令行")
    return user


def update_user(
    session: Session,
    actor: User,
    user: User,
    *,
    display_name: str,
    role: Role,
    region: Region,
    active: bool,
    new_password: str | None = None,
) -> User:
    scope.require_admin(actor, ADMIN_ONLY)
    scope.require_in_scope(actor, user.region)
    scope.require_in_scope(actor, region)
    if user.id == actor.id and (not active or role != Role.admin):
        raise Invalid(_l("不能停用自己的账号或取消自己的管理员角色。"))
    if not display_name.strip():
        raise Invalid(_l("请填写姓名。"), field="display_name")
    _check_role_region(role, region)
    changes: dict[str, object] = {}
    if user.display_name != display_name.strip():
        changes["display_name"] = [user.display_name, display_name.strip()]
        user.display_name = display_name.strip()
    if user.role != role:
        changes["role"] = [user.role.value, role.value]
        user.role = role
    if user.region_id != region.id:
        changes["region"] = [user.region.code, region.code]
        user.region = region
    if user.active != active:
        changes["active"] = [user.active, active]
        user.active = active
        user.session_version += 1
    if new_password:
        check_password_strength(new_password)
        user.password_hash = hash_password(new_password)
        user.session_version += 1
        user.locked_until = None
        user.failed_logins = 0
        changes["password"] = "changed"  # noqa: S105 - an audit note, not a secret
    if changes:
        session.flush()
        audit.record(session, actor, "user_updated", "user", user.id, region_id=user.region_id, details=changes)
    return user


def unlock_user(session: Session, actor: User, user: User) -> None:
    scope.require_admin(actor, ADMIN_ONLY)
    scope.require_in_scope(actor, user.region)
    user.locked_until = None
    user.failed_logins = 0
    audit.record(session, actor, "user_unlocked", "user", user.id, region_id=user.region_id)
