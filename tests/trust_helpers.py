"""Helpers for the public-trust tests."""

from __future__ import annotations

from decimal import Decimal

from dibao import kiosks, media, notices
from dibao.models import Level, Region
from tests.factories import case_awaiting_notice
from tests.feedback_helpers import jpeg

HOUSEHOLD = {"head_name": "欧阳秀珍", "address": "甲一社区梧桐巷88号3单元502室", "members": 5,
             "amount": Decimal("2468.00"), "income": Decimal("135.00")}


def _region(session, world, name="comm_a1") -> Region:
    return session.get(Region, world.regions[name])


def publish_household(app, session, world, *, opens_at=None, photo=True):
    """One town-level entry of HOUSEHOLD (with a consented photo), the only one of its community."""
    stored = media.store_image(jpeg(), app.config["MEDIA_DIR"]) if photo else None
    case = case_awaiting_notice(session, _region(session, world), Level.town, head_name=HOUSEHOLD["head_name"],
                                address=HOUSEHOLD["address"], members=HOUSEHOLD["members"],
                                amount=HOUSEHOLD["amount"], income=HOUSEHOLD["income"],
                                photo_key=stored.key if stored else None, photo_consent=bool(stored))
    batch = notices.publish_batch(session, None, level=Level.town, region=_region(session, world, "town_a"),
                                  cases=[case], title="甲镇低保审核公示", opens_at=opens_at)
    kiosk = kiosks.register(session, None, name="活动室公示屏", region=_region(session, world))
    entry = batch.entries[0]  # read before the commit: the session then holds no snapshot older than the
    session.commit()  # requests the test makes
    return entry, kiosk
