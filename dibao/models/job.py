"""A background job (后台任务): an import, an export, and later 提标 or a payment run, run by the worker."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dibao.db import Base, UTCDateTime
from dibao.models.enumtype import enum_column
from dibao.models.region import Region
from dibao.models.user import User


class JobStatus(enum.StrEnum):
    queued = "queued"  # 排队中
    running = "running"  # 进行中
    done = "done"  # 已完成
    failed = "failed"  # 失败
    cancelled = "cancelled"  # 已取消


class Job(Base):
    """One run of a registered job kind (dibao.jobs.KINDS) with its parameters, for the user who started it.

    The final status, result and error are written in the same transaction as the job's own changes, so a
    job that is ``done`` did all its work and one that is not did none of it. Live progress, the cancel
    request and the heartbeat live in the task queue's storage (dibao.jobs), not here.
    """

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(200))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON
    status: Mapped[JobStatus] = enum_column(JobStatus, index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_by_name: Mapped[str] = mapped_column(String(100))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))  # the starter's region
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)  # shown to the user who started the job
    result: Mapped[str | None] = mapped_column(Text)  # JSON: the kind's report
    file_name: Mapped[str | None] = mapped_column(String(200))  # an export's file, under the jobs directory

    created_by: Mapped[User | None] = relationship()
    region: Mapped[Region | None] = relationship()
