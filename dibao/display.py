"""Proof of display (公示留痕): each kiosk reports which notice entries it had on screen and when; each batch page
shows, per kiosk of its region, the hours its entries were on screen during the window and the gaps — the
evidence that the notice was posted for its seven days — and staff may add photos of the paper board.

How a kiosk reports (static/js/kiosk.js): while a slide of entries is on screen it notes the entries and the
time; every minute (and when the page is hidden) it POSTs what it noted to ``/kiosk/<token>/shown``; while the
network is down it keeps the reports and sends them once it is back, so a kiosk that kept showing its last
slide offline still proves it. Each report has a key, so one sent twice is counted once.

Reports of one entry that follow each other within a rotation cycle (all slides once, plus a minute) extend
the same :class:`DisplaySpan`: the entry was in the kiosk's rotation. ``visible_seconds`` adds up the time it
was on the slide being shown. Polls are not state changes and neither are reports: no audit event.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dibao import audit, clock, db, media, notices, scope
from dibao.errors import Forbidden, Invalid, collect
from dibao.models import NoticeBatch, NoticeEntry, Region, Role, User
from dibao.models.display import BoardPhoto, DisplayReport, DisplaySpan
from dibao.models.kiosk import Kiosk

MAX_ITEMS = 500  # spans in one report
MAX_SPAN = timedelta(hours=24)  # one reported stretch (a slide left on screen while offline)
MAX_BACKLOG = timedelta(days=30)  # reports kept by a kiosk that was offline this long are still taken
CLOCK_SKEW = timedelta(minutes=2)  # a kiosk's clock a little ahead of the server's
MIN_TOLERANCE = timedelta(minutes=2)
MAX_TOLERANCE = timedelta(hours=1)
GAP_REPORTED = timedelta(minutes=10)  # shorter gaps are a rotation's rhythm, not a dark screen
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{8,40}$")
ENTRY_RE = re.compile(r"^[a-z0-9]{4,24}$")


# --- receiving reports ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    """One entry on screen from ``start`` to ``end`` (UTC), in a rotation that takes ``cycle`` to go round."""

    entry: str
    start: datetime
    end: datetime
    cycle: timedelta


def _instant(value) -> datetime | None:
    """Milliseconds since the epoch (what a browser's clock gives) → an aware UTC instant."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e14:
        return None
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def parse(payload) -> tuple[str | None, list[Shown]]:
    """The report's key and its spans; Invalid for a shape no kiosk of ours sends."""
    if not isinstance(payload, dict) or not isinstance(payload.get("shown"), list):
        raise Invalid(_l("报告格式不对。"))
    key = payload.get("key")
    key = key if isinstance(key, str) and KEY_RE.match(key) else None
    items = payload["shown"]
    if len(items) > MAX_ITEMS:
        raise Invalid(_l("一次报告的内容太多。"))
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise Invalid(_l("报告格式不对。"))
        entry, start, end = item.get("entry"), _instant(item.get("from")), _instant(item.get("to"))
        cycle = item.get("cycle") if isinstance(item.get("cycle"), int | float) else 0
        if not isinstance(entry, str) or not ENTRY_RE.match(entry) or start is None or end is None or end < start:
            raise Invalid(_l("报告格式不对。"))
        out.append(Shown(entry, start, end, timedelta(seconds=max(0, min(cycle, 86400)))))
    return key, out


def record(session: Session, kiosk: Kiosk, key: str | None, shown: list[Shown], at: datetime | None = None) -> int:
    """Add a kiosk's report to its spans; returns how many entries' spans it touched (0 for a report again).

    Only entries of the kiosk's own community count, and only within their windows: a kiosk cannot prove
    another community's notice, nor a time before it opened or after it closed."""
    at = at or clock.now()
    if key is not None:
        try:
            with session.begin_nested():
                session.add(DisplayReport(kiosk_id=kiosk.id, report_key=key, received_at=at))
        except IntegrityError:
            return 0
    ids = {s.entry for s in shown}
    entries = {e.public_id: e for e in session.scalars(
        select(NoticeEntry).where(NoticeEntry.public_id.in_(ids), NoticeEntry.region_id == kiosk.region_id))}
    rotation = timedelta(seconds=kiosk.rotation_seconds)
    touched = 0
    for item in sorted(shown, key=lambda s: s.start):
        entry = entries.get(item.entry)
        if entry is None:
            continue
        start, end = window_of(entry)
        start = max(item.start, start, at - MAX_BACKLOG)
        end = min(item.end, end, at + CLOCK_SKEW, item.start + MAX_SPAN)
        if end <= start:
            continue
        tolerance = min(max(item.cycle, rotation) + timedelta(minutes=1), MAX_TOLERANCE)
        tolerance = max(tolerance, MIN_TOLERANCE)
        span = session.scalar(
            select(DisplaySpan).where(DisplaySpan.kiosk_id == kiosk.id, DisplaySpan.entry_id == entry.id,
                                      DisplaySpan.ended_at >= start - tolerance,
                                      DisplaySpan.started_at <= end + tolerance)
            .order_by(DisplaySpan.ended_at.desc()).limit(1))
        seconds = int((end - start).total_seconds())
        if span is None:
            session.add(DisplaySpan(kiosk_id=kiosk.id, entry_id=entry.id, started_at=start, ended_at=end,
                                    visible_seconds=seconds))
        else:
            span.started_at = min(span.started_at, start)
            span.ended_at = max(span.ended_at, end)
            span.visible_seconds += seconds
        touched += 1
        session.flush()
    return touched


def window_of(entry: NoticeEntry) -> tuple[datetime, datetime]:
    """When an entry was public: its batch's window, cut short by a withdrawal."""
    batch = entry.batch
    end = batch.closes_at
    for withdrawn in (batch.withdrawn_at, entry.withdrawn_at):
        if withdrawn is not None:
            end = min(end, withdrawn)
    return batch.opens_at, end


# --- the evidence for a batch --------------------------------------------------------------------------------

def _union(intervals: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _length(intervals) -> timedelta:
    return sum((e - s for s, e in intervals), timedelta())


@dataclass
class KioskProof:
    kiosk: Kiosk
    entries: int  # of the batch, in this kiosk's community
    on_screen: timedelta = timedelta()  # the batch in the kiosk's rotation, within the window
    visible: timedelta = timedelta()  # its entries on the slide being shown (added up per entry)
    least: timedelta = timedelta()  # the entry with the least time in rotation
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)  # ≥ GAP_REPORTED, within the window
    share: float = 0.0  # on_screen / the window so far

    @property
    def complete(self) -> bool:
        return self.entries > 0 and not self.gaps and self.share >= 0.999


@dataclass
class BatchProof:
    batch: NoticeBatch
    window_start: datetime
    window_end: datetime  # the window's end, or now while it is open
    kiosks: list[KioskProof]
    photos: list[BoardPhoto]

    @property
    def window(self) -> timedelta:
        return self.window_end - self.window_start


def batch_proof(session: Session, actor: User, batch: NoticeBatch, at: datetime | None = None) -> BatchProof:
    """Per kiosk of the batch's region (those the actor may see): hours on screen and gaps during the window."""
    at = at or clock.now()
    start = batch.opens_at
    end = min(batch.closes_at, batch.withdrawn_at or batch.closes_at, max(at, start))
    entries = list(batch.entries)
    stmt = (select(Kiosk).join(Kiosk.region).where(scope.subtree_condition(batch.region),
                                                   scope.subtree_condition(actor.region),
                                                   Kiosk.created_at <= end)
            .order_by(Region.path, Kiosk.name, Kiosk.id))
    rows = []
    for kiosk in session.scalars(stmt):
        own = [e for e in entries if e.region_id == kiosk.region_id]
        proof = KioskProof(kiosk=kiosk, entries=len(own))
        if own:
            spans = list(session.scalars(select(DisplaySpan).where(
                DisplaySpan.kiosk_id == kiosk.id, DisplaySpan.entry_id.in_([e.id for e in own]))))
            per_entry = []
            for entry in own:
                e_start, e_end = window_of(entry)
                e_end = min(e_end, end)
                clipped = [(max(s.started_at, e_start), min(s.ended_at, e_end)) for s in spans
                           if s.entry_id == entry.id]
                per_entry.append(_length(_union([(s, e) for s, e in clipped if e > s])))
            union = _union([(max(s.started_at, start), min(s.ended_at, end)) for s in spans
                            if min(s.ended_at, end) > max(s.started_at, start)])
            proof.on_screen = _length(union)
            proof.visible = timedelta(seconds=sum(s.visible_seconds for s in spans))
            proof.least = min(per_entry)
            proof.gaps = _gaps(union, start, end)
            proof.share = proof.on_screen / (end - start) if end > start else 0.0
        rows.append(proof)
    photos = list(session.scalars(select(BoardPhoto).where(BoardPhoto.batch_id == batch.id)
                                  .order_by(BoardPhoto.taken_on, BoardPhoto.id)))
    return BatchProof(batch=batch, window_start=start, window_end=end, kiosks=rows, photos=photos)


def _gaps(union, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    gaps, cursor = [], start
    for s, e in union:
        if s - cursor >= GAP_REPORTED:
            gaps.append((cursor, s))
        cursor = max(cursor, e)
    if end - cursor >= GAP_REPORTED:
        gaps.append((cursor, end))
    return gaps


# --- photos of the paper board -------------------------------------------------------------------------------

PHOTO_ROLES = {Role.community_staff, Role.town_reviewer, Role.county_approver}


def add_board_photo(session: Session, actor: User, batch: NoticeBatch, *, data: bytes | None, taken_on: date | None,
                    note: str, media_dir: str) -> BoardPhoto:
    """A photo of the posted paper board, kept with the batch (staff who publish and post notices)."""
    if actor.role not in PHOTO_ROLES:
        raise Forbidden(_l("公示栏照片由社区、乡镇和县级经办人员上传。"))
    today = clock.today()
    note = (note or "").strip()
    with collect() as problems:  # every problem at once (the photo's own too), before the photo is stored
        if not data:
            problems.add("photo", _l("请选择公示栏的照片。"))
        else:
            prepared = problems.check(media.prepare_image, data, field="photo")
        if taken_on is None or taken_on > today or taken_on < clock.to_local(batch.opens_at).date() - timedelta(days=1):
            problems.add("taken_on", _l("请填写拍摄日期（公示开始之后、不晚于今天）。"))
        if len(note) > 500:
            problems.add("note", _l("说明最多 500 个字。"))
    stored = prepared.write(media_dir)
    photo = BoardPhoto(batch_id=batch.id, region_id=actor.region_id, media_key=stored.key, taken_on=taken_on,
                       note=note, uploaded_by_id=actor.id, uploaded_by_name=actor.display_name,
                       created_at=clock.now())
    session.add(photo)
    session.flush()
    audit.record(session, actor, "board_photo_added", "notice_batch", batch.public_id, region_id=actor.region_id,
                 details={"photo": photo.id, "taken_on": taken_on.isoformat()})
    return photo


def board_photo(session: Session, actor: User, photo_id: int) -> BoardPhoto:
    from dibao.errors import NotFound

    photo = db.get_record(session, BoardPhoto, photo_id)
    if photo is None:
        raise NotFound(_l("没有找到这张照片。"))
    notices.get_batch(session, actor, photo.batch.public_id)  # 404 outside the actor's scope
    return photo
