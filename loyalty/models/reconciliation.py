"""Reconciliation runs: one Pull Transactions sweep of a channel over a time window."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import UTCDateTime, enum_column, utcnow
from loyalty.tenancy import TenantScoped


class RunState(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class RunTrigger(StrEnum):
    MERCHANT = "merchant"    # POST /mpesa-channels/{id}/reconcile
    SCHEDULE = "schedule"    # beat, every RECONCILE_INTERVAL


class ReconciliationRun(TenantScoped, db.Model):
    """What one run saw and did. Every row it read is counted once: rows_seen =
    already_known + recovered + ignored + skipped, so an accountant can check the sums."""

    __tablename__ = "reconciliation_runs"
    merchant_index = False  # the index below leads with merchant_id
    __table_args__ = (
        sa.Index("ix_reconciliation_runs_channel", "merchant_id", "channel_id", "id"),
        # One run of a channel at a time, also when two requests race.
        sa.Index("uq_reconciliation_runs_running", "channel_id", unique=True,
                 **partial("state = 'running'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(sa.ForeignKey("mpesa_channels.id"))
    trigger: Mapped[RunTrigger] = mapped_column(enum_column(RunTrigger))
    window_from: Mapped[datetime] = mapped_column(UTCDateTime())
    window_to: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[RunState] = mapped_column(enum_column(RunState), default=RunState.RUNNING)
    pages: Mapped[int] = mapped_column(default=0)
    rows_seen: Mapped[int] = mapped_column(default=0)
    already_known: Mapped[int] = mapped_column(default=0)
    recovered: Mapped[int] = mapped_column(default=0)
    ignored: Mapped[int] = mapped_column(default=0)  # readable, but not a C2B payment
    skipped: Mapped[int] = mapped_column(default=0)  # unreadable: see skipped_reasons
    skipped_reasons: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str | None] = mapped_column(sa.Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
