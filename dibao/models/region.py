from __future__ import annotations

import enum

from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base


class Level(enum.StrEnum):
    """The three levels, bottom up: a region's level, and the level that reviews, opines and notices a case
    (each level has an opinion, together the 三公布, and may have a notice round)."""

    community = "community"  # 社区（村）
    town = "town"  # 乡镇（街道）
    county = "county"  # 县（区）


# The level a child of each level has.
CHILD_LEVEL = {Level.county: Level.town, Level.town: Level.community}


class Region(Base):
    """行政区划: county → town (乡镇/街道) → community (社区/村).

    ``code`` is stable and public (it appears in URLs); ``path`` is the chain of codes from the
    county down ("/341322/341322101/"), so a subtree is one prefix match.
    """

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[Level] = mapped_column(Enum(Level, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"), index=True)
    path: Mapped[str] = mapped_column(String(400), index=True)

    parent: Mapped[Region | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Region]] = relationship(back_populates="parent", order_by="Region.code")

    def contains(self, other: Region) -> bool:
        return other.path.startswith(self.path)

    @property
    def full_name(self) -> str:
        names = []
        node: Region | None = self
        while node is not None:
            names.append(node.name)
            node = node.parent
        return "".join(reversed(names))

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"
