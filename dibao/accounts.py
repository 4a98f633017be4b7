"""Staff accounts: passwords (argon2, strength estimated by zxcvbn), login throttled per account and per
client, server-side sessions, and user management within a region scope."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from dibao import audit, clock, scope
from dibao.errors import Conflict, Invalid, Problems, chosen, collect
from dibao.models import Level, LoginThrottle, Region, Role, StaffSession, User
from dibao.text import normalise_name

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both paths cost the same (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("not-a-password")

MIN_PASSWORD_LENGTH = 10
MIN_PASSWORD_SCORE = 3  # zxcvbn: 0 too guessable … 4 very unguessable; 3 resists an online attack for years
# What zxcvbn's English lists miss: passwords and pieces common in Chinese leaks (pinyin words, 520/1314
# love numbers), and this product's own words. zxcvbn treats them as a dictionary ranked by position.
COMMON_PASSWORD_WORDS = (
    "woaini", "5201314", "1314520", "woaini1314", "aini1314", "woaini520", "iloveyou", "qq123456", "a123456",
    "a123456789", "abc123456", "123456a", "123456789a", "1qaz2wsx", "qazwsxedc", "1q2w3e4r", "asdfghjkl",
    "zxcvbnm", "147258369", "789456123", "123654789", "11223344", "12344321", "31415926", "88888888",
    "66666666", "dearbook", "xiaoming", "zhang", "wang", "liu", "chen", "yang", "huang", "zhao", "zhou",
    "dibao", "yangguang", "yangguangdibao", "minzheng", "minzhengju", "shequ", "jiedao", "xiangzhen",
    "admin", "guanliyuan", "mima", "woshimima",
)
USERNAME_RE = re.compile(r"^[a-z0-9_.-]{3,64}$")
MAX_DISPLAY_NAME = 100  # (User.display_name)

# The lowest region level at which a role makes sense.
ROLE_LEVELS = {
    Role.community_staff: {Level.community},
    Role.town_reviewer: {Level.town},
    Role.county_approver: {Level.county},
    Role.admin: {Level.county, Level.town, Level.community},
    Role.supervisor: {Level.community},  # 群众监督组: one community (issue 11)
}

ROLE_LABELS = {
    Role.community_staff: _l("社区低保专干"),
    Role.town_reviewer: _l("乡镇（街道）审核人员"),
    Role.county_approver: _l("县民政局审批人员"),
    Role.admin: _l("系统管理员"),
    Role.supervisor: _l("群众监督组"),
}

ADMIN_ONLY = _l("只有系统管理员可以管理账号和行政区划。")
# One answer for an unknown name, a wrong password and a throttled attempt (same status, same words).
SESSION_RECORDS_KEPT = timedelta(days=90)  # ended sessions are kept this long (who was signed in when)
# Where the view keeps the token of the server-side staff session in the signed cookie.
SESSION_TOKEN_KEY = "staff_session"  # noqa: S105 - a key name, not a secret
LOGIN_REFUSED = _l("用户名或密码不正确，或者尝试太频繁。请核对后稍等片刻再试。")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str, *, username: str = "", display_name: str = "") -> None:
    """Length, and an estimate of how guessable it is (common passwords, keyboard runs, names and years)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(_l("密码至少需要 %(n)d 个字符。", n=MIN_PASSWORD_LENGTH), field="password")
    hints = [w for w in (username, display_name) if w] + list(COMMON_PASSWORD_WORDS)
    if zxcvbn(password[:100], user_inputs=hints)["score"] < MIN_PASSWORD_SCORE:
        raise Invalid(_l("这个密码太容易被猜到（常见密码、键盘顺序、姓名拼音加生日或年份等）。"
                         "请换一个更长、不常见的密码，例如几个不相关的词用符号连起来。"), field="password")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# --- login: throttling and server-side sessions ----------------------------------------------------------

@dataclass(frozen=True)
class ThrottlePolicy:
    """After ``free`` failures of one key, each further attempt must wait 2^k seconds (k = failures beyond the
    allowance), at most ``max_delay``; failures are forgotten ``forget_after`` the last one. A client gets a
    larger allowance than an account: an office shares one address."""

    account_free: int = 5
    client_free: int = 20
    max_delay: timedelta = timedelta(hours=1)
    forget_after: timedelta = timedelta(hours=24)

    def delay(self, failures: int, free: int) -> timedelta | None:
        if failures < free:
            return None
        return min(timedelta(seconds=2 ** min(failures - free, 24)), self.max_delay)


@dataclass(frozen=True)
class LoginAttempt:
    """The answer to a login: the user and the token of the new staff session, or the refusal (which never
    says which part was wrong). A refusal is not an error of the request: its failure counts and audit event
    are kept (committed) all the same."""

    user: User | None
    token: str | None = None
    refusal: str | None = None


def account_key(username: str) -> str:
    return f"account:{username.strip().lower()[:64]}"


