"""Demo step (issue 6): one kiosk per demo community, each found by its community before it is created."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dibao import kiosks
from dibao.models import Level, Region
from dibao.models.kiosk import Kiosk


def seed_kiosks(session: Session, county: Region) -> int:
    """Register a kiosk in every community of ``county`` that has none yet; returns how many were added."""
    communities = session.scalars(
        select(Region).where(Region.level == Level.community, Region.path.startswith(county.path))
        .order_by(Region.path)
    ).all()
    have = set(session.scalars(select(Kiosk.region_id).where(Kiosk.revoked_at.is_(None))))
    added = 0
    for community in communities:
        if community.id in have:
            continue
        kiosks.register(session, None, name=f"{community.name}活动室公示屏", region=community,
                        rotation_seconds=kiosks.ROTATION_DEFAULT)
        added += 1
    session.flush()
    return added
