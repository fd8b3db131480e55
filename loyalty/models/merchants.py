"""Merchants (the tenants) and their API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column

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

    def get_id(self) -> str:
        """What Flask-Login keeps in the session and the remember-me cookie (both signed
        with SECRET_KEY): the id and the session version, so a password change ends every
        session and cookie issued before it."""
        return f"{self.id}:{self.session_version}"


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
