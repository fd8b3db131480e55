"""Webhooks to the merchant: its endpoints, one delivery per (endpoint, event), and the
HTTP attempts of each delivery."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.crypto import EncryptedText
from loyalty.db.ddl import partial
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column, utcnow
from loyalty.tenancy import TenantScoped


class EventType(StrEnum):
    PAYMENT_RECEIVED = "payment.received"    # Safaricom's confirmation, its body relayed
    PAYMENT_CREDITED = "payment.credited"
    PAYMENT_REVERSED = "payment.reversed"
    CHANNEL_STATUS_CHANGED = "channel.status_changed"
    SMS_DELIVERY_FAILED = "sms.delivery_failed"


# What `flask webhooks test` sends; never chosen by a merchant, always delivered.
TEST_EVENT = "webhook.test"


class EndpointState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # by the merchant, or after failing for WEBHOOK_DISABLE_HOURS


class DeliveryStatus(StrEnum):
    PENDING = "pending"      # to be sent (again) at next_attempt_at
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"        # no 2xx within the retry window, or the endpoint was disabled


class WebhookEndpoint(TenantScoped, TimestampMixin, db.Model):
    """A URL of the merchant's own systems and the events it receives."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2048))
    description: Mapped[str | None] = mapped_column(sa.String(200))
    events: Mapped[list[str]] = mapped_column(sa.JSON)
    # Only this channel's payments and status (null: every channel of the merchant).
    channel_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("mpesa_channels.id", ondelete="CASCADE"))
    # The signing secret, encrypted at rest like Daraja credentials; shown once.
    secret: Mapped[str] = mapped_column(EncryptedText("webhook_endpoints.secret"))
    # After a rotation the old secret signs too (a second v1) until this time, so the
    # merchant's receivers can switch over without losing a delivery.
    previous_secret: Mapped[str | None] = mapped_column(
        EncryptedText("webhook_endpoints.previous_secret"))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[EndpointState] = mapped_column(enum_column(EndpointState),
                                                 default=EndpointState.ACTIVE)
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set by the first failed attempt after a success; cleared by the next success.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookDelivery(TenantScoped, TimestampMixin, db.Model):
    """One event for one endpoint: the outbox row, written in the same transaction as what
    it describes, then sent (and retried) by the `webhooks` queue. Unique per (endpoint,
    event type, source object): a duplicate callback or a replayed crediting writes
    nothing new, so a receiver sees each event once (and its id again only on a retry)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("endpoint_id", "event_type", "source_key"),
        sa.UniqueConstraint("event_id"),
        # The sweep reads only deliveries waiting to be sent.
        sa.Index("ix_webhook_deliveries_due", "next_attempt_at",
                 **partial("status = 'pending'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(sa.String(40))
    event_type: Mapped[str] = mapped_column(sa.String(40))
    # What the event is about: "payment:17", "sms:5", "channel:3:active:…" (a channel
    # changes state many times; each change is its own event).
    source_key: Mapped[str] = mapped_column(sa.String(100))
    # The exact bytes sent (and signed) on every attempt, so a retry is the same body.
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus),
                                                   default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A sender holds the row until then: the sweep and a redelivered task never send the
    # same delivery at the same time.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status_code: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookAttempt(TenantScoped, db.Model):
    """One HTTP request of a delivery, with the answer (or why there was none)."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    trigger: Mapped[str] = mapped_column(sa.String(10))  # auto | replay
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_code: Mapped[int | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(sa.Text)
    duration_ms: Mapped[int] = mapped_column(default=0)

