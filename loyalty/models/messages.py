"""The SMS outbox."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column
from loyalty.tenancy import TenantScoped


class SmsStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"  # the delivery report said Success
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"  # queued, then withdrawn: the customer opted out or was erased


class SkipReason(StrEnum):
    """Why a message was not sent (`reason` on a skipped row; `error` says it in words)."""

    OPTED_OUT = "opted_out"  # the customer asked for no texts
    MASKED = "masked"        # M-Pesa masked the payer's number: nobody to text
    SANDBOX = "sandbox"      # a sandbox channel's payment to a number not the merchant's own
    QUOTA = "quota"          # the merchant's daily SMS quota was used up
    LINK = "link"            # a link, without an active production channel
    NO_CONSENT = "no_consent"  # a promotional text to a customer without marketing consent
    HASHED = "hashed"        # a promotional text to a payer known only by hash


# A text to the merchant itself with its password-reset code (services/passwords.py). Its
# body holds a secret: once the text is sent, or given up, the body kept in the outbox has
# its digits masked (services/sms_outcomes.py), so a copy of the table reveals no code.
PASSWORD_RESET = "password_reset"


class MessageKind(StrEnum):
    """What the law and Safaricom allow a text (SMS.md 4.4, 4.5): a transactional text (a
    payment's receipt, its reward, a reversal notice) goes at any time; a promotional one
    only with marketing consent, 08:00-18:00 Nairobi time, never by hash, with an opt-out."""

    TRANSACTIONAL = "transactional"
    PROMOTIONAL = "promotional"


SECRET_PURPOSES = frozenset({PASSWORD_RESET})
# The daily SMS quota (services/sms_allowance.py) counts every text but these: a merchant
# who used up its day can still reset its password, and the reset text takes nothing from
# its customers' texts. Its own rate limits (ratelimits.reset_code) bound it instead. The
# index the quota counts with, and its migration (0017), spell the same condition.
QUOTA_EXEMPT_PURPOSE = PASSWORD_RESET


def mask_secret(body: str) -> str:
    """The body of a text whose digits were a secret, as kept once it went out."""
    return "".join("*" if ch.isdigit() else ch for ch in body)


class SmsMessage(TenantScoped, TimestampMixin, db.Model):
    """One text to a customer. Unique per (payment, purpose), so a duplicate callback or a
    replay never queues a second "You earned…" message."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        # The outbox sweep looks only at messages still waiting.
        sa.Index("ix_sms_messages_queued", "updated_at",
                 **partial("status = 'queued'")),
        sa.Index("uq_sms_messages_payment_purpose", "payment_id", "purpose", unique=True,
                 **partial("payment_id IS NOT NULL")),
        # The daily SMS quota counts a merchant's texts of the day that were not skipped
        # and are not its password-reset texts: rows it does not count (e.g. forged
        # sandbox payments) never make that count slower.
        sa.Index("ix_sms_messages_counted", "merchant_id", "created_at",
                 **partial("status <> 'skipped' AND purpose <> 'password_reset'")),
        # Delivery reports name a message by Africa's Talking's id only.
        sa.Index("ix_sms_messages_provider_message_id", "provider_message_id",
                 **partial("provider_message_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("customers.id", ondelete="SET NULL"))
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    purpose: Mapped[str] = mapped_column(sa.String(30))
    # The crediting batch's set-wise INSERT (db/crediting.py) leaves it to the server default.
    kind: Mapped[MessageKind] = mapped_column(enum_column(MessageKind),
                                              default=MessageKind.TRANSACTIONAL,
                                              server_default=MessageKind.TRANSACTIONAL.value)
    # A 12-digit phone, or the payer's SHA-256 when only the hash is known.
    recipient: Mapped[str | None] = mapped_column(sa.String(64))
    recipient_form: Mapped[str | None] = mapped_column(sa.String(10))
    body: Mapped[str] = mapped_column(sa.Text)
    encoding: Mapped[str] = mapped_column(sa.String(10))
    segments: Mapped[int] = mapped_column()
    status: Mapped[SmsStatus] = mapped_column(enum_column(SmsStatus), default=SmsStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    provider_message_id: Mapped[str | None] = mapped_column(sa.String(100))
    error: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[SkipReason | None] = mapped_column(enum_column(SkipReason))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What Africa's Talking charged ("KES 0.8000"), as its send answer said.
    cost: Mapped[str | None] = mapped_column(sa.String(30))
    # From the delivery report: when it reached the phone, or why it did not.
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failure_reason: Mapped[str | None] = mapped_column(sa.String(100))
    # A promotional text is held until its sending window opens (08:00 Nairobi time).
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A sender holds the row until then: the outbox sweep and a redelivered task never send
    # the same message at the same time.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmsDayCount(TenantScoped, db.Model):
    """A merchant's texts of one Nairobi day that count against its daily quota (not
    skipped, not its password-reset texts). Kept by triggers on sms_messages (migration
    0032, PostgreSQL): the quota reads this row instead of counting the day's texts, whose
    number grows all day (services/sms_allowance.py)."""

    __tablename__ = "sms_day_counts"
    __table_args__ = (sa.PrimaryKeyConstraint("merchant_id", "day"),)
    merchant_index = False  # the primary key starts with merchant_id

    day: Mapped[date] = mapped_column(sa.Date)
    texts: Mapped[int] = mapped_column(default=0)
