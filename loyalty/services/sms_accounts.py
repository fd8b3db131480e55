"""A merchant's own Africa's Talking account (optional, DESIGN.md section 13).

By default every merchant's texts go through the platform's account (AT_USERNAME). A
merchant may bring their own: the username and API key are checked against AT's user-data
endpoint before they are kept (so a typo is found now, not as a day of failed receipts),
the key is stored encrypted like Daraja secrets (crypto.EncryptedText) and is never shown
again. Their texts then go through it, with its own pause when it runs out of credit
(services/sms_pause.py keys pauses by account, and each merchant's account is its own).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

from flask import current_app

from loyalty.db import sms as statements
from loyalty.db.alone import execute_alone
from loyalty.errors import ServiceUnavailable, ValidationFailed
from loyalty.models import Merchant
from loyalty.services.merchants import get_current_merchant
from loyalty.sms.africastalking import AfricasTalkingBackend
from loyalty.sms.base import SmsBackend, SmsUnavailable
from loyalty.tenancy import current_merchant_id
from loyalty.unit_of_work import transactional, unit_of_work

_PRODUCTION = "https://api.africastalking.com"
_SANDBOX = "https://api.sandbox.africastalking.com"
CHECK_TIMEOUT = 10.0


@dataclass(frozen=True)
class SmsAccount:
    """What a merchant sees of its SMS account: never the key."""

    own: bool
    username: str | None


def _base_url(username: str) -> str:
    configured = str(current_app.config.get("AT_BASE_URL") or "").strip()
    if configured:  # the platform's gateway (the emulator in development)
        return configured
    return _SANDBOX if username == "sandbox" else _PRODUCTION


def account_of(merchant: Merchant) -> SmsAccount:
    return SmsAccount(own=bool(merchant.sms_username), username=merchant.sms_username)


def current_account() -> SmsAccount:
    return account_of(get_current_merchant())


@transactional
def set_own_account(username: str, api_key: str) -> SmsAccount:
    """Check the username and key with Africa's Talking, then keep them (the key encrypted).

    Raises ValidationFailed (fields `username`/`api_key`) when AT refuses them and
    ServiceUnavailable when AT cannot be asked right now (nothing is kept then)."""
    username, api_key = username.strip(), api_key.strip()
    backend = AfricasTalkingBackend(username=username, api_key=api_key, sender_id=None,
                                    base_url=_base_url(username), pool_size=1)
    try:
        backend.user_data(timeout=CHECK_TIMEOUT)
    except PermissionError:
        reason = "Africa's Talking did not accept this username and API key."
        raise ValidationFailed(reason, fields={"username": [reason], "api_key": [reason]}) from None
    except SmsUnavailable:
        raise ServiceUnavailable("Africa's Talking could not be reached to check the account; "
                                 "nothing was changed. Try again in a few minutes.") from None
    merchant = get_current_merchant()
    merchant.sms_username, merchant.sms_api_key = username, api_key
    return account_of(merchant)


@transactional
def remove_own_account() -> SmsAccount:
    """Go back to the platform's account (idempotent)."""
    merchant = get_current_merchant()
    merchant.sms_username, merchant.sms_api_key = None, None
    return account_of(merchant)


# --- sending: which account and which sender, per merchant ------------------------------

_backends: dict[tuple[int, str, str, str], SmsBackend] = {}
_backends_lock = threading.Lock()


def route(platform: SmsBackend) -> tuple[SmsBackend, dict[str, str]]:
    """For the current merchant: the backend its texts go through (its own account, else
    the platform's) and its approved sender IDs by category. One statement on its own
    (db.alone): sending holds no transaction, and this runs before every chunk."""
    with unit_of_work():
        rows = execute_alone(statements.SENDING_ROUTE, {"r_merchant": current_merchant_id()},
                             rows=True)
    row = rows[0] if rows else None
    senders = {category: getattr(row, category) for category in ("transactional", "promotional")
               if row is not None and getattr(row, category)}
    if row is None or not (row.sms_username and row.sms_api_key):
        return platform, senders
    return own_backend(current_merchant_id(), row.sms_username, row.sms_api_key), senders


def own_backend(merchant_id: int, username: str, api_key: str) -> SmsBackend:
    """The merchant's own backend, one per process and credentials (its connection pool
    is reused across chunks; new credentials make a new one)."""
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    key = (merchant_id, username, digest, _base_url(username))
    with _backends_lock:
        backend = _backends.get(key)
        if backend is None:
            backend = AfricasTalkingBackend(
                username=username, api_key=api_key, sender_id=None,
                base_url=_base_url(username),
                pool_size=int(current_app.config.get("SMS_CONCURRENCY") or 10),
                # The pause key (sms_pause): this merchant's account, apart from the platform's.
                account=f"merchant-{merchant_id}:{username}")
            _backends[key] = backend
        return backend
