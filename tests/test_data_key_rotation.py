"""Rotating the data key (`dibao keys rotate-data`): every ID number and account number sealed again under a new
key, every blind index recomputed, the key files swapped safely, and a run that stopped half-way finished by the
next one."""

from __future__ import annotations

import base64
import json
from datetime import date

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Text, func, select, text, type_coerce

from dibao import audit, cases, clock, crypto, datakey
from dibao.crypto import DataKey, EncryptedString
from dibao.db import Base
from dibao.errors import Conflict
from dibao.models import AuditEvent, WorkCapacity
from dibao.models.application import Application, ApplicationMember, ApplicationStatus
from dibao.models.payment import AccountKind, PaymentAccount
from tests.case_helpers import register, user, valid_id

CARD = "6222021234567890128"


@pytest.fixture
def instance(app, tmp_path, monkeypatch):
    """The app's instance directory in the test's own folder, holding the key the app runs with (never the
    developer's instance/data_key)."""
    folder = tmp_path / "instance"
    folder.mkdir()
    app.instance_path = str(folder)
    key_file = folder / "data_key"
    key_file.write_text(app.config["DATA_KEY"])
    key_file.chmod(0o600)
    monkeypatch.delenv("DIBAO_DATA_KEY", raising=False)
    return folder


@pytest.fixture
def households(app, session, world):
    """A value in every encrypted column: a case (head and a member with ID numbers) with a payment account, a
    second case, and an online application with a member. One member's number is still enc1 (Fernet) and the
    application member's is from before encryption (no prefix)."""
    staff = user(session, world, "staff_a1")
    head, child, other = valid_id(), valid_id("20100101"), valid_id()
    case = register(session, staff, head_name="赵秀兰", head_id_number=head, members=1)
    cases.add_member(session, staff, case, name="赵小", relation="子女", age=16, id_number=child, health="",
                     work_capacity=WorkCapacity.none, deduction=None, deduction_note="")
    cases.set_payment_account(session, staff, case, kind=AccountKind.bank_card, bank_name="阳光农商银行",
                              holder_name="赵秀兰", number=CARD)
    register(session, staff, head_name="孙桂英", head_id_number=other)
    applicant, applicant_child = valid_id(), valid_id("20120101")
    application = Application(
        tracking_code="TRACK0001", region_id=world.regions["comm_a1"], status=ApplicationStatus.submitted,
        head_name="周玉兰", head_id_number=applicant, head_phone="13912345678",
        head_work_capacity=WorkCapacity.partial, address="幸福路 9 号", reason="生活困难",
        deadline=date(2026, 3, 23), created_at=clock.now())
    application.members.append(ApplicationMember(position=1, name="周小", relation="子女", age=14,
                                                 id_number=applicant_child, work_capacity=WorkCapacity.none))
    session.add(application)
    session.commit()
    member = next(m for m in case.members if m.id_number == child)
    fernet = crypto.FERNET_PREFIX + Fernet(app.config["DATA_KEY"].encode()).encrypt(child.encode()).decode()
    session.execute(text("UPDATE case_member SET id_number = :v WHERE id = :id"), {"v": fernet, "id": member.id})
    session.execute(text("UPDATE application_member SET id_number = :v"), {"v": applicant_child})
    session.commit()
    return {"head": head, "child": child, "other": other, "applicant": applicant, "case_id": case.id,
            "applicant_child": applicant_child}


def _stored(session) -> dict[tuple[str, int], tuple[str | None, str | None]]:
    """Every encrypted value as the database holds it, with its blind index: (table.column, row id) → both."""
    session.rollback()  # see what the command committed
    found = {}
    for sealed in datakey.sealed_columns():
        pk = sealed.table.c.id
        index = sealed.index if sealed.index is not None else text("NULL")
        rows = session.execute(select(pk, type_coerce(sealed.column, Text), index)
                               .where(sealed.column.is_not(None)))
        for row_id, value, digest in rows:
            found[(sealed.name, row_id)] = (value, digest)
    return found


def _rotate(runner, *args, **kwargs):
    return runner.invoke(args=["keys", "rotate-data", *args], **kwargs)


