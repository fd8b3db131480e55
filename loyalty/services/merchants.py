"""Registering merchants, their profile, and authenticating API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from loyalty import crypto
from loyalty.db import api_keys as key_statements
from loyalty.db.alone import execute_alone
from loyalty.errors import Conflict, NotFound, Unauthorized
from loyalty.extensions import db
from loyalty.models import DEFAULT_PROGRAM_CODE, ApiKey, LoyaltyProgram, Merchant
from loyalty.models.base import utcnow
from loyalty.services import branding
from loyalty.services.pages import keyset_page
from loyalty.tenancy import all_merchants, current_merchant_id, tenant_context
from loyalty.unit_of_work import transactional, unit_of_work


@dataclass(frozen=True)
class Registration:
    merchant: Merchant
    api_key: str | None  # None when registered without one (the web sign-up)


@transactional
def register_merchant(*, business_name: str, owner_name: str, email: str, phone: str,
                      business_type: str, password: str,
                      api_key_name: str | None = "Default key") -> Registration:
    """Create a merchant with the default `loyalty` program and, unless `api_key_name` is
    None, a first API key (the API's sign-up answers with it; the web sign-up makes none,
    since a key is only worth having when it is shown, and a merchant creates one when
    their own systems need it).

    Raises Conflict when the email is already registered.
    """
    email = email.strip().lower()
    if _email_taken(email):
        raise Conflict(f"A merchant with the email {email} is already registered.",
                       code="email_taken")
    merchant = Merchant(business_name=business_name, owner_name=owner_name, email=email,
                        phone=phone, business_type=business_type,
                        password_hash=generate_password_hash(password))
    db.session.add(merchant)
    try:
        db.session.flush()
    except IntegrityError:  # a concurrent registration won the race for this email
        raise Conflict(f"A merchant with the email {email} is already registered.",
                       code="email_taken") from None
    with tenant_context(merchant.id):
        key = _add_api_key(api_key_name)[1] if api_key_name else None
        db.session.add(LoyaltyProgram(code=DEFAULT_PROGRAM_CODE, name="Loyalty",
                                      points_per_unit=1, is_default=True))
        db.session.flush()
    return Registration(merchant=merchant, api_key=key)


def _email_taken(email: str) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(Merchant.email == email)))


def get_current_merchant() -> Merchant:
    """The current merchant; NotFound if it was removed meanwhile."""
    merchant = db.session.get(Merchant, current_merchant_id())
    if merchant is None:
        raise NotFound("Merchant not found.")
    return merchant


def get_merchant(merchant_id: int) -> Merchant | None:
    """A merchant by id (merchants are the tenants themselves, so not tenant-scoped)."""
    return db.session.get(Merchant, merchant_id)


@transactional
def update_current_merchant(changes: dict[str, Any]) -> Merchant:
    """Change the caller's profile fields (email and password are not editable here) and
    its branding (services/branding.py checks the colours' contrast)."""
    merchant = get_current_merchant()
    keyword = changes.get("sms_keyword")
    if keyword and keyword != merchant.sms_keyword:
        with all_merchants():  # keywords are unique across merchants (STOP <keyword>)
            taken = db.session.scalar(sa.select(Merchant.id).where(Merchant.sms_keyword == keyword))
        if taken is not None:
            raise Conflict("Another merchant uses this SMS keyword; choose another.",
                           code="sms_keyword_taken")
    branding_changes = changes.pop("branding", None)
    if branding_changes:
        branding.apply_branding(merchant, branding_changes)
    for name, value in changes.items():
        setattr(merchant, name, value)
    return merchant


def authenticate_password(email: str, password: str) -> Merchant | None:
    """The merchant whose email and password match, else None (same timing either way)."""
    merchant = db.session.scalar(sa.select(Merchant).where(Merchant.email == email.strip().lower()))
    stored = merchant.password_hash if merchant else _DUMMY_HASH
    if check_password_hash(stored, password) and merchant and merchant.is_active:
        return merchant
    return None


_DUMMY_HASH = generate_password_hash("not-a-real-password")


# --- API keys ---------------------------------------------------------------------------


def _add_api_key(name: str) -> tuple[ApiKey, str]:
    key = crypto.new_api_key()
    record = ApiKey(name=name, key_hash=crypto.hash_api_key(key),
                    prefix=key[: len(crypto.API_KEY_PREFIX) + 6])
    db.session.add(record)
    return record, key


@dataclass(frozen=True)
class IssuedKey:
    """A new API key record together with its plaintext, which exists only here."""

    record: ApiKey
    key: str

    def __getattr__(self, name: str):
        return getattr(self.record, name)


@transactional
def create_api_key(name: str) -> IssuedKey:
    """A new key for the current merchant; the plaintext is returned only here."""
    record, key = _add_api_key(name)
    db.session.flush()
    return IssuedKey(record, key)


def api_key_page(*, limit: int = 50, cursor: int | None = None) -> dict[str, Any]:
    """The API's list: oldest first, revoked keys included, {"items", "next_cursor"}."""
    return keyset_page(sa.select(ApiKey), ApiKey.id, limit=limit, cursor=cursor,
                       newest_first=False)


def list_api_keys() -> list[ApiKey]:
    return list(db.session.scalars(sa.select(ApiKey).order_by(ApiKey.id)))


@transactional
def revoke_api_key(key_id: int) -> ApiKey:
    """Revoke one of the current merchant's keys (idempotent); NotFound otherwise."""
    record = db.session.scalar(sa.select(ApiKey).where(ApiKey.id == key_id))
    if record is None:
        raise NotFound("API key not found.")
    if record.revoked_at is None:
        record.revoked_at = utcnow()
    return record


# How often a key's `last_used_at` is written: the time of its last use to the minute, for
# the merchant's keys page, without a write on every API call.
LAST_USED_EVERY = timedelta(minutes=1)


def merchant_for_api_key(key: str) -> int:
    """The merchant id an API key belongs to; Unauthorized when unknown or revoked.

    Each a statement of its own in autocommit (db.alone): the lookup, and — only when the
    key's `last_used_at` is a minute old or more — the conditional write of it."""
    if not key.startswith(crypto.API_KEY_PREFIX):
        raise Unauthorized("The API key is not valid.")
    with all_merchants():  # authentication runs before any merchant is known
        rows = execute_alone(key_statements.LOOKUP, {"key_hash": crypto.hash_api_key(key)},
                             rows=True)
    row = rows[0] if rows else None
    if row is None or row.revoked_at is not None or not row.is_active:
        raise Unauthorized("The API key is not valid or has been revoked.")
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        with tenant_context(row.merchant_id), unit_of_work():
            execute_alone(key_statements.TOUCH, {"t_id": row.id, "t_merchant": row.merchant_id,
                                                 "t_now": now, "t_stale": now - LAST_USED_EVERY})
    return row.merchant_id
