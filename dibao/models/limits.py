from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dibao.db import Base


class RateLimitCounter(Base):
    """One fixed-window counter of Flask-Limiter, shared by every worker and server on the database
    (dibao.ratelimits.DatabaseStorage)."""

    __tablename__ = "rate_limit"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    # Seconds since the epoch on the limits library's clock (time.time()), as its other storages keep them.
    expires_at: Mapped[float] = mapped_column(Float, index=True)
