"""Issue 4: the disclosure module — each channel's defaults, consent for photos, the admin's policy."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from dibao import disclosure
from dibao.disclosure import DEFAULT, Channel, Field, mask_name, present
from dibao.errors import Forbidden, Invalid
from dibao.models import Decision, User

SNAP = SimpleNamespace(
    head_name="欧阳小明", address="甲一社区幸福路3号2栋1单元502室", public_address="甲一社区幸福路3号2栋",
    household_size=3, household_income=Decimal("450"), monthly_amount=Decimal("1890.5"), category=2,
    photo_key="img-abc.jpg", opinion_decision=Decision.approve, opinion_text="同意纳入低保。",
    opinion_author="评议小组", opinion_at=datetime(2026, 3, 1, tzinfo=UTC),
    case=SimpleNamespace(photo_key="img-abc.jpg", photo_consent=True),  # consent still stands (read time)
    # Not part of any snapshot — here only to prove nothing passes them through.
    head_id_number="110101195003071234", head_phone="13812345678",
)


def test_mask_name():
    assert [mask_name(n) for n in ("张", "张三", "张小明", "欧阳小明")] == ["张", "张*", "张*明", "欧**明"]


@pytest.mark.parametrize("channel", [Channel.kiosk, Channel.print])
def test_inside_the_community_the_seeds_fields(channel):
    shown = present(SNAP, channel)
    assert shown == {
        "name": "欧阳小明", "address": "甲一社区幸福路3号2栋1单元502室", "photo_key": "img-abc.jpg",
        "household_size": 3, "household_income": "450.00", "monthly_amount": "1890.50",
        "opinion_decision": "approve", "opinion_text": "同意纳入低保。",
    }


@pytest.mark.parametrize("channel", [Channel.web, Channel.api])
def test_outside_masked_name_public_address_no_photo_no_income(channel):
    shown = present(SNAP, channel)
    assert shown == {
        "name": "欧**明", "address": "甲一社区幸福路3号2栋", "household_size": 3, "monthly_amount": "1890.50",
        "opinion_decision": "approve", "opinion_text": "同意纳入低保。",
    }


def test_no_channel_ever_shows_id_or_phone_whatever_the_policy():
    everything = disclosure.Policy({ch: {f: disclosure.FIELD_MODES[f][0] for f in Field} for ch in Channel})
    for channel in Channel:
        values = " ".join(str(v) for v in present(SNAP, channel, everything).values())
        assert "110101195003071234" not in values and "13812345678" not in values


def test_photo_only_with_consent():
    no_photo = SimpleNamespace(**{**vars(SNAP), "photo_key": None})  # the snapshot drops it without consent
    assert "photo_key" not in present(no_photo, Channel.kiosk)


def test_roster_line_is_name_size_amount():
    case = SimpleNamespace(head_name="张小明", address="完整地址1单元", public_address="某社区", household_size=2,
                           monthly_amount=Decimal("900"), household_income=Decimal("100"), region=None)
    assert disclosure.present_roster(case, Channel.web) == {
        "name": "张*明", "address": "某社区", "household_size": 2, "monthly_amount": "900.00"}
    assert "household_income" not in disclosure.present_roster(case, Channel.print)
    # a notice's full address on the kiosk and the printed board; the standing roster's at most the public one
    assert present(SimpleNamespace(**{**vars(SNAP), "address": "完整地址1单元"}), Channel.kiosk)["address"] == "完整地址1单元"
    for channel in Channel:
        assert disclosure.present_roster(case, channel).get("address") in (None, "某社区"), channel


def _grid(**changes):
    rules = {ch: {f: DEFAULT.mode(ch, f) for f in Field} for ch in Channel}
    for key, mode in changes.items():
        ch, f = key.split("__")
        rules[Channel(ch)][Field(f)] = mode
    return rules


def test_admin_policy_overrides_defaults_and_is_audited(app, world, session):
    admin = session.scalar(select(User).where(User.username == "admin"))
    county = session.scalar(select(User).where(User.username == "county"))
    region = admin.region
    assert disclosure.load_policy(session, region).mode(Channel.web, Field.name) == "masked"
    with pytest.raises(Forbidden):
        disclosure.save_policy(session, county, region, _grid(web__name="full"))
    with pytest.raises(Invalid):
        disclosure.save_policy(session, admin, region, _grid(web__photo="masked"))
    disclosure.save_policy(session, admin, region, _grid(web__name="hidden", kiosk__income="hidden"))
    session.commit()
    policy = disclosure.load_policy(session, region)
    assert policy.mode(Channel.web, Field.name) == "hidden" and policy.mode(Channel.kiosk, Field.income) == "hidden"
    assert "name" not in present(SNAP, Channel.web, policy)
    assert "household_income" not in present(SNAP, Channel.kiosk, policy)
    assert present(SNAP, Channel.api, policy)["name"] == "欧**明"  # other cells unchanged
    assert disclosure.policy_version(policy) != disclosure.policy_version(DEFAULT)
