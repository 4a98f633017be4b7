from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from dibao.db import Base


class PublicVersion(Base):
    """How often what the public sees has changed, per county (``scope`` = the county's code; "" = every county):
    bumped in the same transaction as the change (dibao.cache), read by one primary-key lookup before any
    public board, kiosk slide or API answer is served from the cache."""

    __tablename__ = "public_version"

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