def _events(session, action=datakey.ACTION):
    session.rollback()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_every_value_is_sealed_under_the_new_key_and_still_found(app, session, world, runner, instance, households,
                                                                 client, auth):
    old_key = app.config["DATA_KEY"]
    old = DataKey(old_key)
    before = _stored(session)
    plain = {where: old.decrypt(value) for where, (value, _digest) in before.items()}
    assert len(before) == 8 and plain[("case_member.id_number", _member_id(session, households["child"]))] \
        == households["child"]

    result = _rotate(runner, "--yes")
    assert result.exit_code == 0, result.output
    new = DataKey((instance / "data_key").read_text())
    after = _stored(session)
    assert after.keys() == before.keys()
    for where, (value, digest) in after.items():
        assert value != before[where][0] and value.startswith(crypto.PREFIX), where
        with pytest.raises(crypto.KeyMissing):
            old.decrypt(value)
        assert new.decrypt(value) == plain[where], where
        if where[0] != "application_member.id_number":
            assert digest == new.blind_index(plain[where]) != old.blind_index(plain[where]), where
    assert "dibao_case.head_id_number: 2" in result.output and "case_member.id_number: 3" in result.output
    assert "of which 2 were written before enc2" in result.output
    assert "checked: 8 values read back with the new key" in result.output
    assert old_key not in result.output and new.id in result.output
    assert (instance / "data_key").read_text() not in result.output

    # The lookups by keyed hash: a second open case for the same head or member is refused, the search finds
    # the household by either number, an account is found by its number, an application by the applicant's.
    staff = user(session, world, "staff_a1")
    with pytest.raises(Conflict):
        register(session, staff, head_id_number=households["head"])
    session.rollback()
    auth.login("staff_a1")
    assert "赵秀兰" in client.get(f"/admin/cases/?q={households['child']}").get_data(as_text=True)
    assert "孙桂英" in client.get(f"/admin/cases/?q={households['other']}").get_data(as_text=True)
    page = client.get(f"/admin/cases/{households['case_id']}").get_data(as_text=True)
    assert "6222 **** **** 0128" in page
    session.expire_all()
    account = session.scalars(select(PaymentAccount).where(PaymentAccount.number_hash == crypto.blind_index(CARD)))
    assert account.one().number == CARD
    found = session.scalars(select(Application).where(Application.head_id_hash
                                                      == crypto.blind_index(households["applicant"]))).one()
    assert found.members[0].id_number == households["applicant_child"]


def _member_id(session, id_number):
    from dibao.models import Member

    return session.scalars(select(Member.id).where(Member.id_number_hash == crypto.blind_index(id_number))).one()


def test_the_key_files_after_a_rotation(app, session, runner, instance, households):
    old = app.config["DATA_KEY"]
    result = _rotate(runner, "--yes")
    assert result.exit_code == 0, result.output
    key_file, retired = instance / "data_key", instance / "data_key.retired-20260318T020000Z"
    new = key_file.read_text()
    assert new != old and crypto.key_problem(new) is None
    assert retired.read_text() == old
    assert sorted(p.name for p in instance.iterdir()) == ["data_key", retired.name]  # no data_key.next left
    assert key_file.stat().st_mode & 0o777 == 0o600 and retired.stat().st_mode & 0o777 == 0o600
    assert app.config["DATA_KEY"] == new  # and installed in the process
    assert f"the old one is in {retired}" in result.output and "you may delete it" in result.output


def test_it_asks_first_and_says_why(app, session, runner, instance, households):
    before = _stored(session)
    result = _rotate(runner, input="n\n")
    assert result.exit_code == 1 and "Aborted" in result.output
    assert "must be stopped" in result.output and "Back up first" in result.output
    assert _stored(session) == before and sorted(p.name for p in instance.iterdir()) == ["data_key"]


def test_a_run_whose_key_files_were_not_swapped_is_finished_by_the_next(app, session, runner, instance, households,
                                                                        monkeypatch):
    """The re-encryption committed, then the machine stopped before data_key.next became data_key."""
    old = app.config["DATA_KEY"]
    plain = {where: DataKey(old).decrypt(value) for where, (value, _d) in _stored(session).items()}
    install = datakey._install

    def power_cut(*_args):
        raise OSError("power cut")

    monkeypatch.setattr(datakey, "_install", power_cut)
    first = _rotate(runner, "--yes")
    assert first.exit_code == 1 and isinstance(first.exception, OSError)
    pending = (instance / "data_key.next").read_text()
    assert (instance / "data_key").read_text() == old
    assert all(DataKey(pending).decrypt(value) == plain[where] for where, (value, _d) in _stored(session).items())

    monkeypatch.setattr(datakey, "_install", install)
    second = _rotate(runner, "--yes")
    assert second.exit_code == 0, second.output
    assert "resuming" in second.output and "of which 8 were under the new key already" in second.output
    assert (instance / "data_key").read_text() == pending and not (instance / "data_key.next").exists()
    assert (instance / "data_key.retired-20260318T020000Z").read_text() == old
    new = DataKey(pending)
    for where, (value, digest) in _stored(session).items():
        assert new.decrypt(value) == plain[where]
        assert digest is None or digest == new.blind_index(plain[where])
    assert len(_events(session)) == 2  # both runs committed, both are on the record


