"""Enums are stored as short strings (no native database enum types: migrations stay simple)."""

from __future__ import annotations

import enum

from sqlalchemy import Enum
from sqlalchemy.orm import mapped_column


def enum_column(cls: type[enum.Enum], **kwargs):
    return mapped_column(Enum(cls, native_enum=False, length=32), **kwargs)
