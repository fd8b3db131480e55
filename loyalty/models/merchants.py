"""Merchants (the tenants) and their API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column

from loyalty.crypto import EncryptedText, new_public_id
from loyalty.extensions import db
from loyalty.models.base import TimestampMixin, UTCDateTime, enum_column, utcnow
from loyalty.tenancy import TenantScoped


class BusinessType(StrEnum):
    RETAIL = "RETAIL"
    RESTAURANT = "RESTAURANT"
    SERVICES = "SERVICES"
    HOSPITALITY = "HOSPITALITY"
    OTHER = "OTHER"


class Merchant(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "merchants"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_name: Mapped[str] = mapped_column(sa.String(200))
    owner_name: Mapped[str] = mapped_column(sa.String(200))
    # Stored lower-cased so uniqueness is case-insensitive on every backend.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    phone: Mapped[str] = mapped_column(sa.String(12))
    business_type: Mapped[BusinessType] = mapped_column(enum_column(BusinessType))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # The old single-credential setup kept one till per merchant; channels replace it.
    mpesa_till_number: Mapped[str | None] = mapped_column(sa.String(20))
    is_active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())
    # Up to five phones (2547XXXXXXXX) that a sandbox channel's receipts may go to besides
    # the merchant's own (SANDBOX_SMS_POLICY=restricted: no texts to strangers from sandbox).
    sms_test_numbers: Mapped[list[str]] = mapped_column(sa.JSON, default=list,
                                                        server_default="[]")

    # Part of every web session and remember-me cookie (get_id): a password change raises
    # it, and the user loader refuses a cookie that carries an older one (web/auth.py).
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # The word a customer texts after STOP to stop this merchant's texts only ("STOP ACME");
    # unique across merchants, upper case (services/inbound_sms.py).
    sms_keyword: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    # The language of texts to customers who never chose one (customers.language).
    sms_language: Mapped[str] = mapped_column(sa.String(2), default="en", server_default="en")

    # White-label (services/branding.py). The public id names the merchant in public URLs
    # (/brand/<public_id>/logo.png) without giving away how many merchants there are.
    public_id: Mapped[str] = mapped_column(sa.String(16), unique=True,
                                           default=new_public_id)
    brand_display_name: Mapped[str | None] = mapped_column(sa.String(60))
    brand_primary_color: Mapped[str | None] = mapped_column(sa.String(7))
    brand_accent_color: Mapped[str | None] = mapped_column(sa.String(7))
    # The re-encoded PNG (at most 256 px, a few KiB): in the database, so every web process
    # serves it without a shared disk. Deferred: the merchant row is read on every request.
    logo_png: Mapped[bytes | None] = mapped_column(sa.LargeBinary, deferred=True)
    logo_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The merchant's own Africa's Talking account (optional); the key encrypted like
    # Daraja secrets and never returned.
    sms_username: Mapped[str | None] = mapped_column(sa.String(100))
    sms_api_key: Mapped[str | None] = mapped_column(EncryptedText("merchants.sms_api_key"))

    @property
    def branding(self) -> dict:
        """The branding as the API shows it (services/branding.py sets it)."""
        version = (int(self.logo_updated_at.timestamp()) if self.logo_updated_at else None)
        return {"display_name": self.brand_display_name,
                "primary_color": self.brand_primary_color,
                "accent_color": self.brand_accent_color,
                "logo_url": f"/brand/{self.public_id}/logo.png?v={version}" if version else None}

    @property
    def sender_name(self) -> str:
        """What `{merchant}` renders in texts: the display name when set."""
        return self.brand_display_name or self.business_name

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie (both signed
        with SECRET_KEY): the id and the session version, so a password change ends every
        session and cookie issued before it."""
        return f"{self.id}:{self.session_version}"


class SenderIdCategory(StrEnum):
    """Safaricom registers a sender ID for one category (SMS.md 3.5, 4.4)."""

    TRANSACTIONAL = "transactional"
    PROMOTIONAL = "promotional"


class SenderIdState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class SenderId(TenantScoped, TimestampMixin, db.Model):
    """A merchant's alphanumeric sender ID for one category, requested by the merchant and
    approved or rejected by the platform's operator (`flask sender-ids`)."""

    __tablename__ = "sender_ids"
    __table_args__ = (sa.UniqueConstraint("merchant_id", "category"),)
    merchant_index = False  # the unique constraint starts with merchant_id

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[SenderIdCategory] = mapped_column(enum_column(SenderIdCategory))
    sender_id: Mapped[str] = mapped_column(sa.String(11))
    state: Mapped[SenderIdState] = mapped_column(enum_column(SenderIdState))
    reason: Mapped[str | None] = mapped_column(sa.String(300))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ApiKey(TenantScoped, TimestampMixin, db.Model):
    """An API key; only its SHA-256 is stored, the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The first characters, so a merchant can tell keys apart without the secret.
    prefix: Mapped[str] = mapped_column(sa.String(16))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PasswordReset(TenantScoped, db.Model):
    """The one live password-reset code of a merchant, texted to its phone
    (services/passwords.py). Only an HMAC of the code is kept, keyed with a key derived
    from SECRET_KEY: six digits are too few for a plain hash to hide them."""

    __tablename__ = "password_resets"
    __table_args__ = (sa.UniqueConstraint("merchant_id"),)
    merchant_index = False  # the unique constraint is on merchant_id

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    salt: Mapped[str] = mapped_column(sa.String(32))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Every try counts, right or wrong, before the code is compared (never more than 5).
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
