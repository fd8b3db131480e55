"""Customers of a merchant: known by phone, or only by the hash Safaricom sends."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column, utcnow
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
    # Express consent to offers and reminders (DPA s.37, reg. 15): never implied by paying.
    # The crediting batch's set-wise INSERT (db/crediting.py) leaves it to the server default.
    marketing_consent: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The language of their texts (`en`, `sw`); None follows the merchant's `sms_language`,
    # so a merchant who switches to Swahili switches everyone who never chose.
    language: Mapped[str | None] = mapped_column(sa.String(2))
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by erasure (services/erasure.py): names and phone gone, phone_hash a tombstone.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ConsentSource(StrEnum):
    """Who changed a customer's consent."""

    API = "api"          # the merchant, through the REST API
    WEB = "web"          # the merchant, on the customer's page
    SMS = "sms"          # the customer, by texting STOP / START
    GATEWAY = "gateway"  # Africa's Talking: an opt-out notification or a blacklisted send


class ConsentKind(StrEnum):
    SMS_OPT_OUT = "sms_opt_out"
    MARKETING_CONSENT = "marketing_consent"


class ConsentEvent(TenantScoped, db.Model):
    """One change of a customer's consent: the proof a merchant shows the Data Commissioner
    (when, by whom, what). Appended by services/consent.py only, never updated."""

    __tablename__ = "consent_events"
    __table_args__ = (sa.Index("ix_consent_events_customer", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(sa.ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[ConsentKind] = mapped_column(enum_column(ConsentKind, length=30))
    value: Mapped[bool] = mapped_column()
    source: Mapped[ConsentSource] = mapped_column(enum_column(ConsentSource))
    # What happened, in words ("STOP to 21234", "406 UserInBlacklist"); never a phone number.
    detail: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


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
    # Rewards handed over; rewards_earned - rewards_redeemed are waiting for the customer.
    # The crediting batch's set-wise INSERT leaves it to the server default.
    rewards_redeemed: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def rewards_available(self) -> int:
        return max(0, self.rewards_earned - self.rewards_redeemed)
