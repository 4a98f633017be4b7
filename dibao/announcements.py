"""宣传 and 制度: announcements and standing documents, published by staff for their region.

An announcement (公告, 宣传) has a start and an end date and is shown — on the portal, on the kiosks of its
region as a slide and, if it has one, as a line of the ticker (滚动字幕) — from the start of its first day to
the end of its last day, local time. Like a notice window this is decided at read time, so it appears on its
start date and ends by itself; nothing has to run. A standing document (the county's 实施方案, a 制度, a form
to download) has a start date and an optional end date. Once ended or withdrawn, its page and files answer
410 Gone.

Who publishes: any staff member for a region in their scope (an announcement reaches that region's whole
subtree); standing documents are the county's (county approvers and the system admin).
"""

from __future__ import annotations

import enum
import mimetypes
from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, selectinload

from dibao import audit, clock, i18n, media, notices, scope
from dibao.errors import Conflict, Forbidden, Gone, Invalid, NotFound, chosen, collect
from dibao.models import Region, Role, User
from dibao.models.announcement import Announcement, AnnouncementFile, AnnouncementKind, DocumentCategory

MAX_TITLE = 200
MAX_BODY = 20000
MAX_TICKER = 120
MAX_FILES = 10
MAX_DAYS = 366  # an announcement is shown for at most a year; a standing text is a document

KIND_LABELS = {AnnouncementKind.announcement: _l("公告"), AnnouncementKind.document: _l("制度文件")}
CATEGORY_LABELS = {DocumentCategory.plan: _l("实施方案"), DocumentCategory.rule: _l("制度"),
                   DocumentCategory.form: _l("表格下载"), DocumentCategory.other: _l("其他文件")}
DOCUMENT_ROLES = {Role.county_approver, Role.admin}


class Status(enum.StrEnum):
    scheduled = "scheduled"
    current = "current"
    ended = "ended"
    withdrawn = "withdrawn"


STATUS_LABELS = {Status.scheduled: _l("未开始"), Status.current: _l("发布中"), Status.ended: _l("已结束"),
                 Status.withdrawn: _l("已撤下")}


def status(item: Announcement, today: date | None = None) -> Status:
    today = today or clock.today()
    if item.withdrawn_at is not None:
        return Status.withdrawn
    if today < item.starts_on:
        return Status.scheduled
    if item.ends_on is not None and today > item.ends_on:
        return Status.ended
    return Status.current


def _live(today: date) -> ColumnElement[bool]:
    """The one place that decides "shown today" in a query (``status`` decides it for one row)."""
    return and_(Announcement.withdrawn_at.is_(None), Announcement.starts_on <= today,
                or_(Announcement.ends_on.is_(None), Announcement.ends_on >= today))


def ancestor_codes(region: Region) -> list[str]:
    return [code for code in region.path.split("/") if code]


def current(session: Session, region: Region | None, *, kind: AnnouncementKind = AnnouncementKind.announcement,
            today: date | None = None, below: bool = True) -> list[Announcement]:
    """What is shown today for ``region``: its own and its ancestors' (the county's reach every community)
    and, with ``below``, those of its subtree (a town's page lists its communities' too). Newest first."""
    today = today or clock.today()
    stmt = (select(Announcement).join(Announcement.region).where(Announcement.kind == kind, _live(today))
            .options(selectinload(Announcement.files))
            .order_by(Announcement.starts_on.desc(), Announcement.id.desc()))
    if region is not None:
        reach = Region.code.in_(ancestor_codes(region))
        if below:
            reach = or_(reach, scope.subtree_condition(region))
        stmt = stmt.where(reach)
    return list(session.scalars(stmt))


def filter_regions(session: Session) -> list[Region]:
    """The county and towns, for the portal's "by region" choice."""
    from dibao.models import Level

    return list(session.scalars(select(Region).where(Region.level != Level.community).order_by(Region.path)))


def public(session: Session, public_id: str, today: date | None = None) -> Announcement:
    """One announcement or document as the public sees it: 404 before its start, 410 after its end."""
    item = session.scalar(select(Announcement).where(Announcement.public_id == (public_id or "")[:24]))
    state = status(item, today) if item is not None else None
    if item is None or state == Status.scheduled:
        raise NotFound(_l("没有找到这条公告。"))
    if state == Status.withdrawn:
        raise Gone(_l("这条公告已经撤下，不再公开。"))
    if state == Status.ended:
        raise Gone(_l("这条公告已于%(date)s结束，不再公开。", date=i18n.localdate(item.ends_on)))
    return item


def public_file(session: Session, public_id: str, position: int) -> AnnouncementFile:
    item = public(session, public_id)
    for file in item.files:
        if file.position == position:
            return file
    raise NotFound(_l("没有找到这个文件。"))


