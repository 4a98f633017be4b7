"""The monthly contact form (月联系, POST /admin/cases/<id>/contacts) on the case page and on the contacts worklist.
It used to redirect and flash its problems at the top of the page, and the clerk lost what they had typed; now a
refused contact answers with the page it came from, the same form filled with what was typed, every problem beside
its field (one without a field above the form), and nothing saved. A contact recorded still redirects."""

from __future__ import annotations

import html as htmlmod
import re

import pytest

from dibao import reviews
from dibao.errors import Invalid
from dibao.models import AuditEvent, Stage
from dibao.models.management import Contact
from tests.case_helpers import register, standard, user
from tests.conftest import csrf_token
from tests.review_helpers import active
from tests.test_all_errors import count
from tests.test_all_errors_staff import beside

NOTE = "电话询问：户主在外打工，家中老人身体尚可"  # what the clerk typed


def _box(html: str, name: str) -> str:
    """The tag of the form's ``name`` field (the one with an id: the refused form's)."""
    found = re.search(rf'<(?:input|select)\b[^>]*\bid="{name}"[^>]*>', html)
    assert found, f"no {name} field with its id"
    return found.group(0)


def _select(html: str, name: str) -> str:
    found = re.search(rf'<select\b[^>]*\bid="{name}".*?</select>', html, re.S)
    assert found, f"no {name} list with its id"
    return found.group(0)


def _value(tag: str) -> str:
    found = re.search(r'\bvalue="([^"]*)"', tag)
    return htmlmod.unescape(found.group(1)) if found else ""


def _refused_form(html: str) -> str:
    """The refused contact form and what is shown just above it (its problem without a field)."""
    found = re.search(r'(?:<div class="notice notice-error"(?:(?!</form>).)*)?<form[^>]*id="contact-(?:form|refused)"'
                      r'.*?</form>', html, re.S)
    assert found, "no contact form"
    return found.group(0)


def _state(session):
    return count(session, Contact), count(session, AuditEvent)


@pytest.fixture
def households(session, world):
    """Two monthly (category 4) households in payment in 甲一社区, neither contacted this month."""
    standard(session, world)
    first = active(session, world, category=4, head_name="周建国")
    second = active(session, world, category=4, head_name="吴秀兰")
    session.commit()
    return first, second


def _post(client, case, **form):
    token = csrf_token(client, "/admin/contacts/")
    return client.post(f"/admin/cases/{case.id}/contacts", data={"csrf_token": token, **form})


# --- from the case page ---------------------------------------------------------------------------------------

def test_case_page_shows_every_problem_beside_its_field_and_keeps_what_was_typed(client, auth, session,
                                                                                households):
    case = households[0]
    auth.login("staff_a1")
    before = _state(session)
    res = _post(client, case, contacted_on="2099-01-01", way="letter", note=NOTE)
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "动态管理" in html and case.number in html  # the case page, not a page of its own
    assert "联系日期不能晚于今天" in beside(html, "contacted_on")
    assert "请选择联系方式" in beside(html, "way")
    assert _value(_box(html, "note")) == NOTE and _value(_box(html, "contacted_on")) == "2099-01-01"
    assert "autofocus" in _box(html, "contacted_on")  # the page opens where the clerk was typing
    assert 'class="flashes"' not in html  # nothing at the top of the page any more
    assert _state(session) == before


def test_case_page_shows_the_note_too_long_with_the_missing_date(client, auth, session, households):
    case = households[0]
    auth.login("staff_a1")
    before = _state(session)
    long_note = "走访" * 1001
    res = _post(client, case, contacted_on="", way="visit", note=long_note)
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "请填写联系日期" in beside(html, "contacted_on")
    assert "内容太长，最多 2000 个字" in beside(html, "note")
    assert _value(_box(html, "note")) == long_note
    assert '<option selected value="visit">' in _select(html, "way")  # the way picked is still picked
    assert _state(session) == before


def test_case_page_shows_the_forms_own_check_beside_the_date(client, auth, session, households):
    """A date the form cannot read (typed without a date picker) is its own check: beside the date too."""
    case = households[0]
    auth.login("staff_a1")
    before = _state(session)
    res = _post(client, case, contacted_on="2026-02-30", way="phone", note=NOTE)
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert beside(html, "contacted_on")
    assert _value(_box(html, "contacted_on")) == "2026-02-30" and _value(_box(html, "note")) == NOTE
    assert _state(session) == before


