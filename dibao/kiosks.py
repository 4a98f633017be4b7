"""Community kiosks (公示终端): the registry, their polls, and the pages a kiosk rotates through.

A kiosk is a screen in a community hall that opens ``/kiosk/<token>``. Its token opens that display and
nothing else. Every poll records ``last_seen_at`` with one cheap UPDATE (no audit event: polls are not
state changes); the admin sees a kiosk offline once it has missed three polls.

The display rotates through *slides*: pages of :data:`PAGE_SIZE` open entries of the kiosk's community, in
board order (:func:`dibao.notices.open_entries`), or, when nothing is open, the policy, the procedure and the
standard. Each slide has an ETag computed from what it shows (without rendering it), so an unchanged poll
is answered 304 cheaply; the time left ("还剩 6 天 23 小时", on the last day "还剩 34 分钟") is part of what a slide
shows, so the ETag changes when its words do.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from dibao import audit, cache, clock, content, disclosure, entitlement, i18n, notices, qr, scope, workflow
from dibao.errors import Conflict, NotFound, Problems, collect
from dibao.models import Decision, Level, NoticeEntry, Region, User
from dibao.models.kiosk import Kiosk

PAGE_SIZE = 2  # entries per page: two cards, side by side (landscape) or stacked (portrait), fit every entry's
# full text at the kiosk's type (≥ 24 px) on a 1366×768 panel as on 1920×1080 and 1080×1920; four did not
ROTATION_MIN = 5
ROTATION_MAX = 600
ROTATION_DEFAULT = 20
MISSED_POLLS_OFFLINE = 3
HEALTH_WRITE_SECONDS = 60  # a kiosk's last poll is written at most once a minute (issue 13): the status allows it
TOKEN_BYTES = 24  # 32 URL-safe characters
TOKEN_MAX_LENGTH = 64

ADMIN_ONLY = _l("只有系统管理员可以登记和停用公示终端。")


class Status(enum.StrEnum):
    online = "online"
    offline = "offline"
    never = "never"  # registered, never polled yet
    revoked = "revoked"


STATUS_LABELS = {
    Status.online: _l("在线"),
    Status.offline: _l("离线"),
    Status.never: _l("从未连接"),
    Status.revoked: _l("已停用"),
}


# --- the registry ------------------------------------------------------------------------------------

def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def _check_settings(problems: Problems, name: str, rotation_seconds: int | None) -> str:
    """A kiosk's name and page time: their problems go to ``problems``; the name as cleaned."""
    name = (name or "").strip()
    if not name:
        problems.add("name", _l("请填写终端名称。"))
    elif len(name) > 100:
        problems.add("name", _l("终端名称不能超过100个字。"))
    if rotation_seconds is None:
        problems.add("rotation_seconds", _l("请填写翻页间隔。"))
    elif not ROTATION_MIN <= rotation_seconds <= ROTATION_MAX:
        problems.add("rotation_seconds", _l("翻页间隔应在%(low)d到%(high)d秒之间。", low=ROTATION_MIN,
                                            high=ROTATION_MAX))
    return name


def register(session: Session, actor: User | None, *, name: str, region: Region | None,
             rotation_seconds: int | None = ROTATION_DEFAULT) -> Kiosk:
    """Register a kiosk for a community; its display URL is ``/kiosk/<token>``. ``region`` None: none chosen
    (said with the other problems)."""
    scope.require_admin(actor, ADMIN_ONLY)
    if actor is not None and region is not None:
        scope.require_in_scope(actor, region)
    with collect() as problems:  # every problem at once
        name = _check_settings(problems, name, rotation_seconds)
        if region is None:
            problems.add("region_id", _l("请选择社区。"))
        elif region.level != Level.community:
            problems.add("region_id", _l("公示终端只能登记到社区（村）。"))
    assert region is not None and rotation_seconds is not None  # (collect raised otherwise)
    now = clock.now()
    kiosk = Kiosk(name=name, region=region, rotation_seconds=rotation_seconds, token=new_token(),
                  created_at=now, created_by_id=actor.id if actor else None, polls=0)
    session.add(kiosk)
    session.flush()
    audit.record(session, actor, "kiosk_registered", "kiosk", kiosk.id, region_id=region.id,
                 details={"name": name, "region": region.code, "rotation_seconds": rotation_seconds})
    return kiosk


