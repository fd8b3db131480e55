"""A channel's history: what happened to it, when, and who did it (the merchant, the
platform on its own, a worker's outcome, an operator's command)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.extensions import db
from loyalty.models.base import UTCDateTime, enum_column, utcnow
from loyalty.tenancy import TenantScoped


class ChannelEventKind(StrEnum):
    CREATED = "created"
    VERIFIED = "verified"
    VERIFICATION_FAILED = "verification_failed"
    URLS_REGISTERED = "urls_registered"
    URLS_FAILED = "urls_failed"
    ACTIVATED = "activated"
    DEACTIVATED = "deactivated"
    HEALTH_CHANGED = "health_changed"
    CREDENTIALS_CHANGED = "credentials_changed"
    TOKEN_ROTATED = "token_rotated"


class Actor(StrEnum):
    MERCHANT = "merchant"  # the merchant asked (API or web UI)
    AUTO = "auto"          # the platform acted on the merchant's standing wish (auto_activate)
    SYSTEM = "system"      # a worker's outcome: Safaricom's answer, a health check
    OPERATOR = "operator"  # a platform operator's command (flask …)


class ChannelEvent(TenantScoped, db.Model):
    """Append-only. `detail` never holds a secret: field names, states and reasons only."""

    __tablename__ = "channel_events"
    __table_args__ = (
        # The timeline reads one channel's events newest first.
        sa.Index("ix_channel_events_channel_id_id", "channel_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        sa.ForeignKey("mpesa_channels.id", ondelete="CASCADE"))
    kind: Mapped[ChannelEventKind] = mapped_column(enum_column(ChannelEventKind, length=30))
    actor: Mapped[Actor] = mapped_column(enum_column(Actor))
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
