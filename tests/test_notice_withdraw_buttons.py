"""A batch page offers the withdraw forms (撤回此户, 撤回整批公示) exactly to whom a withdrawal succeeds: every
staff role × every level of board, each side seen over HTTP (the page's forms, the POST's outcome). A refused
withdrawal comes back to the batch page with its message, as the page's other refusals do; a user's part of a
board is counted as their part on the list, the page and the export."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dibao import notices
from dibao.models import Level, NoticeBatch, NoticeEntry
from tests.conftest import csrf_token
from tests.factories import case_awaiting_notice
from tests.notice_helpers import _region, _user

REFUSED = "只有发布公示的本级或上级工作人员可以撤回。"
PUBLISHERS = {Level.community: "staff_a1", Level.town: "town_a", Level.county: "county"}
# What the seed's practice wants (the publishing level or above): the table the page and the POST must both meet.
MAY = {("staff_a1", Level.community): True, ("staff_a1", Level.town): False, ("staff_a1", Level.county): False,
       ("town_a", Level.community): True, ("town_a", Level.town): True, ("town_a", Level.county): False,
       ("county", Level.community): True, ("county", Level.town): True, ("county", Level.county): True}


def _board(session, level: Level) -> NoticeBatch:
    """A board of ``level`` with a household of 甲一社区 (staff_a1's) — and, above the community, one of 甲二社区."""
    communities = ["100001001"] if level == Level.community else ["100001001", "100001002"]
    cases = [case_awaiting_notice(session, _region(session, code), level, head_name=f"户{code[-1]}")
             for code in communities]
    session.commit()
    batch = notices.publish(session, _user(session, PUBLISHERS[level]), case_ids=[c.id for c in cases],
                            title=f"{level.value}公示")
    session.commit()
    return batch


def _controls(html: str, batch) -> tuple[bool, bool]:
    """Whether the page offers the batch's withdraw form and an entry's."""
    whole = "撤回整批公示" in html and f'action="/admin/notices/{batch.public_id}/withdraw"' in html
    entry = "撤回此户" in html and f"/admin/notices/{batch.public_id}/entries/" in html
    return whole, entry


@pytest.mark.parametrize("level", list(PUBLISHERS))
@pytest.mark.parametrize("username", ["staff_a1", "town_a", "county"])
def test_the_page_offers_a_withdrawal_exactly_when_it_succeeds(client, auth, world, session, clock, username, level):
    batch = _board(session, level)
    own = session.scalar(select(NoticeEntry).where(NoticeEntry.batch_id == batch.id,
                                                   NoticeEntry.head_name == "户1"))
    url = f"/admin/notices/{batch.public_id}"
    auth.login(username)
    html = client.get(url).get_data(as_text=True)
    offers_whole, offers_entry = _controls(html, batch)
    assert offers_whole == offers_entry
    assert (REFUSED in html) == (not offers_whole)  # who may withdraw, said where the forms would be
    token = csrf_token(client, url)

    res = client.post(f"{url}/entries/{own.public_id}/withdraw", data={"csrf_token": token, "reason": "户籍信息有误"},
                      follow_redirects=True)
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and res.request.path == url  # back on the batch page either way
    session.rollback()
    entry_withdrawn = session.get(NoticeEntry, own.id).withdrawn_at is not None
    assert ("已撤回，相关案件回到待公示状态" in page) == entry_withdrawn
    assert (f'<p class="notice notice-error">{REFUSED}</p>' in page) == (not entry_withdrawn)

    res = client.post(f"{url}/withdraw", data={"csrf_token": token, "reason": "整批材料需要补充"},
                      follow_redirects=True)
    page = res.get_data(as_text=True)
    assert res.status_code == 200 and res.request.path == url
    assert batch.title in page  # the clerk keeps the page
    session.rollback()
    batch_withdrawn = session.get(NoticeBatch, batch.id).withdrawn_at is not None
    assert (f'<p class="notice notice-error">{REFUSED}</p>' in page) == (not batch_withdrawn)

    assert offers_entry == entry_withdrawn and offers_whole == batch_withdrawn
    assert offers_whole == MAY[username, level]


def test_a_community_clerk_counts_their_part_of_a_town_board(client, auth, world, session, clock):
    batch = _board(session, Level.town)
    auth.login("staff_a1")
    listing = client.get("/admin/notices/").get_data(as_text=True).split("<tbody>", 1)[1]
    assert "<td>1<br><small>仅本辖区部分</small></td>" in listing
    page = client.get(f"/admin/notices/{batch.public_id}").get_data(as_text=True)
    assert "公示对象（1 户）" in page and "这里只列出本辖区的" in page
    auth.logout()
    auth.login("town_a")
    listing = client.get("/admin/notices/").get_data(as_text=True).split("<tbody>", 1)[1]
    assert "<td>2</td>" in listing and "仅本辖区部分" not in listing
    page = client.get(f"/admin/notices/{batch.public_id}").get_data(as_text=True)
    assert "公示对象（2 户）" in page and "这里只列出本辖区的" not in page
