"""Encryption at rest (issue 11, item 3): ID numbers never lie in the database in clear, and are still found."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from dibao import crypto, migrate
from dibao.models import Case, Member
from tests.case_helpers import register, user, valid_id


def _stored(session, sql: str, **params):
    session.rollback()  # see what the requests committed since
    return session.execute(text(sql), params).scalar()


def test_id_numbers_are_encrypted_in_the_database_and_read_back(app, session, world):
    idn = valid_id()
    case = register(session, user(session, world, "staff_a1"), head_id_number=idn)
    session.commit()
    raw = _stored(session, "SELECT head_id_number FROM dibao_case WHERE id = :id", id=case.id)
    member_raw = _stored(session, "SELECT id_number FROM case_member WHERE case_id = :id AND position = 0", id=case.id)
    assert raw.startswith(crypto.PREFIX) and idn not in raw and idn[-6:] not in raw
    assert member_raw.startswith(crypto.PREFIX) and member_raw != raw  # a fresh IV: the same number never looks alike
    session.expire_all()
    assert session.get(Case, case.id).head_id_number == idn
    assert session.get(Case, case.id).members[0].id_number == idn


def test_a_registered_id_number_is_found_by_its_keyed_hash(app, session, world, client, auth):
    idn = valid_id()
    register(session, user(session, world, "staff_a1"), head_name="赵秀兰", head_id_number=idn)
    session.commit()
    assert session.query(Case).filter(Case.head_id_hash == crypto.blind_index(idn)).count() == 1
    auth.login("staff_a1")
    assert "赵秀兰" in client.get(f"/admin/cases/?q={idn}").get_data(as_text=True)
    assert "赵秀兰" not in client.get(f"/admin/cases/?q={valid_id()}").get_data(as_text=True)
    # a second open case for the same person is still refused, although the stored values differ
    from dibao.errors import Conflict

    with pytest.raises(Conflict):
        register(session, user(session, world, "staff_a1"), head_id_number=idn)


def test_a_member_id_number_is_found_too(app, session, world, client, auth):
    from dibao import cases
    from dibao.models import WorkCapacity

    staff = user(session, world, "staff_a1")
    case = register(session, staff, head_name="钱桂英", members=1)
    child = valid_id("20100101")
    cases.add_member(session, staff, case, name="钱小", relation="子女", age=16, id_number=child, health="",
                     work_capacity=WorkCapacity.none, deduction=None, deduction_note="")
    session.commit()
    assert session.query(Member).filter(Member.id_number_hash == crypto.blind_index(child)).count() == 1
    auth.login("staff_a1")
    assert "钱桂英" in client.get(f"/admin/cases/?q={child}").get_data(as_text=True)


def test_another_key_cannot_read_the_numbers(app, session, world):
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    raw = _stored(session, "SELECT head_id_number FROM dibao_case WHERE id = :id", id=case.id)
    good = app.config["DATA_KEY"]
    try:
        crypto.use_key(Fernet.generate_key().decode())
        with pytest.raises(crypto.KeyMissing):
            crypto.decrypt(raw)
    finally:
        crypto.use_key(good)
    assert crypto.decrypt(raw) == session.get(Case, case.id).head_id_number


def test_new_values_are_aes_gcm_and_round_trip(app):
    assert crypto.PREFIX == "enc2:"
    for value in ("110101195003071234", "6222021234567890128", "", "李桂兰"):
        sealed = crypto.encrypt(value)
        assert sealed.startswith("enc2:") and crypto.decrypt(sealed) == value
        assert crypto.encrypt(value) != sealed  # a fresh nonce each time


def test_values_written_with_fernet_before_enc2_still_decrypt(app, session, world):
    """enc1 (Fernet) values are not migrated: they are read as they are, by their prefix."""
    idn = valid_id()
    old = crypto.FERNET_PREFIX + Fernet(app.config["DATA_KEY"].encode()).encrypt(idn.encode()).decode()
    assert old.startswith("enc1:") and crypto.decrypt(old) == idn
    case = register(session, user(session, world, "staff_a1"), head_id_number=idn)
    session.commit()
    session.execute(text("UPDATE dibao_case SET head_id_number = :v WHERE id = :id"), {"v": old, "id": case.id})
    session.commit()
    session.expire_all()
    assert session.get(Case, case.id).head_id_number == idn  # through the column type too
    assert crypto.decrypt("110101195003071234") == "110101195003071234"  # no prefix: from before encryption


@pytest.mark.parametrize("scheme", ["enc1", "enc2"])
def test_a_changed_stored_value_does_not_decrypt(app, scheme):
    value = "110101195003071234"
    if scheme == "enc2":
        sealed = crypto.encrypt(value)
    else:
        sealed = crypto.FERNET_PREFIX + Fernet(app.config["DATA_KEY"].encode()).encrypt(value.encode()).decode()
    body = sealed[5:]
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    for tampered in (sealed[:5] + flipped, sealed[:-4], sealed[:5] + "!!!", sealed[:5]):
        with pytest.raises(crypto.KeyMissing):
            crypto.decrypt(tampered)


def test_the_migration_encrypts_numbers_stored_in_clear(tmp_path):
    """A database from before encryption: the upgrade rewrites every number and sets its hash."""
    crypto.use_key(Fernet.generate_key().decode())  # what `dibao db upgrade` installs from the app's config
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    migrate.upgrade(engine, "0007_house")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO region (id, code, name, level, path) VALUES (1, '100', '县', 'county', '/100/')"))
        conn.execute(text(
            "INSERT INTO dibao_case (id, number, region_id, stage, stage_changed_at, head_name, head_id_number, "
            "address, public_address, category, close_relative_of_staff, special_case, "
            "no_income_no_capacity_no_supporter, photo_consent, marginal, accepted_at, created_at, updated_at) "
            "VALUES (1, 'N1', 1, 'applied', '2026-03-18 02:00:00', '王', '110101195003071234', 'a', 'a', 1, "
            "0, 0, 0, 0, 0, '2026-03-18 02:00:00', '2026-03-18 02:00:00', '2026-03-18 02:00:00')"))
        conn.execute(text(
            "INSERT INTO case_member (id, case_id, position, name, relation, age, id_number, health, work_capacity, "
            "monthly_deduction, deduction_note) VALUES (1, 1, 0, '王', '本人', 70, '110101195003071234', '', "
            "'none', 0, '')"))
    migrate.upgrade(engine, "heads")
    with engine.connect() as conn:
        stored, digest = conn.execute(text("SELECT head_id_number, head_id_hash FROM dibao_case")).one()
        member, member_digest = conn.execute(text("SELECT id_number, id_number_hash FROM case_member")).one()
    assert stored.startswith(crypto.PREFIX) and crypto.decrypt(stored) == "110101195003071234"
    assert member.startswith(crypto.PREFIX) and digest == member_digest == crypto.blind_index("110101195003071234")
    migrate.downgrade(engine, "0007_house")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT head_id_number FROM dibao_case")).scalar() == "110101195003071234"
    engine.dispose()


def test_the_data_key_lives_outside_the_database_with_owner_only_access(tmp_path, monkeypatch):
    from dibao import config

    monkeypatch.delenv("DIBAO_DATA_KEY", raising=False)
    key = config.from_environment(tmp_path)["DATA_KEY"]
    assert (tmp_path / "data_key").stat().st_mode & 0o777 == 0o600
    assert config.from_environment(tmp_path)["DATA_KEY"] == key  # created once, then read by every worker
    crypto.use_key(key)  # a valid Fernet key
    monkeypatch.setenv("DIBAO_DATA_KEY", new := crypto.new_key())
    assert config.from_environment(tmp_path)["DATA_KEY"] == new


# --- payment accounts (issue 11, item 3) -------------------------------------------------------------------

CARD = "6222021234567890128"  # a bank card number with a valid Luhn digit


def _account_form(client, case_id, **fields):
    from tests.conftest import csrf_token

    data = {"csrf_token": csrf_token(client, f"/admin/cases/{case_id}"), "kind": "bank_card",
            "bank_name": "中国工商银行阳光支行", "holder_name": "李桂兰", "number": CARD, **fields}
    return client.post(f"/admin/cases/{case_id}/account", data=data)


def test_a_payment_account_is_validated_encrypted_and_masked(app, session, world, client, auth):
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    auth.login("staff_a1")
    bad = _account_form(client, case.id, number="6222021234567890123")
    assert bad.status_code == 400 and "校验不通过" in bad.get_data(as_text=True)
    assert _stored(session, "SELECT count(*) FROM payment_account") == 0
    assert _account_form(client, case.id).status_code == 302
    raw = _stored(session, "SELECT number FROM payment_account")
    assert raw.startswith(crypto.PREFIX) and CARD not in raw
    page = client.get(f"/admin/cases/{case.id}").get_data(as_text=True)
    assert "6222 **** **** 0128" in page and CARD not in page
    detail = _stored(session, "SELECT details FROM audit_event WHERE action = 'payment_account_set'")
    assert CARD not in detail and "0128" in detail
    from dibao.models.payment import PaymentAccount

    session.expire_all()
    assert session.query(PaymentAccount).filter(PaymentAccount.number_hash == crypto.blind_index(CARD)).one().number \
        == CARD


def test_only_the_community_staff_of_the_household_record_its_account(app, session, world, client, auth):
    case = register(session, user(session, world, "staff_a1"))
    session.commit()
    for who, status in (("staff_b1", 404), ("town_a", 403), ("county", 403)):
        auth.login(who)
        assert _account_form(client, case.id).status_code == status, who
        auth.logout()
    assert _stored(session, "SELECT count(*) FROM payment_account") == 0


@pytest.mark.parametrize("kind,number,ok", [
    ("bank_card", "6222 0212 3456 7890 128", True),
    ("bank_card", "622202123456", False),  # 12 digits, wrong check digit
    ("social_security_card", "123456789", True),  # no Luhn for these cards
    ("benefit_card", "12ab5678", False),
    ("benefit_card", "1234567", False),
])
def test_account_number_rules(app, kind, number, ok):
    from dibao.errors import Invalid
    from dibao.identity import normalise_account_number

    if ok:
        assert normalise_account_number(number, luhn_checked=kind == "bank_card").isdigit()
    else:
        with pytest.raises(Invalid):
            normalise_account_number(number, luhn_checked=kind == "bank_card")


def test_no_log_line_carries_an_id_phone_or_account_number(app, session, world, client, auth, caplog):
    """Issue 11: what staff type (an ID number in the search box, an account number) never reaches a log — not
    the app's records, not a database error's text, not the access log of `make run` / docs/deploy.md."""
    import logging
    import re
    from pathlib import Path

    from sqlalchemy import text as sql

    from dibao import db
    from dibao.identity import with_luhn_digit
    from tests.conftest import csrf_token

    caplog.set_level(logging.DEBUG)
    idn, phone, card = valid_id(), "13987654321", with_luhn_digit("622202020011223344")
    case = register(session, user(session, world, "staff_a1"), head_name="钱秀英", head_id_number=idn, head_phone=phone)
    session.commit()
    auth.login("staff_a1")
    assert "钱秀英" in client.get(f"/admin/cases/?q={idn}").get_data(as_text=True)
    res = client.post(f"/admin/cases/{case.id}/account", data={
        "csrf_token": csrf_token(client, f"/admin/cases/{case.id}"), "kind": "bank_card", "bank_name": "阳光农商银行",
        "holder_name": "钱秀英", "number": card})
    assert res.status_code == 302
    with app.app_context():  # a database error about a statement that carried the number
        with pytest.raises(Exception) as err:
            db.session().execute(sql("SELECT no_such_column FROM dibao_case WHERE head_id_hash = :v"), {"v": idn})
        logging.getLogger("dibao").warning("refused: %s", err.value)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "钱秀英" in client.get(f"/admin/cases/{case.id}").get_data(as_text=True) and logged  # something was logged
    for secret in (idn, phone, card):
        assert secret not in logged
    # The access log of `make run` and of the documented deployment keeps the path only (%(U)s), never the query
    # string (%(q)s, %(r)s) or the referer (%(f)s), where a search by ID number would stand.
    root = Path(__file__).resolve().parents[1]
    formats = re.findall(r"ACCESS_LOG_FORMAT := (.+)", (root / "Makefile").read_text())
    formats += [f.replace("%%", "%") for f in re.findall(r"--access-logformat '([^']+)'", (root / "docs/deploy.md").read_text())]
    assert len(formats) == 2
    for fmt in formats:
        assert "%(U)s" in fmt and not {"%(r)s", "%(q)s", "%(f)s"} & set(re.findall(r"%\(\w\)s", fmt))