def update_settings(session: Session, actor: User | None, kiosk: Kiosk, *, name: str,
                    rotation_seconds: int | None) -> Kiosk:
    scope.require_admin(actor, ADMIN_ONLY)
    if kiosk.revoked:
        raise Conflict(_l("该终端已停用。"))
    with collect() as problems:  # every problem at once
        name = _check_settings(problems, name, rotation_seconds)
    before = {"name": kiosk.name, "rotation_seconds": kiosk.rotation_seconds}
    kiosk.name, kiosk.rotation_seconds = name, rotation_seconds
    audit.record(session, actor, "kiosk_updated", "kiosk", kiosk.id, region_id=kiosk.region_id,
                 details={"before": before, "after": {"name": name, "rotation_seconds": rotation_seconds}})
    return kiosk


def revoke(session: Session, actor: User | None, kiosk: Kiosk) -> Kiosk:
    """Stop a kiosk: its URL shows the neutral "not registered" screen from its next poll on."""
    scope.require_admin(actor, ADMIN_ONLY)
    if kiosk.revoked:
        raise Conflict(_l("该终端已经停用。"))
    kiosk.revoked_at = clock.now()
    kiosk.revoked_by_id = actor.id if actor else None
    audit.record(session, actor, "kiosk_revoked", "kiosk", kiosk.id, region_id=kiosk.region_id,
                 details={"name": kiosk.name})
    return kiosk


def rotate_token(session: Session, actor: User | None, kiosk: Kiosk) -> Kiosk:
    """Give a kiosk a new token (when its URL leaked): the old URL stops working at once."""
    scope.require_admin(actor, ADMIN_ONLY)
    if kiosk.revoked:
        raise Conflict(_l("该终端已停用，不能更换地址。"))
    kiosk.token = new_token()
    kiosk.token_rotated_at = clock.now()
    audit.record(session, actor, "kiosk_token_rotated", "kiosk", kiosk.id, region_id=kiosk.region_id,
                 details={"name": kiosk.name})
    return kiosk


def get(session: Session, actor: User, kiosk_id: int) -> Kiosk:
    return scope.get(session, actor, Kiosk, kiosk_id, _l("没有找到该终端。"))


def list_kiosks(session: Session, actor: User | None, *, include_revoked: bool = True) -> list[Kiosk]:
    """Kiosks in the actor's region subtree (all of them for ``None``: the CLI), by community then name."""
    stmt = select(Kiosk).join(Kiosk.region).order_by(Region.path, Kiosk.name, Kiosk.id)
    if actor is not None:
        stmt = stmt.where(scope.subtree_condition(actor.region))
    if not include_revoked:
        stmt = stmt.where(Kiosk.revoked_at.is_(None))
    return list(session.scalars(stmt))


def display_url(public_url: str, kiosk: Kiosk) -> str:
    return f"{public_url.rstrip('/')}/kiosk/{kiosk.token}"


# --- polls and status --------------------------------------------------------------------------------

def _plausible_token(token: str) -> bool:
    return 0 < len(token) <= TOKEN_MAX_LENGTH and all(c.isascii() and (c.isalnum() or c in "-_") for c in token)


def record_poll(session: Session, token: str, *, ip: str | None = None, at: datetime | None = None,
                polls: int = 1, unless_seen_within: timedelta | None = None) -> bool:
    """Note that the kiosk with ``token`` polled (``polls`` times): one UPDATE by the unique token, no audit event.

    Returns False for an unknown or revoked token (or, with ``unless_seen_within``, one already recorded that
    recently: several workers then write a kiosk's health at most once in that time). The UPDATE is the
    transaction's first statement, so on SQLite it takes the write lock (waiting on the busy timeout) before any
    read snapshot exists.
    """
    if not _plausible_token(token):
        return False
    at = at or clock.now()
    table = Kiosk.__table__  # a Core UPDATE: no ORM bookkeeping on the hottest path of the app
    stmt = update(table).where(table.c.token == token, table.c.revoked_at.is_(None))
    if unless_seen_within is not None:
        stmt = stmt.where((table.c.last_seen_at.is_(None)) | (table.c.last_seen_at <= at - unless_seen_within))
    result = session.execute(
        stmt.values(last_seen_at=at, last_seen_ip=(ip or None) and ip[:45], polls=table.c.polls + polls)
    )
    return result.rowcount == 1


