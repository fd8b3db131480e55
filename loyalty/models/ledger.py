"""The append-only points ledger, redemptions and adjustments."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import UTCDateTime, enum_column, utcnow
from loyalty.tenancy import TenantScoped


class EntryKind(StrEnum):
    EARN = "earn"
    STAMP = "stamp"
    REDEEM = "redeem"
    EXPIRE = "expire"
    REVERSE = "reverse"
    ADJUST = "adjust"


# The description of the stamp entry that completed a card: "Reward: free delivery". The
# API reads the reward a payment issued back from it (Payment.reward_issued).
REWARD_PREFIX = "Reward: "


class LedgerEntry(TenantScoped, db.Model):
    """One change of a customer's points or stamps. Never updated except `remaining`, the
    unspent part of an earn (redemptions and expiry spend the oldest earns first)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        # Crediting is exactly-once: one earn (or stamp) per payment, enforced here.
        sa.Index("uq_ledger_entries_payment_kind", "payment_id", "kind", unique=True,
                 **partial("payment_id IS NOT NULL")),
        sa.Index("ix_ledger_entries_customer_program", "customer_id", "program_id", "id"),
        sa.Index("ix_ledger_entries_open_earns", "program_id", "created_at",
                 **partial("remaining > 0")),
        # An experiment's results sum its entries' points; only those entries are indexed.
        sa.Index("ix_ledger_entries_experiment", "experiment_id", "customer_id",
                 **partial("experiment_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("loyalty_programs.id", ondelete="CASCADE"))
    kind: Mapped[EntryKind] = mapped_column(enum_column(EntryKind))
    points: Mapped[int] = mapped_column(default=0)
    stamps: Mapped[int] = mapped_column(default=0)
    remaining: Mapped[int] = mapped_column(default=0)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    redemption_id: Mapped[int | None] = mapped_column(sa.ForeignKey("redemptions.id"))
    adjustment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("adjustments.id"))
    description: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The experiment and variant whose rule earned this entry (None: the program's own).
    experiment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("experiments.id",
                                                                    ondelete="SET NULL"))
    variant: Mapped[str | None] = mapped_column(sa.String(20))


class Redemption(TenantScoped, db.Model):
    __tablename__ = "redemptions"
    merchant_index = False  # the unique constraint leads with merchant_id
    __table_args__ = (sa.UniqueConstraint("merchant_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("loyalty_programs.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column()
    # Stamp-card rewards handed over by this redemption (points is then 0).
    rewards: Mapped[int] = mapped_column(default=0, server_default="0")
    description: Mapped[str | None] = mapped_column(sa.String(200))
    idempotency_key: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Adjustment(TenantScoped, db.Model):
    """Points added or taken away by the merchant by hand (a correction, a goodwill grant)."""

    __tablename__ = "adjustments"
    merchant_index = False  # the unique constraint leads with merchant_id
    __table_args__ = (sa.UniqueConstraint("merchant_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("loyalty_programs.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column()  # signed, never 0
    reason: Mapped[str] = mapped_column(sa.String(200))
    idempotency_key: Mapped[str] = mapped_column(sa.String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