def client_key(address: str | None) -> str:
    return f"client:{(address or 'unknown')[:100]}"


def _blocked(row: LoginThrottle | None, now: datetime, policy: ThrottlePolicy) -> bool:
    return row is not None and row.blocked_until is not None and row.blocked_until > now and \
        now - row.last_failure_at < policy.forget_after


def _count_failure(session: Session, key: str, row: LoginThrottle | None, now: datetime, free: int,
                   policy: ThrottlePolicy) -> int:
    if row is None:
        row = LoginThrottle(key=key, failures=0, last_failure_at=now)
        session.add(row)
    elif now - row.last_failure_at >= policy.forget_after:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    delay = policy.delay(row.failures, free)
    row.blocked_until = now + delay if delay else None
    return row.failures


def authenticate(session: Session, username: str, password: str, *, client: str | None,
                 lifetime: timedelta, policy: ThrottlePolicy | None = None,
                 trusted_user_ids: frozenset[int] = frozenset(),
                 refused_passwords: tuple[str, ...] = ()) -> LoginAttempt:
    """Check a login, throttled by account name and by client address.

    Every path runs the password hash exactly once, so an unknown name, a wrong password and a throttled
    attempt take the same time and get the same answer. ``trusted_user_ids``: accounts that signed in from
    this browser before (a signed device cookie); for them only the client is throttled, so a stranger
    guessing a clerk's password cannot keep the clerk out. A throttled attempt does not count as a failure.
    ``refused_passwords`` (production: the demo's published password) are refused even when they match, with
    the answer of a wrong password; the refusal is audited so that an admin sets a new one.
    """
    policy = policy or ThrottlePolicy()
    now = clock.now()
    name = username.strip().lower()[:64]
    user = session.scalar(select(User).where(User.username == name))
    keys = {client_key(client): policy.client_free}
    if user is None or user.id not in trusted_user_ids:
        keys[account_key(name)] = policy.account_free
    rows = {key: session.get(LoginThrottle, key) for key in keys}
    correct = _verify(user.password_hash if user is not None else _DUMMY_HASH, password) and user is not None
    refused = LoginAttempt(None, refusal=str(LOGIN_REFUSED))
    subject = {"region_id": user.region_id} if user is not None else {}
    if any(_blocked(row, now, policy) for row in rows.values()):
        audit.record(session, None, "login_throttled", "user", user.id if user else None,
                     details={"username": name, "client": client}, **subject)
        return refused
    if not correct or not user.active:
        failures = {key.split(":")[0]: _count_failure(session, key, rows[key], now, free, policy)
                    for key, free in keys.items()}
        if secrets.randbelow(50) == 0:  # now and then, forget the failures of names nobody tried for a day
            session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - policy.forget_after))
        action = "login_refused_inactive" if correct else "login_failed"
        audit.record(session, None, action, "user", user.id if user else None,
                     details={"username": name, "client": client, "failures": failures}, **subject)
        return refused
    if password in refused_passwords:
        audit.record(session, None, "login_refused_published_password", "user", user.id, region_id=user.region_id)
        return refused
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    if account_key(name) in keys:  # signed in past the account's throttle: its failures were the user's own
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(name)))
    user.last_login_at = now
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id,
                                               StaffSession.expires_at < now - SESSION_RECORDS_KEPT))
    token = secrets.token_urlsafe(32)
    record = StaffSession(token_hash=_token_hash(token), user_id=user.id, created_at=now, expires_at=now + lifetime)
    session.add(record)
    session.flush()
    audit.record(session, user, "login", "user", user.id, region_id=user.region_id,
                 details={"session": record.id, "client": client})
    return LoginAttempt(user, token=token)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _live_session(session: Session, token: str | None, now: datetime) -> StaffSession | None:
    if not token or len(token) > 100:
        return None
    record = session.scalar(select(StaffSession).where(StaffSession.token_hash == _token_hash(token)))
    if record is None or record.ended_at is not None or record.expires_at <= now:
        return None
    return record


def load_user(session: Session, user_id: str, token: str | None) -> User | None:
    """Flask-Login loader: ``<id>.<session_version>`` (a bumped version ends old sessions) and the token of a
    live staff session of that user (ended at logout, or past its absolute lifetime)."""
    try:
        raw_id, raw_version = user_id.split(".", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    record = _live_session(session, token, clock.now())
    if record is None or record.user_id != uid:
        return None
    user = session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def end_session(session: Session, user: User | None, token: str | None, reason: str) -> None:
    """Log out (or expire) one staff session on the server: every copy of its cookie stops working."""
    now = clock.now()
    record = _live_session(session, token, now)
    if record is None:
        return
    record.ended_at = now
    record.end_reason = reason
    audit.record(session, user, "logout" if reason == "logout" else "session_ended", "user", record.user_id,
                 region_id=user.region_id if user else None, details={"session": record.id, "reason": reason})


def _end_all_sessions(session: Session, user: User, reason: str) -> None:
    session.execute(update(StaffSession).where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
                    .values(ended_at=clock.now(), end_reason=reason))


def login_restricted_until(session: Session, users: list[User]) -> dict[int, datetime]:
    """The accounts whose logins are being delayed now, and until when (the user pages show it)."""
    now = clock.now()
    keys = {account_key(u.username): u.id for u in users}
    rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys), LoginThrottle.blocked_until > now))
    return {keys[row.key]: row.blocked_until for row in rows}