def by_token(session: Session, token: str) -> Kiosk:
    """The active kiosk with ``token``; NotFound (the neutral screen) for an unknown or revoked token."""
    kiosk = None
    if _plausible_token(token):
        kiosk = session.scalar(select(Kiosk).where(Kiosk.token == token, Kiosk.revoked_at.is_(None)))
    if kiosk is None:
        raise NotFound(_l("本终端尚未登记。"))
    return kiosk


def status(kiosk: Kiosk, at: datetime | None = None) -> Status:
    """Online while the last poll is at most three rotation intervals old (offline after 3 missed polls)."""
    if kiosk.revoked:
        return Status.revoked
    if kiosk.last_seen_at is None:
        return Status.never
    at = at or clock.now()
    if at - kiosk.last_seen_at > timedelta(seconds=MISSED_POLLS_OFFLINE * kiosk.rotation_seconds
                                           + HEALTH_WRITE_SECONDS):
        return Status.offline
    return Status.online


# --- what a kiosk shows ------------------------------------------------------------------------------

@dataclass(frozen=True)
class EntryView:
    public_id: str
    fields: dict[str, Any]  # dibao.disclosure.present(entry, Channel.kiosk): only what the kiosk may show
    level: Level
    level_label: str
    batch_title: str
    opens_at: datetime
    closes_at: datetime
    time_left: str  # "还剩 6 天 23 小时" … "还剩 34 分钟": notices.time_left, the portal's words
    decision_label: str | None
    qr_target: str
    last_day: bool = False  # less than a day left: shown with a frame

    @property
    def closes_at_iso(self) -> str:
        """The closing instant for the page's own expiry check (ISO 8601, UTC)."""
        return self.closes_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(eq=False)
class Slide:
    """One slide of a rotation. Its ETag is computed from the entries' ids, batch fingerprints (which cover
    every published value), closing instants and days left, the disclosure policy and the kiosk settings —
    without building what is shown, so an unchanged poll costs no rendering. ``entries`` (what a template
    shows) is built on first use."""

    kind: str  # "entries" | "policy" | "procedure" | "standard"
    index: int
    total: int
    open_count: int
    data: dict[str, Any]
    etag: str
    raw: tuple[NoticeEntry, ...] = ()
    at: datetime | None = None
    public_url: str = ""
    policy: disclosure.Policy | None = None
    ticker: tuple[str, ...] = ()  # 滚动字幕: the lines of today's announcements (issue 14)

    @property
    def next_index(self) -> int:
        return (self.index + 1) % self.total

    @cached_property
    def entries(self) -> tuple[EntryView, ...]:
        assert self.at is not None and self.policy is not None or not self.raw
        return tuple(entry_view(e, self.at, self.public_url, self.policy) for e in self.raw)


# notices.time_left's three phrasings, each said of a time left whose numbers stand out: static/js/kiosk.js puts
# the real numbers where these are, so the page counts down between polls (and offline) in the very same words.
COUNTDOWN_SAMPLES = {
    "dh": (timedelta(days=1001, hours=23), {"days": "1001", "hours": "23"}),
    "hm": (timedelta(hours=22, minutes=59), {"hours": "22", "minutes": "59"}),
    "m": (timedelta(minutes=58), {"minutes": "58"}),
}


def countdown_words(at: datetime) -> dict[str, dict[str, str]]:
    """{"dh": {"text": "还剩 1001 天 23 小时", "days": "1001", "hours": "23"}, "hm": …, "m": …}"""
    return {kind: {"text": notices.time_left(at + delta, at), **marks}
            for kind, (delta, marks) in COUNTDOWN_SAMPLES.items()}


