"""公告 and 制度文件 on the portal: the list by date and region, a page (with 朗读), its picture and files.
What is shown is decided by dibao.announcements at read time; an ended one answers 410."""

from __future__ import annotations

from flask import current_app, request, send_file

from dibao import announcements, db, media
from dibao.errors import NotFound
from dibao.models.announcement import AnnouncementKind
from dibao.web import render
from portal import bp
from portal.notices import region_or_404


@bp.get("/announcements/")
def announcement_list():
    code = request.args.get("region") or None
    region = region_or_404(code)
    items = announcements.current(db.session(), region)
    return render("portal/announcements/list.html", items=items, region=region, regions=announcements.filter_regions(db.session()),
                  kind_labels=announcements.KIND_LABELS)


@bp.get("/documents/")
def document_list():
    items = announcements.current(db.session(), None, kind=AnnouncementKind.document)
    groups = {category: [i for i in items if i.category == category] for category in announcements.CATEGORY_LABELS}
    return render("portal/announcements/documents.html", groups=groups,
                  category_labels=announcements.CATEGORY_LABELS)


@bp.get("/announcements/<public_id>")
def announcement_page(public_id: str):
    item = announcements.public(db.session(), public_id)
    return render("portal/announcements/page.html", item=item, paragraphs=announcements.paragraphs(item),
                  kind_labels=announcements.KIND_LABELS, category_labels=announcements.CATEGORY_LABELS,
                  file_name=announcements.file_name)


def _send(key: str, rendition: str | None, mimetype: str, download_name: str | None = None):
    path = media.media_path(current_app.config["MEDIA_DIR"], key, rendition)
    if not path.exists():
        raise NotFound("")
    response = send_file(path, mimetype=mimetype, as_attachment=download_name is not None,
                         download_name=download_name, conditional=True)
    response.headers["Cache-Control"] = "no-cache"  # it must go when the announcement ends
    return response


@bp.get("/announcements/<public_id>/picture")
def announcement_picture(public_id: str):
    item = announcements.public(db.session(), public_id)
    if not item.picture_key:
        raise NotFound("")
    return _send(item.picture_key, "display", "image/jpeg")


@bp.get("/announcements/<public_id>/files/<int:position>")
def announcement_file(public_id: str, position: int):
    file = announcements.public_file(db.session(), public_id, position)
    return _send(file.media_key, None, file.content_type, announcements.file_name(file))
