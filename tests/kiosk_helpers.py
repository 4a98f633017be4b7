"""Helpers for the kiosk tests."""

from __future__ import annotations

from dibao import kiosks, notices
from dibao.models import Level, Region
from dibao.models.kiosk import Kiosk
from tests.factories import case_awaiting_notice


def register(session, region_id: int, *, rotation_seconds=20, name="活动室公示屏") -> Kiosk:
    kiosk = kiosks.register(session, None, name=name, region=session.get(Region, region_id),
                            rotation_seconds=rotation_seconds)
    session.commit()
    return kiosk


def publish(session, region_id: int, names, *, title="社区初审公示", window_days=7, level=Level.community, **kw):
    region = session.get(Region, region_id)
    cases = [case_awaiting_notice(session, region, level, head_name=n, **kw) for n in names]
    batch = notices.publish_batch(session, None, level=level, region=region, cases=cases, title=title,
                                  window_days=window_days)
    session.commit()
    return batch