def test_a_run_that_fails_half_way_changes_nothing_and_the_next_finishes(app, session, runner, instance,
                                                                         households, monkeypatch):
    old = app.config["DATA_KEY"]
    before = _stored(session)
    opened = datakey._open
    calls = []

    def crash_on_the_fourth(*args):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("the process was killed")
        return opened(*args)

    monkeypatch.setattr(datakey, "CHUNK", 1)  # rows are written before the crash
    monkeypatch.setattr(datakey, "_open", crash_on_the_fourth)
    first = _rotate(runner, "--yes")
    assert first.exit_code == 1 and isinstance(first.exception, RuntimeError)
    assert _stored(session) == before and _events(session) == []
    assert (instance / "data_key").read_text() == old
    pending = (instance / "data_key.next").read_text()

    monkeypatch.setattr(datakey, "_open", opened)
    second = _rotate(runner, "--yes")
    assert second.exit_code == 0, second.output
    assert (instance / "data_key").read_text() == pending and "under the new key already" not in second.output
    new = DataKey(pending)
    for where, (value, _digest) in _stored(session).items():
        assert new.decrypt(value) == DataKey(old).decrypt(before[where][0])


def test_a_value_no_key_opens_stops_the_rotation_and_changes_nothing(app, session, runner, instance, households):
    stranger = DataKey(crypto.new_key())
    session.execute(text("UPDATE dibao_case SET head_id_number = :v WHERE id = :id"),
                    {"v": stranger.encrypt(households["head"]), "id": households["case_id"]})
    session.commit()
    before = _stored(session)
    result = _rotate(runner, "--yes")
    assert result.exit_code == 1
    assert f"表 dibao_case 第 {households['case_id']} 行的 head_id_number" in result.output
    assert "密钥没有更换，数据没有改动" in result.output and "data_key.next is kept" in result.output
    assert _stored(session) == before and _events(session) == []
    assert (instance / "data_key").read_text() == app.config["DATA_KEY"]
    assert not list(instance.glob("data_key.retired-*"))


@pytest.mark.parametrize("bad", [
    pytest.param("not-a-key", id="words"),
    pytest.param("!" * 43 + "=", id="not-base64"),  # 44 characters (Fernet's decoder would skip them)
    pytest.param(base64.urlsafe_b64encode(bytes(16)).decode(), id="16-bytes"),
    pytest.param("A" * 42 + "==", id="31-bytes"),  # 44 characters of base64
    pytest.param(base64.b64encode(bytes.fromhex("fbffbf" * 10 + "fbff")).decode(), id="standard-base64"),  # + and /
])
def test_a_key_from_the_environment_needs_a_well_formed_new_key(app, session, runner, instance, households,
                                                               monkeypatch, bad):
    monkeypatch.setenv("DIBAO_DATA_KEY", app.config["DATA_KEY"])
    before = _stored(session)
    missing = _rotate(runner, "--yes")
    assert missing.exit_code == 2 and "DIBAO_DATA_KEY is set" in missing.output and "--new-key" in missing.output
    malformed = _rotate(runner, "--yes", "--new-key", bad)
    assert malformed.exit_code == 2 and "not a data key" in malformed.output, malformed.output
    assert "nothing was changed" in malformed.output
    same = _rotate(runner, "--yes", "--new-key", app.config["DATA_KEY"])
    assert same.exit_code == 2 and "the key in use now" in same.output
    assert _stored(session) == before and _events(session) == []
    assert sorted(p.name for p in instance.iterdir()) == ["data_key"]


def test_a_key_from_the_environment_is_replaced_by_the_given_one(app, session, runner, instance, households,
                                                                 monkeypatch):
    old = app.config["DATA_KEY"]
    monkeypatch.setenv("DIBAO_DATA_KEY", old)
    new = crypto.new_key()
    plain = {where: DataKey(old).decrypt(value) for where, (value, _d) in _stored(session).items()}
    result = _rotate(runner, "--yes", "--new-key", new)
    assert result.exit_code == 0, result.output
    assert "set DIBAO_DATA_KEY to the new key" in result.output and "every node" in result.output
    assert new not in result.output and old not in result.output
    for where, (value, _digest) in _stored(session).items():
        assert DataKey(new).decrypt(value) == plain[where]
    # The files are the secret store's business here: nothing written beside the instance's key.
    assert sorted(p.name for p in instance.iterdir()) == ["data_key"]
    assert (instance / "data_key").read_text() == old


