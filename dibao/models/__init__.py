"""Typed SQLAlchemy models. Import every model module here so Alembic and the mappers see them all."""

from dibao.db import Base
from dibao.models.audit import AuditEvent
from dibao.models.region import Region, RegionLevel
from dibao.models.user import Role, User

__all__ = ["AuditEvent", "Base", "Region", "RegionLevel", "Role", "User"]