def time_left_bucket(closes_at: datetime, at: datetime) -> tuple:
    """What the slide says of the time left, as a value that changes exactly when the words do (the slide's ETag
    takes it in): the words are notices.time_left's, as on the portal — never rounded up."""
    return cache.left_bucket(closes_at, at)


def policy(session: Session, region: Region) -> disclosure.Policy:
    """The disclosure policy of the kiosk's county (its rows override DESIGN.md's defaults)."""
    return disclosure.load_policy(session, region)


def entry_view(entry: NoticeEntry, at: datetime, public_url: str, pol: disclosure.Policy) -> EntryView:
    fields = disclosure.present(entry, disclosure.Channel.kiosk, pol)
    decision = fields.get("opinion_decision")
    batch = entry.batch
    return EntryView(
        public_id=entry.public_id, fields=fields, level=batch.level,
        level_label=str(notices.ROUND_LABELS[batch.level]), batch_title=batch.title,
        opens_at=batch.opens_at, closes_at=batch.closes_at, time_left=notices.time_left(batch.closes_at, at),
        decision_label=str(workflow.DECISION_LABELS[Decision(decision)]) if decision else None,
        qr_target=qr.entry_target(public_url, entry.public_id), last_day=batch.closes_at - at < timedelta(days=1),
    )


def info_slides(session: Session, region: Region, at: datetime,
                levels: tuple[Level, ...] = tuple(Level)) -> list[tuple[str, dict[str, Any]]]:
    """What a kiosk shows when nothing is open: the policy (the admin's page, or the built-in text), the
    procedure (the seed's nine steps, without the notice rounds this deployment does not use) and the
    standard in force, when one is recorded."""
    page = content.get_page(session, "policy", region)
    paragraphs = [" ".join(lines) for kind, lines in page.blocks() if kind == "p"][:2]
    slides: list[tuple[str, dict[str, Any]]] = [
        ("policy", {"title": page.title, "paragraphs": [_excerpt(p) for p in paragraphs]}),
        ("procedure", {"steps": procedure_steps(levels)}),
    ]
    standard = entitlement.find_standard(session, region, clock.to_local(at).date())
    if standard is not None:
        slides.append(("standard", {"amount": f"{Decimal(standard.monthly_amount):.2f}",
                                    "effective_from": standard.effective_from.isoformat(),
                                    "region": standard.region.name, "note": standard.note or ""}))
    return slides


def procedure_steps(levels: tuple[Level, ...] = tuple(Level)) -> list[str]:
    """The seed's nine steps (dibao.content), without the notice rounds this deployment does not use."""
    return [str(step["title"]) for step in content.steps(levels) if step["used"]]


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slide(session: Session, kiosk: Kiosk, index: int, *, public_url: str, at: datetime | None = None,
          levels: tuple[Level, ...] = tuple(Level)) -> Slide:
    """Slide ``index`` of the kiosk's rotation (wrapping around when the rotation has become shorter)."""
    at = at or clock.now()
    entries = notices.open_entries(session, kiosk.region, at)
    pol = policy(session, kiosk.region)
    extras = extra_slides(session, kiosk.region, at, pol)  # announcements, the roster, fund totals (issue 14)
    if entries:
        pages = math.ceil(len(entries) / PAGE_SIZE)
        total = pages + len(extras)
        index = index % total if index >= 0 else 0
        if index < pages:
            raw = tuple(entries[index * PAGE_SIZE:(index + 1) * PAGE_SIZE])
            kind, data = "entries", {}
        else:
            (kind, data), raw = extras[index - pages], ()
    else:
        infos = info_slides(session, kiosk.region, at, levels) + extras
        total = len(infos)
        index = index % total if index >= 0 else 0
        kind, data = infos[index]
        raw = ()
    ticker = tuple(ticker_lines(session, kiosk.region, at))
    content = {
        "kiosk": [kiosk.id, kiosk.token, kiosk.name, kiosk.rotation_seconds, kiosk.region.name, kiosk.region.code],
        "slide": [kind, index, total, len(entries), clock.to_local(at).date().isoformat()],
        "entries": [[e.public_id, e.batch.fingerprint, e.batch.closes_at.isoformat(),
                     time_left_bucket(e.batch.closes_at, at),
                     notices.shown_photo_key(e)] for e in raw],
        "ticker": ticker,
        "policy": disclosure.policy_version(pol),
        "public_url": public_url,
        "data": data,
    }
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, default=str, separators=(",", ":"))
    etag = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return Slide(kind=kind, index=index, total=total, open_count=len(entries), data=data, etag=etag, raw=raw,
                 at=at, public_url=public_url, policy=pol, ticker=ticker)


