"""Customers of a merchant: known by phone, or only by the hash Safaricom sends."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime
from loyalty.tenancy import TenantScoped


class Customer(TenantScoped, TimestampMixin, db.Model):
    """A payer. `phone_hash` is SHA-256 of the 12-digit 254… number, the form C2B callbacks
    carry; a payer seen only by hash is a customer with no phone until they enrol
    ("earn now, claim later")."""

    __tablename__ = "customers"
    merchant_index = False  # the unique constraint leads with merchant_id
    __table_args__ = (sa.UniqueConstraint("merchant_id", "phone_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(sa.String(12))
    phone_hash: Mapped[str] = mapped_column(sa.String(64))
    first_name: Mapped[str | None] = mapped_column(sa.String(100))
    middle_name: Mapped[str | None] = mapped_column(sa.String(100))
    last_name: Mapped[str | None] = mapped_column(sa.String(100))
    sms_opt_out: Mapped[bool] = mapped_column(default=False)
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Balance(TenantScoped, db.Model):
    """Points and stamps per customer and program: a projection of the ledger, updated in
    the same transaction as the entries that change it."""

    __tablename__ = "balances"
    merchant_index = False  # the unique constraint leads with merchant_id
    __table_args__ = (sa.UniqueConstraint("merchant_id", "customer_id", "program_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"),
                                             index=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("loyalty_programs.id", ondelete="CASCADE"))
    points: Mapped[int] = mapped_column(default=0)
    lifetime_points: Mapped[int] = mapped_column(default=0)
    stamps: Mapped[int] = mapped_column(default=0)
    rewards_earned: Mapped[int] = mapped_column(default=0)