def test_the_rotation_is_audited_and_the_chain_verifies(app, session, world, runner, instance, households, client,
                                                        auth):
    old = DataKey(app.config["DATA_KEY"])
    result = _rotate(runner, "--yes")
    assert result.exit_code == 0, result.output
    new_key = (instance / "data_key").read_text()
    (event,) = _events(session)
    details = json.loads(event.details)
    assert event.actor_id is None and event.actor_name == audit.SYSTEM_ACTOR and event.object_id == DataKey(new_key).id
    assert details["key"] == DataKey(new_key).id and details["previous_keys"] == [old.id]
    assert details["values"] == {"dibao_case.head_id_number": 2, "case_member.id_number": 3,
                                 "payment_account.number": 1, "application.head_id_number": 1,
                                 "application_member.id_number": 1}
    assert new_key not in event.details and old.id != details["key"]
    assert audit.verify(session).ok
    auth.login("admin")
    page = client.get("/admin/audit/").get_data(as_text=True)
    assert "更换数据密钥" in page and DataKey(new_key).id in page and new_key not in page


def test_every_encrypted_column_of_the_models_is_rotated(app, session, runner, instance, households):
    """Walk the metadata: every EncryptedString column is rotated (counted), every *_hash column beside one is
    some encrypted column's blind index, and a new encrypted column without a blind index is a decision made
    here, on purpose."""
    encrypted = {f"{t.name}.{c.name}": (t, c) for t in Base.metadata.sorted_tables for c in t.columns
                 if isinstance(c.type, EncryptedString)}
    named = {f"{t.name}.{c.info['blind_index']}" for t, c in encrypted.values() if c.info.get("blind_index")}
    hashes = {f"{t.name}.{c.name}" for t in {t for t, _ in encrypted.values()} for c in t.columns
              if c.name.endswith("_hash")}
    assert hashes == named  # a blind index the rotation would leave under the old key fails here
    assert {name for name, (_t, c) in encrypted.items() if not c.info.get("blind_index")} \
        == {"application_member.id_number"}
    assert all(encrypted[name][0].c[c.info["blind_index"]] is not None
               for name, (_t, c) in encrypted.items() if c.info.get("blind_index"))

    result = _rotate(runner, "--yes")
    assert result.exit_code == 0, result.output
    (event,) = _events(session)
    counts = json.loads(event.details)["values"]
    assert set(counts) == set(encrypted)
    for name, (table, column) in encrypted.items():
        held = session.scalar(select(func.count()).select_from(table).where(column.is_not(None)))
        assert counts[name] == held > 0, name


def test_the_check_after_the_rotation_names_a_value_it_cannot_read(app, session, world):
    staff = user(session, world, "staff_a1")
    case = register(session, staff, members=1)
    cases.set_payment_account(session, staff, case, kind=AccountKind.bank_card, bank_name="阳光农商银行",
                              holder_name="李桂兰", number=CARD)
    session.add(Application(
        tracking_code="TRACK0002", region_id=world.regions["comm_a1"], status=ApplicationStatus.submitted,
        head_name="周玉兰", head_id_number=valid_id(), head_phone="13912345678", head_work_capacity=WorkCapacity.partial,
        address="幸福路 9 号", reason="生活困难", deadline=date(2026, 3, 23), created_at=clock.now(),
        members=[ApplicationMember(position=1, name="周小", relation="子女", age=14, id_number=valid_id("20120101"),
                                   work_capacity=WorkCapacity.none)]))
    session.commit()
    assert datakey.check(session).problems == [] and datakey.check(session).checked == 5
    session.execute(text("UPDATE payment_account SET number_hash = 'x'"))
    session.execute(text("UPDATE application_member SET id_number = :v"), {"v": crypto.encrypt("1")})
    problems = datakey.check(session).problems
    assert any("payment_account.number row" in p and "blind index number_hash does not match" in p for p in problems)
    assert not any("application_member" in p for p in problems)
    session.execute(text("UPDATE case_member SET id_number = 'enc2:AAAA' WHERE id_number IS NOT NULL"))
    assert any("case_member.id_number row" in p and "does not decrypt" in p for p in datakey.check(session).problems)
    session.rollback()
