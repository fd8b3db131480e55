"""M-Pesa channels: a merchant's PayBill, Till or Buy Goods number with its own Daraja app."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.crypto import EncryptedText, new_callback_token
from loyalty.db.ddl import exclusion_where, partial
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column, utcnow
from loyalty.tenancy import TenantScoped


class ChannelType(StrEnum):
    PAYBILL = "paybill"
    TILL = "till"
    BUYGOODS = "buygoods"


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


class ChannelStatus(StrEnum):
    DRAFT = "draft"            # credentials missing
    CONFIGURED = "configured"  # consumer key and secret present, not yet checked
    VERIFIED = "verified"      # Safaricom accepted the credentials
    ACTIVE = "active"          # verified, URLs registered, taking payments


class C2BVersion(StrEnum):
    V1 = "v1"
    V2 = "v2"


class ValidationPolicy(StrEnum):
    ACCEPT_ALL = "accept_all"
    REJECT_UNKNOWN = "reject_unknown"


class StepState(StrEnum):
    """State of a step done by a worker (verification, URL registration)."""

    NONE = "none"
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class HealthState(StrEnum):
    UNKNOWN = "unknown"
    HEALTHY = "healthy"
    FAILING = "failing"


class MpesaChannel(TenantScoped, TimestampMixin, db.Model):
    __tablename__ = "mpesa_channels"
    __table_args__ = (
        # Production shortcodes belong to one merchant; sandbox ones (174379) are shared.
        sa.Index("uq_mpesa_channels_production_shortcode", "shortcode", unique=True,
                 **partial("environment = 'production' AND archived_at IS NULL")),
        # A store (head office) number carries a Till's C2B callbacks: one merchant's in
        # production, though that merchant may use it for several tills (migration 0006).
        ExcludeConstraint((sa.column("store_number"), "="), (sa.column("merchant_id"), "<>"),
                          name="ex_mpesa_channels_production_store_number", using="gist",
                          where=exclusion_where("environment = 'production' AND archived_at IS NULL")),
        sa.Index("uq_mpesa_channels_one_primary", "merchant_id", unique=True,
                 **partial("is_primary AND archived_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    shortcode: Mapped[str] = mapped_column(sa.String(10))
    channel_type: Mapped[ChannelType] = mapped_column(enum_column(ChannelType))
    environment: Mapped[Environment] = mapped_column(enum_column(Environment))
    # Till/Buy Goods STK uses the store (or head office) number as BusinessShortCode.
    store_number: Mapped[str | None] = mapped_column(sa.String(10))
    c2b_version: Mapped[C2BVersion] = mapped_column(enum_column(C2BVersion), default=C2BVersion.V2)

    consumer_key: Mapped[str | None] = mapped_column(EncryptedText("mpesa_channels.consumer_key"))
    consumer_secret: Mapped[str | None] = mapped_column(
        EncryptedText("mpesa_channels.consumer_secret"))
    passkey: Mapped[str | None] = mapped_column(EncryptedText("mpesa_channels.passkey"))
    initiator_name: Mapped[str | None] = mapped_column(sa.String(100))
    initiator_password: Mapped[str | None] = mapped_column(
        EncryptedText("mpesa_channels.initiator_password"))
    # "****" + these four characters is all the API ever shows of the consumer key.
    consumer_key_hint: Mapped[str | None] = mapped_column(sa.String(4))

    account_mapping: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    validation_policy: Mapped[ValidationPolicy] = mapped_column(
        enum_column(ValidationPolicy), default=ValidationPolicy.ACCEPT_ALL)
    status: Mapped[ChannelStatus] = mapped_column(enum_column(ChannelStatus),
                                                  default=ChannelStatus.DRAFT)
    is_active: Mapped[bool] = mapped_column(default=False)
    is_primary: Mapped[bool] = mapped_column(default=False)
    # Opaque hex in callback paths: routes callbacks (sandbox shortcodes are shared) and
    # never contains a word Safaricom forbids in URLs.
    callback_token: Mapped[str] = mapped_column(sa.String(64), unique=True,
                                                default=new_callback_token)
    # The token before the last rotation, still routed until it expires (the grace lets
    # Safaricom's registration move to the new URLs without losing a callback).
    previous_callback_token: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    previous_token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    verification_state: Mapped[StepState] = mapped_column(
        enum_column(StepState, name="verification_state"), default=StepState.NONE)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verification_details: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    verification_error: Mapped[str | None] = mapped_column(sa.Text)
    # A stable snake_case code beside the message (the API shows {code, message}); read
    # only while the message is set.
    verification_error_code: Mapped[str | None] = mapped_column(sa.String(40))

    urls_state: Mapped[StepState] = mapped_column(enum_column(StepState, name="urls_state"),
                                                  default=StepState.NONE)
    validation_url: Mapped[str | None] = mapped_column(sa.Text)
    confirmation_url: Mapped[str | None] = mapped_column(sa.Text)
    response_type: Mapped[str | None] = mapped_column(sa.String(10))
    urls_registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    urls_error: Mapped[str | None] = mapped_column(sa.Text)
    urls_error_code: Mapped[str | None] = mapped_column(sa.String(40))

    health_state: Mapped[HealthState] = mapped_column(enum_column(HealthState),
                                                      default=HealthState.UNKNOWN)
    health_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    health_error: Mapped[str | None] = mapped_column(sa.Text)

    # Pull Transactions (reconciliation of missed confirmations): registered once per
    # shortcode with a Safaricom phone of the organisation.
    pull_state: Mapped[StepState] = mapped_column(enum_column(StepState, name="pull_state"),
                                                  default=StepState.NONE)
    pull_nominated_number: Mapped[str | None] = mapped_column(sa.String(12))
    pull_registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pull_last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pull_error: Mapped[str | None] = mapped_column(sa.Text)

    # Activate by itself once verification and URL registration have both succeeded
    # (services/channel_setup.py); a merchant's own deactivation turns it off.
    auto_activate: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Text the merchant's own phone when the channel activates itself or starts failing
    # its health check (the UI tells either way).
    notify_by_sms: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # When the merchant paused the channel: it then stays inactive, whatever a later
    # verification finds, until the merchant activates it again.
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def has_credentials(self) -> bool:
        return bool(self.consumer_key and self.consumer_secret)

    @property
    def previous_token_valid_until(self) -> datetime | None:
        """When the token before the last rotation stops routing; None once it has."""
        expires = self.previous_token_expires_at
        if self.previous_callback_token and expires and expires > utcnow():
            return expires
        return None

    @property
    def has_initiator(self) -> bool:
        """An API operator is configured: Account Balance, Transaction Status, Reversal."""
        return bool(self.initiator_name and self.initiator_password)

    @property
    def c2b_shortcode(self) -> str:
        """The number C2B URLs are registered for and callbacks carry."""
        if self.channel_type == ChannelType.PAYBILL:
            return self.shortcode
        return self.store_number or self.shortcode


CALLBACK_PATHS = {
    "validation": "c2b/validation",
    "confirmation": "c2b/confirmation",
    "stk": "stk",
    "balance_result": "result/balance",
    "balance_timeout": "timeout/balance",
    "status_result": "result/status",
    "status_timeout": "timeout/status",
    # Pull registration asks for a CallBackURL; what (if anything) arrives is kept verbatim.
    "pull_result": "result/pull",
    "reversal_result": "result/reversal",
    "reversal_timeout": "timeout/reversal",
}


def callback_urls(base_url: str, token: str) -> dict[str, str]:
    """The platform's own callback URLs for a channel (no merchant names: see url_rules)."""
    return {name: f"{base_url}/hooks/{token}/{path}" for name, path in CALLBACK_PATHS.items()}