def ticker(session: Session, region: Region, today: date | None = None) -> list[str]:
    """The ticker lines (滚动字幕) of what is shown today in a community."""
    return [a.ticker for a in current(session, region, today=today, below=False) if a.ticker]


# --- the staff side -------------------------------------------------------------------------------------------

def list_for(session: Session, user: User) -> list[Announcement]:
    stmt = (select(Announcement).join(Announcement.region).where(scope.subtree_condition(user.region))
            .order_by(Announcement.starts_on.desc(), Announcement.id.desc()))
    return list(session.scalars(stmt.limit(500)))


def get(session: Session, user: User, announcement_id: int) -> Announcement:
    return scope.get(session, user, Announcement, announcement_id, _l("没有找到这条公告。"))


def _require_publisher(actor: User, region: Region | None, kind: AnnouncementKind | None) -> None:
    """``region`` or ``kind`` None: none chosen (the form's checks say so, with its other problems)."""
    if region is not None:
        scope.require_in_scope(actor, region)
    if kind == AnnouncementKind.document and actor.role not in DOCUMENT_ROLES:
        raise Forbidden(_l("实施方案、制度等文件由县级审批人员或系统管理员发布。"))


@dataclass
class Upload:
    data: bytes
    filename: str


@dataclass
class Fields:
    """What a staff member typed (the view parses the form into this)."""

    title: str
    body: str
    starts_on: date | None
    ends_on: date | None
    ticker: str = ""
    category: str | None = None


def _checked(kind: AnnouncementKind | None, fields: Fields) -> dict:
    title = (fields.title or "").strip()
    body = (fields.body or "").replace("\r\n", "\n").strip()
    ticker_text = " ".join((fields.ticker or "").split())
    category = None
    with collect() as problems:  # every problem at once
        if not title or len(title) > MAX_TITLE:
            problems.add("title", _l("请填写标题（%(n)d 字以内）。", n=MAX_TITLE))
        if not body or len(body) > MAX_BODY:
            problems.add("body", _l("请填写正文（%(n)d 字以内）。", n=MAX_BODY))
        if len(ticker_text) > MAX_TICKER:
            problems.add("ticker", _l("滚动字幕最多 %(n)d 个字。", n=MAX_TICKER))
        if fields.starts_on is None:
            problems.add("starts_on", _l("请填写开始日期。"))
        if kind == AnnouncementKind.announcement and fields.ends_on is None:
            problems.add("ends_on", _l("公告要有结束日期，到期自动撤下。长期有效的请作为“制度文件”发布。"))
        elif fields.ends_on is not None and fields.starts_on is not None and fields.ends_on < fields.starts_on:
            problems.add("ends_on", _l("结束日期不能早于开始日期。"))
        elif (kind == AnnouncementKind.announcement and fields.starts_on is not None
              and (fields.ends_on - fields.starts_on).days >= MAX_DAYS):
            problems.add("ends_on", _l("公告最长发布 %(n)d 天。", n=MAX_DAYS))
        if kind == AnnouncementKind.document:
            try:
                category = DocumentCategory(fields.category or "")
            except ValueError:
                problems.add("category", _l("请选择文件类别。"))
    return {"title": title, "body": body, "ticker": ticker_text or None, "starts_on": fields.starts_on,
            "ends_on": fields.ends_on, "category": category}


def _uploads_checked(kind: AnnouncementKind | None, region: Region | None, fields: Fields, picture: bytes | None,
                     files: list[Upload], files_before: int = 0,
                     ) -> tuple[dict, media.Prepared | None, list[tuple[Upload, media.Prepared]]]:
    """The choices (``kind`` or ``region`` None: none the form offers was chosen), the fields (:func:`_checked`) and
    the uploads' own checks (type, size, a decodable image or PDF), all at once: the picture and the files come back
    checked and cleaned in memory, written only once everything passed."""
    picture_file = None
    checked_files: list[tuple[Upload, media.Prepared]] = []
    with collect() as problems:
        if kind is None:
            problems.add("kind", _l("请选择类型。"))
        if region is None:
            problems.add("region_id", _l("请选择发布范围。"))
        values = problems.check(_checked, kind, fields)
        if picture:
            picture_file = problems.check(media.prepare_image, picture, field="picture",
                                          lead=lambda why: _l("图片：%(why)s", why=why))
        if files_before + len(files) > MAX_FILES:
            problems.add("files", _l("附件最多 %(n)d 个。", n=MAX_FILES))
        else:
            for upload in files:
                prepared = problems.check(media.prepare_document, upload.data, upload.filename, field="files",
                                          lead=lambda why, name=upload.filename: _l("附件“%(name)s”：%(why)s",
                                                                                    name=name, why=why))
                if prepared is not None:
                    checked_files.append((upload, prepared))
    assert values is not None  # (collect raised otherwise)
    return values, picture_file, checked_files