def open_entry(session: Session, kiosk: Kiosk, entry_public_id: str, at: datetime | None = None) -> NoticeEntry:
    """An entry open now in the kiosk's community (for its photo); NotFound otherwise."""
    at = at or clock.now()
    for entry in notices.open_entries(session, kiosk.region, at):
        if entry.public_id == entry_public_id:
            return entry
    raise NotFound(_l("该公示已结束或不存在。"))


# --- more to show: announcements, the standing roster, fund totals (issue 14) --------------------------------

ROSTER_PAGE_SIZE = 4  # rows of the standing roster per slide: what fits at the kiosk's type (≥ 24 px) on 1366×768
FUND_MONTHS = 6


def announcement_slides(session: Session, region: Region, at: datetime) -> list[tuple[str, dict[str, Any]]]:
    """One slide per announcement shown today in the community (its own, its town's, its county's)."""
    from dibao import announcements

    slides = []
    for item in announcements.current(session, region, today=clock.to_local(at).date(), below=False):
        slides.append(("announcement", {
            "public_id": item.public_id, "title": item.title, "region": item.region.name,
            "paragraphs": [_excerpt(p, 200) for p in announcements.paragraphs(item)[:3]],
            "picture": bool(item.picture_key), "ends_on": item.ends_on.isoformat() if item.ends_on else None,
        }))
    return slides


def ticker_lines(session: Session, region: Region, at: datetime) -> list[str]:
    from dibao import announcements

    return announcements.ticker(session, region, today=clock.to_local(at).date())


def roster_slides(session: Session, region: Region, pol: disclosure.Policy) -> list[tuple[str, dict[str, Any]]]:
    """The standing roster (在保名单, 公布 without an end date) in pages, as the kiosk's disclosure allows."""
    cases = notices.roster(session, region)
    if not cases:
        return []
    lines = [disclosure.present_roster(case, disclosure.Channel.kiosk, pol) for case in cases]
    pages = math.ceil(len(lines) / ROSTER_PAGE_SIZE)
    shown, _money = disclosure.totals_shown(pol, disclosure.Channel.kiosk)
    persons = sum(case.household_size for case in cases) if shown else None
    return [("roster", {"rows": lines[i * ROSTER_PAGE_SIZE:(i + 1) * ROSTER_PAGE_SIZE], "page": i + 1,
                        "pages": pages, "households": len(cases), "persons": persons}) for i in range(pages)]


def funds_totals(session: Session, region: Region) -> list[dict[str, Any]]:
    """The contract with the payments module (issue 11), wired when it exists: ``dibao.payments.funds_totals(
    session, region) -> list`` of the community's published monthly totals, newest first, each a dict with
    ``month`` (a date, the first of the month), ``households``, ``persons`` and ``amount`` (Decimal yuan);
    small counts already suppressed by it. No payments module, or nothing published: no slide."""
    import importlib

    try:
        payments = importlib.import_module("dibao.payments")
    except ImportError:
        return []
    provider = getattr(payments, "funds_totals", None)
    return list(provider(session, region)) if provider is not None else []


def funds_slides(session: Session, region: Region, pol: disclosure.Policy) -> list[tuple[str, dict[str, Any]]]:
    """The community's paid months; persons and money as the kiosk's disclosure allows (``totals_shown``)."""
    totals = funds_totals(session, region)[:FUND_MONTHS]
    if not totals:
        return []
    persons, money = disclosure.totals_shown(pol, disclosure.Channel.kiosk)
    rows = [{"month": t["month"].isoformat(), "households": int(t["households"]),
             "persons": int(t["persons"]) if persons else None,
             "amount": f"{Decimal(t['amount']):.2f}" if money else None} for t in totals]
    return [("funds", {"rows": rows})]


