"""Helpers for the export tests: run an export as a user and read its rows."""

from __future__ import annotations

import io
import re

from python_calamine import CalamineWorkbook

from dibao import exports
from tests.conftest import csrf_token


def export(app, client, name: str, **filters) -> list[list]:
    """Start the export as the signed-in user, run the queue, download the file; the sheets' rows."""
    response = client.post(f"/admin/data/exports/{name}", data={"csrf_token": csrf_token(client, "/admin/data/"),
                                                                 **filters})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    job_id = int(re.search(r"/admin/jobs/(\d+)", response.headers["Location"]).group(1))
    app.extensions["dibao.jobs"].drain()
    page = client.get(f"/admin/jobs/{job_id}").get_data(as_text=True)
    assert "下载 Excel" in page, page
    file = client.get(f"/admin/jobs/{job_id}/file")
    assert file.status_code == 200 and file.mimetype == exports.XLSX
    assert file.headers["Cache-Control"] == "private, no-store"
    book = CalamineWorkbook.from_filelike(io.BytesIO(file.data))
    return {sheet: book.get_sheet_by_name(sheet).to_python() for sheet in book.sheet_names}, job_id