# --- management -------------------------------------------------------------------------------------

def _check_role_region(role: Role, region: Region) -> None:
    if region.level not in ROLE_LEVELS[role]:
        raise Invalid(_l("该角色不能设在这一级行政区划。"), field="region_id")


def _chosen_role_region(problems: Problems, role: Role | str | None,
                        region: Region | None) -> tuple[Role | None, Region | None]:
    """The role (a :class:`Role`, or its value as a form sends it) and the region, each required, and the role
    fitting the region's level; the problems go to ``problems``. ``region`` None: none chosen (or none the form
    offered)."""
    picked = chosen(Role, role)
    if picked is None:
        problems.add("role", _l("请选择角色。"))
    if region is None:
        problems.add("region_id", _l("请选择所属区划。"))
    if picked is not None and region is not None:
        problems.check(_check_role_region, picked, region)
    return picked, region


def _check_display_name(problems: Problems, display_name: str) -> None:
    """A staff member's name, already cleaned (:func:`normalise_name`): required, and it fits its column."""
    if not display_name:
        problems.add("display_name", _l("请填写姓名。"))
    elif len(display_name) > MAX_DISPLAY_NAME:
        problems.add("display_name", _l("姓名最多 %(n)d 个字。", n=MAX_DISPLAY_NAME))


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
    role: Role | str | None,
    region: Region | None,
) -> User:
    """Create a staff account. ``actor`` None is the command line (the operator of the machine). ``role`` may be
    the value a form sent; ``region`` None when none was chosen: both are checked with the other fields."""
    if actor is not None:
        scope.require_admin(actor, ADMIN_ONLY)
        if region is not None:
            scope.require_in_scope(actor, region)
    username = (username or "").strip().lower()
    display_name = normalise_name(display_name)  # here, so the command line is cleaned like the admin form
    with collect() as problems:  # every problem at once, before anything is written
        if not username:
            problems.add("username", _l("请填写用户名。"))
        elif not USERNAME_RE.match(username):
            problems.add("username", _l("用户名只能包含小写字母、数字、点、下划线和连字符，3 到 64 个字符。"))
        elif session.scalar(select(func.count()).select_from(User).where(User.username == username)):
            problems.add_error(Conflict(_l("用户名已被使用。"), field="username"))
        _check_display_name(problems, display_name)
        problems.check(check_password_strength, password or "", username=username, display_name=display_name)
        role, region = _chosen_role_region(problems, role, region)
    assert role is not None and region is not None  # (collect raised otherwise)
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(password),
        role=role,
        region=region,
        active=True,
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
    role: Role | str | None,
    region: Region | None,
    active: bool,
    new_password: str | None = None,
) -> User:
    """``role`` and ``region`` as for :func:`create_user`."""
    scope.require_admin(actor, ADMIN_ONLY)
    scope.require_in_scope(actor, user.region)
    if region is not None:
        scope.require_in_scope(actor, region)
    display_name = normalise_name(display_name)
    with collect() as problems:  # every problem at once, before anything is changed
        if user.id == actor.id and (not active or chosen(Role, role) not in (None, Role.admin)):
            problems.add("active" if not active else "role", _l("不能停用自己的账号或取消自己的管理员角色。"))
        _check_display_name(problems, display_name)
        role, region = _chosen_role_region(problems, role, region)
        if new_password:
            problems.check(check_password_strength, new_password, username=user.username, display_name=display_name)
    assert role is not None and region is not None  # (collect raised otherwise)
    changes: dict[str, object] = {}
    if user.display_name != display_name:
        changes["display_name"] = [user.display_name, display_name]
        user.display_name = display_name
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
        if not active:
            _end_all_sessions(session, user, "disabled")
    if new_password:
        user.password_hash = hash_password(new_password)
        user.session_version += 1
        session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(user.username)))
        _end_all_sessions(session, user, "password")
        changes["password"] = "changed"  # noqa: S105 - an audit note, not a secret
    if changes:
        session.flush()
        audit.record(session, actor, "user_updated", "user", user.id, region_id=user.region_id, details=changes)
    return user


def unlock_user(session: Session, actor: User, user: User) -> None:
    """Lift the delay on an account's logins (its failures are forgotten)."""
    scope.require_admin(actor, ADMIN_ONLY)
    scope.require_in_scope(actor, user.region)
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == account_key(user.username)))
    audit.record(session, actor, "user_unlocked", "user", user.id, region_id=user.region_id)