def _add_files(item: Announcement, files: list[tuple[Upload, media.Prepared]], media_dir: str) -> None:
    position = max((f.position for f in item.files), default=-1) + 1
    for upload, prepared in files:
        stored = prepared.write(media_dir)
        title = (upload.filename or "").rsplit(".", 1)[0].strip()[:200] or str(_l("附件"))
        item.files.append(AnnouncementFile(position=position, title=title, media_key=stored.key,
                                           content_type=stored.content_type, size_bytes=stored.size,
                                           created_at=clock.now()))
        position += 1


def publish(session: Session, actor: User, *, kind: AnnouncementKind | str | None, region: Region | None,
            fields: Fields, picture: bytes | None = None, files: list[Upload] | None = None,
            media_dir: str) -> Announcement:
    """``kind``: a member, or its value as the form sends it; ``region`` None: none chosen, or one the form's list does
    not offer. Either is said beside its field with the form's other problems, before anything is written."""
    kind = chosen(AnnouncementKind, kind)
    _require_publisher(actor, region, kind)
    values, picture_file, checked_files = _uploads_checked(kind, region, fields, picture, files or [])
    assert kind is not None and region is not None  # (_uploads_checked raised otherwise)
    now = clock.now()
    item = Announcement(public_id=notices.new_public_id(), kind=kind, region=region, created_by_id=actor.id,
                        created_by_name=actor.display_name, created_at=now, updated_at=now, **values)
    item.picture_key = picture_file.write(media_dir).key if picture_file is not None else None
    session.add(item)
    _add_files(item, checked_files, media_dir)
    session.flush()
    audit.record(session, actor, "announcement_published", "announcement", item.public_id, region_id=region.id,
                 details={"kind": kind.value, "title": item.title, "starts_on": item.starts_on.isoformat(),
                          "ends_on": item.ends_on.isoformat() if item.ends_on else None,
                          "files": len(item.files), "picture": bool(item.picture_key)})
    return item


def update(session: Session, actor: User, item: Announcement, *, region: Region | None, fields: Fields,
           picture: bytes | None = None, files: list[Upload] | None = None, media_dir: str) -> Announcement:
    """``region`` None: none chosen, or one the form's list does not offer (said with the other problems)."""
    _require_publisher(actor, item.region, item.kind)
    _require_publisher(actor, region, item.kind)
    if item.withdrawn_at is not None:
        raise Conflict(_l("这条公告已经撤下，不能再修改。"))
    values, picture_file, checked_files = _uploads_checked(item.kind, region, fields, picture, files or [],
                                                           files_before=len(item.files))
    assert region is not None  # (_uploads_checked raised otherwise)
    changed = [name for name, value in values.items() if getattr(item, name) != value]
    for name in changed:
        setattr(item, name, values[name])
    if region.id != item.region_id:
        item.region = region
        changed.append("region")
    if picture_file is not None:
        item.picture_key = picture_file.write(media_dir).key
        changed.append("picture")
    if checked_files:
        _add_files(item, checked_files, media_dir)
        changed.append("files")
    if not changed:
        return item
    item.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "announcement_updated", "announcement", item.public_id,
                 region_id=item.region_id, details={"changed": changed})
    return item


def remove_file(session: Session, actor: User, item: Announcement, file_id: int) -> None:
    _require_publisher(actor, item.region, item.kind)
    file = next((f for f in item.files if f.id == file_id), None)
    if file is None:
        raise NotFound(_l("没有找到这个文件。"))
    item.files.remove(file)
    item.updated_at = clock.now()
    session.flush()
    audit.record(session, actor, "announcement_file_removed", "announcement", item.public_id,
                 region_id=item.region_id, details={"file": file.title})


def withdraw(session: Session, actor: User, item: Announcement, reason: str) -> None:
    """Take it down before its end date (its pages answer 410 from now on)."""
    _require_publisher(actor, item.region, item.kind)
    if item.withdrawn_at is not None:
        raise Conflict(_l("这条公告已经撤下。"))
    reason = (reason or "").strip()
    if len(reason) < 2 or len(reason) > 1000:
        raise Invalid(_l("请写明撤下的原因。"), field="reason")
    item.withdrawn_at = clock.now()
    item.withdrawn_by_id = actor.id
    item.withdrawn_reason = reason
    audit.record(session, actor, "announcement_withdrawn", "announcement", item.public_id,
                 region_id=item.region_id, details={"reason": reason})


def paragraphs(item: Announcement) -> list[str]:
    return [" ".join(p.split("\n")).strip() for p in item.body.split("\n\n") if p.strip()]


def file_name(file: AnnouncementFile) -> str:
    extension = mimetypes.guess_extension(file.content_type) or ""
    return f"{file.title}{'.jpg' if extension in ('.jpe', '.jpeg') else extension}"


def publishable_kinds(user: User) -> list[AnnouncementKind]:
    return [AnnouncementKind.announcement] + ([AnnouncementKind.document] if user.role in DOCUMENT_ROLES else [])