def extra_slides(session: Session, region: Region, at: datetime,
                 pol: disclosure.Policy) -> list[tuple[str, dict[str, Any]]]:
    """What a kiosk shows after the notice pages (or the policy slides): announcements, roster, fund totals."""
    return announcement_slides(session, region, at) + roster_slides(session, region, pol) + funds_slides(
        session, region, pol)


def current_announcement(session: Session, kiosk: Kiosk, public_id: str, at: datetime | None = None):
    """An announcement shown today on this kiosk (for its picture); NotFound otherwise."""
    from dibao import announcements

    at = at or clock.now()
    for item in announcements.current(session, kiosk.region, today=clock.to_local(at).date(), below=False):
        if item.public_id == public_id:
            return item
    raise NotFound(_l("该公告已结束或不存在。"))


# --- health: how long a kiosk has been dark, alerts to its community's staff (issue 14) ------------------------

def dark_since(kiosk: Kiosk, at: datetime | None = None) -> datetime | None:
    """Since when a kiosk shows nothing: its last poll when offline, its revocation when revoked."""
    state = status(kiosk, at)
    if state == Status.revoked:
        return kiosk.revoked_at
    if state == Status.offline:
        return kiosk.last_seen_at
    return None


def offline_in_scope(session: Session, actor: User, at: datetime | None = None) -> list[tuple[Kiosk, datetime]]:
    """Kiosks of the actor's subtree that missed their polls, with their last poll (the dashboard banner)."""
    at = at or clock.now()
    out = []
    for kiosk in list_kiosks(session, actor, include_revoked=False):
        if status(kiosk, at) == Status.offline:
            out.append((kiosk, kiosk.last_seen_at))
    return out


def offline_alerts(session: Session, at: datetime) -> list:
    """Record every kiosk newly gone dark and queue an e-mail to its community's staff (those with an address).

    Once per outage: the outage is keyed by the kiosk's last poll, so a kiosk that comes back and goes dark
    again is a new outage. A kiosk that never polled is not an outage (it was never switched on)."""
    from dibao import notify
    from dibao.models.display import KioskOutage

    outages = []
    for kiosk in list_kiosks(session, None, include_revoked=False):
        if status(kiosk, at) != Status.offline or session.scalar(select(KioskOutage.id).where(
                KioskOutage.kiosk_id == kiosk.id, KioskOutage.since == kiosk.last_seen_at)):
            continue
        outage = KioskOutage(kiosk_id=kiosk.id, since=kiosk.last_seen_at, detected_at=at, alerted=0)
        session.add(outage)
        with force_locale("zh_CN"):
            body = str(_l("公示终端“%(name)s”（%(community)s）自 %(since)s 起没有连接，已漏掉 %(n)d 次以上刷新。"
                          "请检查终端的电源、网络和浏览器，公示期内应保持显示。",
                          name=kiosk.name, community=kiosk.region.full_name,
                          since=i18n.localtime(kiosk.last_seen_at), n=MISSED_POLLS_OFFLINE))
            subject = str(_l("公示终端离线：%(name)s", name=kiosk.name))
        for user in notify.staff_addresses(session, kiosk.region):
            notify.queue(session, channel=notify.NotifyChannel.email, recipient=user.email, subject=subject,
                         body=body, link=None, object_type="kiosk", object_id=str(kiosk.id),
                         region_id=kiosk.region_id)
            outage.alerted += 1
        outages.append(outage)
    session.flush()
    return outages


def run_offline_alerts(app) -> int:
    """The sweep's step (its own short transaction); two workers at once: the unique key keeps one outage."""
    from sqlalchemy.exc import IntegrityError

    with app.extensions["dibao.write_sessions"]() as session:
        try:
            outages = offline_alerts(session, clock.now())
            session.commit()
        except IntegrityError:
            session.rollback()
            return 0
    return len(outages)

