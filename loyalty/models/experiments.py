"""Experiments on a program's earning rule: variants, a split, and who got which."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column
from loyalty.models.programs import LoyaltyProgram
from loyalty.tenancy import TenantScoped


class ExperimentStatus(StrEnum):
    DRAFT = "draft"        # planned, nobody enrolled yet
    RUNNING = "running"    # payers are being assigned and credited by their variant
    STOPPED = "stopped"    # no new payers; results stay readable
    PROMOTED = "promoted"  # stopped, and one variant's rule written into the program


class Method(StrEnum):
    FIXED = "fixed"
    SEQUENTIAL = "sequential"


class Experiment(TenantScoped, TimestampMixin, db.Model):
    """`variants` [{"key", "rule"}] and `split` (percentages, same order) never change after
    creation: the bucket of a payer is a pure function of them and the salt, which is what
    keeps an assignment sticky on both crediting paths."""

    __tablename__ = "experiments"
    __table_args__ = (
        # At most one running experiment per program, enforced by the database.
        sa.Index("uq_experiments_one_running", "program_id", unique=True,
                 **partial("status = 'running'")),
        sa.CheckConstraint("metric_days BETWEEN 1 AND 90", name="metric_days_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("loyalty_programs.id",
                                                          ondelete="CASCADE"), index=True)
    channel_ids: Mapped[list[int] | None] = mapped_column(sa.JSON)
    variants: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)
    split: Mapped[list[int]] = mapped_column(sa.JSON)
    metric_days: Mapped[int] = mapped_column()
    minimum_detectable_effect: Mapped[Decimal] = mapped_column(sa.Numeric(6, 4))
    method: Mapped[Method] = mapped_column(enum_column(Method))
    status: Mapped[ExperimentStatus] = mapped_column(enum_column(ExperimentStatus),
                                                     default=ExperimentStatus.DRAFT)
    salt: Mapped[str] = mapped_column(sa.String(32))
    plan: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    promoted_variant: Mapped[str | None] = mapped_column(sa.String(20))

    program: Mapped[LoyaltyProgram] = relationship(lazy="joined")


class ExperimentAssignment(TenantScoped, db.Model):
    """A payer's variant, fixed at their first eligible payment (unique per experiment)."""

    __tablename__ = "experiment_assignments"
    merchant_index = False  # read by experiment; the unique index leads with it
    __table_args__ = (sa.UniqueConstraint("experiment_id", "unit_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    experiment_id: Mapped[int] = mapped_column(sa.ForeignKey("experiments.id",
                                                             ondelete="CASCADE"))
    unit_key: Mapped[str] = mapped_column(sa.String(64))
    variant: Mapped[str] = mapped_column(sa.String(20))
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id", ondelete="CASCADE"))
    first_paid_at: Mapped[datetime] = mapped_column(UTCDateTime())