def test_case_page_says_a_date_too_long_ago_beside_it(client, auth, session, households):
    auth.login("staff_a1")
    before = _state(session)
    res = _post(client, households[0], contacted_on="2025-11-01", way="phone", note=NOTE)
    html = res.get_data(as_text=True)
    assert res.status_code == 400 and "只能补记三个月内的联系" in beside(html, "contacted_on")
    assert _state(session) == before


def test_a_case_not_in_payment_is_said_above_the_form(client, auth, session, world):
    standard(session, world)
    applied = register(session, user(session, world, "staff_a1"), head_name="郑小梅")
    session.commit()
    auth.login("staff_a1")
    before = _state(session)
    res = _post(client, applied, contacted_on="2026-03-18", way="phone", note=NOTE)
    html = res.get_data(as_text=True)
    assert res.status_code == 409
    form = _refused_form(html)
    assert "只有在保家庭需要记录月联系" in form and _value(_box(form, "note")) == NOTE
    assert _state(session) == before


def test_case_page_success_still_redirects(client, auth, session, households):
    case = households[0]
    auth.login("staff_a1")
    res = _post(client, case, contacted_on="2026-03-17", way="visit", note=NOTE)
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/admin/cases/{case.id}#manage")
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "已记录本次联系" in page and NOTE in page
    assert count(session, Contact) == 1


# --- from the contacts worklist ------------------------------------------------------------------------------

def test_contacts_page_shows_every_problem_on_the_households_row(client, auth, session, households):
    first, second = households
    auth.login("staff_a1")
    before = _state(session)
    res = _post(client, second, back="contacts", month="2026-03", contacted_on="2099-01-01", way="letter",
                note=NOTE)
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    assert "月联系（2026-03）" in html  # the worklist, not the case page
    assert "联系日期不能晚于今天" in beside(html, "contacted_on")
    assert "请选择联系方式" in beside(html, "way")
    table = html.split('id="contacts-missing"')[1].split("</table>")[0]
    rows = re.findall(r"<tr>.*?</tr>", table, re.S)
    mine = next(row for row in rows if second.number in row)
    other = next(row for row in rows if first.number in row)
    assert 'id="contact-refused"' in mine and _value(_box(mine, "note")) == NOTE
    assert 'class="error"' not in other and NOTE not in other  # the other household's form is as it was
    assert f'action="/admin/cases/{first.id}/contacts"' in other
    assert 'action="/admin/contacts/"' in html  # the month picker still goes to the worklist
    assert _state(session) == before


def test_contacts_page_shows_a_household_no_longer_listed_above_the_table(client, auth, session, households):
    """A household left the list meanwhile (here: it is no monthly household): its form is shown above."""
    first, _second = households
    first.category = 2
    session.commit()
    auth.login("staff_a1")
    before = _state(session)
    res = _post(client, first, back="contacts", contacted_on="", way="phone", note=NOTE)
    html = res.get_data(as_text=True)
    assert res.status_code == 400
    section = html.split('id="contact-refused"')[1].split("</section>")[0]
    assert first.number in section and "请填写联系日期" in beside(section, "contacted_on")
    assert _value(_box(section, "note")) == NOTE
    assert _state(session) == before


def test_contacts_page_success_still_redirects_to_its_month(client, auth, session, households):
    first, second = households
    auth.login("staff_a1")
    res = _post(client, second, back="contacts", month="2026-03", contacted_on="2026-03-18", way="phone", note=NOTE)
    assert res.status_code == 302 and res.headers["Location"].endswith("/admin/contacts/?month=2026-03")
    page = client.get(res.headers["Location"]).get_data(as_text=True)
    assert "已记录本次联系" in page
    missing = page.split("contacts-missing")[-1]
    assert first.number in missing and second.number not in missing
    assert count(session, Contact) == 1


# --- the domain call ------------------------------------------------------------------------------------------

def test_log_contact_collects_the_note_with_the_date_and_the_way(app, session, world):
    standard(session, world)
    case = active(session, world, category=4)
    session.commit()
    staff = user(session, world, "staff_a1")
    with app.test_request_context(), pytest.raises(Invalid) as caught:
        reviews.log_contact(session, staff, case, contacted_on=None, way="letter", note="访" * 2001)
    assert [f for f, _m in caught.value.field_problems] == ["way", "contacted_on", "note"]
    session.rollback()
    assert count(session, Contact) == 0
    assert session.get(type(case), case.id).stage == Stage.active
