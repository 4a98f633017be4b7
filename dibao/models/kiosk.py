from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.region import Region
from dibao.models.user import User


class Kiosk(Base):
    """A registered community kiosk (公示终端): a screen in a community hall that opens ``/kiosk/<token>``.

    The token opens that display and nothing else. It is kept in clear so the admin and ``dibao kiosk list``
    can show the display URL again (it grants only a view of the community's open notices, which the kiosk
    shows to anyone in the hall anyway). A revoked kiosk keeps its row for the registry's history.

    ``last_seen_at`` and ``polls`` are written by every poll with one cheap UPDATE (no audit event): the
    admin derives online/offline from them.
    """

    __tablename__ = "kiosk"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), index=True)  # a community
    rotation_seconds: Mapped[int] = mapped_column(Integer, default=20)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    token_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_ip: Mapped[str | None] = mapped_column(String(45))
    polls: Mapped[int] = mapped_column(Integer, default=0)

    region: Mapped[Region] = relationship(lazy="joined")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self) -> str:
        return f"<Kiosk {self.id} {self.name}>"
