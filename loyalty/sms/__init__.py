"""Sending SMS: the backend contract, its two backends, segment counts and safe templates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from loyalty.sms.africastalking import AfricasTalkingBackend
from loyalty.sms.base import SendResult, SmsBackend, SmsUnavailable, mask_msisdn
from loyalty.sms.console import ConsoleBackend

__all__ = ["SendResult", "SmsBackend", "SmsUnavailable", "backend_from_config", "mask_msisdn"]

BACKENDS = ("console", "africastalking")
# AT's sandbox takes only the username "sandbox", and production never does (SMS.md 3.8).
_AT_PRODUCTION_HOST = "api.africastalking.com"
_AT_SANDBOX_HOST = "api.sandbox.africastalking.com"


def backend_from_config(config: Mapping[str, Any]) -> SmsBackend:
    """Build the backend named by SMS_BACKEND; raise ValueError for a bad setting."""
    name = str(config.get("SMS_BACKEND") or "console").strip().lower()
    if name == "console":
        return ConsoleBackend()
    if name == "africastalking":
        username = str(config.get("AT_USERNAME") or "").strip()
        base_url = str(config.get("AT_BASE_URL") or f"https://{_AT_PRODUCTION_HOST}").strip()
        _check_at_account(username, str(config.get("AT_API_KEY") or ""), base_url)
        return AfricasTalkingBackend(
            username=username,
            api_key=str(config["AT_API_KEY"]),
            sender_id=str(config.get("AT_SENDER_ID") or "").strip() or None,
            base_url=base_url,
            pool_size=int(config.get("SMS_CONCURRENCY") or 10),
        )
    raise ValueError(f"SMS_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")


def _check_at_account(username: str, api_key: str, base_url: str) -> None:
    """Refuse settings that would make every send fail with HTTP 401."""
    if not username:
        raise ValueError("SMS_BACKEND=africastalking needs AT_USERNAME")
    if not api_key.strip():
        raise ValueError("SMS_BACKEND=africastalking needs AT_API_KEY")
    host = (urlsplit(base_url).hostname or "").lower()
    if username == "sandbox" and host == _AT_PRODUCTION_HOST:
        raise ValueError(
            f"AT_USERNAME=sandbox only works with AT_BASE_URL=https://{_AT_SANDBOX_HOST}"
        )
    if username != "sandbox" and host == _AT_SANDBOX_HOST:
        raise ValueError("AT_BASE_URL points at the sandbox, whose only username is 'sandbox'")
