"""The archive as a whole (一户一档, issue 10 item 10): everything about a household in one printable document,
one zip file with its documents (文书 and attachments), and the community's cabinet filed by category
(一居一柜, 按类别建档)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import assets, audit, cases, clock, documents, household, media, panel, scope
from dibao.models import Case, Level, Region, Stage, User
from dibao.models.records import Attachment
from dibao.workflow import CLOSED_STAGES


def whole(session: Session, case: Case) -> dict:
    """Everything the printed archive shows (the caller has loaded ``case`` through the scope)."""
    record = cases.archive(session, case)
    return dict(case=case, archive=record, check=assets.asset_check(session, case, record.computation),
                assets=assets.assets_of(session, case), verifications=assets.verifications(session, case),
                changes=household.member_changes(session, case), transfers=household.transfers(session, case),
                documents=documents.documents_of(session, case), questions=panel.questions(session, case),
                printed_at=clock.now())


def _safe(name: str) -> str:
    return "".join(ch for ch in name if ch not in '\\/:*?"<>|\0').strip() or "file"


def zip_archive(session: Session, actor: User, case: Case, *, html: str, documents: dict[int, str],
                media_dir: str) -> bytes:
    """One zip: the archive printed as HTML, each 文书 as HTML, each attachment as its file."""
    scope.require_in_scope(actor, case.region)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{case.number}-一户一档.html", html)
        for document in sorted(documents_of_case(session, case), key=lambda d: d.id):
            if document.id in documents:
                archive.writestr(f"文书/{_safe(document.number)}-{_safe(document.title)}.html", documents[document.id])
        attachments = session.scalars(select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id))
        for index, attachment in enumerate(attachments, start=1):
            path = media.media_path(media_dir, attachment.media_key)
            if not path.exists():
                continue
            ext = "pdf" if attachment.content_type == "application/pdf" else "jpg"
            archive.write(path, f"材料/{index:02d}-{_safe(attachment.title)}.{ext}")
    return out.getvalue()


def documents_of_case(session: Session, case: Case):
    return documents.documents_of(session, case)


def record_download(session: Session, actor: User, case: Case) -> None:
    scope.require_in_scope(actor, case.region)
    audit.record(session, actor, "archive_downloaded", "case", case.id, region_id=case.region_id)


# --- 一居一柜: each community's cabinet, by category ------------------------------------------------------------

@dataclass
class Cabinet:
    community: Region
    drawers: dict[int, list[Case]] = field(default_factory=dict)  # category 1–4: the households in 保
    applying: list[Case] = field(default_factory=list)  # not decided yet
    closed: list[Case] = field(default_factory=list)  # rejected, exited

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.drawers.values()) + len(self.applying) + len(self.closed)


def cabinets(session: Session, actor: User) -> list[Cabinet]:
    """Every community in the actor's scope with its archives filed by category (一居一柜, 按类别建档)."""
    communities = [r for r in scope.regions_in_scope(session, actor) if r.level == Level.community]
    by_id = {c.id: Cabinet(c, drawers={1: [], 2: [], 3: [], 4: []}) for c in communities}
    stmt = (select(Case).join(Region, Case.region_id == Region.id)
            .where(scope.subtree_condition(actor.region)).order_by(Case.number))
    for case in session.scalars(stmt):
        cabinet = by_id.get(case.region_id)
        if cabinet is None:
            continue
        if case.stage in CLOSED_STAGES:
            cabinet.closed.append(case)
        elif case.stage in (Stage.active, Stage.awaiting_county_notice, Stage.county_notice):
            cabinet.drawers.setdefault(case.category, []).append(case)
        else:
            cabinet.applying.append(case)
    return list(by_id.values())
