"""Field checks Safaricom applies before accepting a request (DARAJA.md 4.1, 4.2, 6.1).

Each helper returns the cleaned value or raises the `DarajaError` Safaricom would answer, so
the platform's client meets the same refusals here as in the sandbox.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from loyalty.daraja.url_rules import UrlRuleViolation, check_callback_url
from loyalty.emulator.errors import DarajaError, invalid
from loyalty.phones import InvalidPhone, normalise_msisdn

_SHORTCODE = re.compile(r"^\d{5,7}$")


def required(body: dict[str, Any], field: str) -> Any:
    value = body.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise invalid(field)
    return value


def shortcode(value: Any, field: str = "ShortCode") -> str:
    text = str(value if value is not None else "").strip()
    if not _SHORTCODE.match(text):
        raise invalid(field)
    return text


def amount(value: Any, field: str = "Amount") -> Decimal:
    """Whole shillings, at least 1 (numbers or numeric strings, as the SDKs send both)."""
    try:
        parsed = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise invalid(field) from None
    if not parsed.is_finite() or parsed < 1 or parsed != parsed.to_integral_value():
        raise invalid(field)
    return parsed.quantize(Decimal("0.01"))


def phone(value: Any, field: str) -> str:
    """A 12-digit `2547…`/`2541…` number; the local forms are refused like Safaricom does."""
    text = str(value if value is not None else "").strip()
    if not re.fullmatch(r"254\d{9}", text):
        raise invalid(field)
    try:
        return normalise_msisdn(text)
    except InvalidPhone:
        raise invalid(field) from None


def timestamp(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    try:
        datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        raise invalid("Timestamp") from None
    if len(text) != 14:
        raise invalid("Timestamp")
    return text


def callback_url(value: Any, field: str, *, public: bool = False) -> str:
    """A URL Safaricom will call back (STK, async results); any fault is `Invalid <Field>`."""
    return _checked(value, field, public, lambda violation: invalid(field))


def registration_url(value: Any, field: str, *, public: bool = False) -> str:
    """A registered URL (C2B, Pull): a forbidden word is named in `400.003.02`."""
    def refusal(violation: UrlRuleViolation) -> DarajaError:
        if violation.rule == "forbidden_word":
            return DarajaError(400, "400.003.02", f"Bad Request - {field} contains a "
                                                  f"forbidden word: '{violation.word}'")
        return DarajaError(400, "400.003.02", f"Bad Request - Invalid {field}")
    return _checked(value, field, public, refusal)


def _checked(value: Any, field: str, public: bool,
             refusal: Callable[[UrlRuleViolation], DarajaError]) -> str:
    """Safaricom's URL rules (DARAJA.md 4.2), checked by the platform's own function so the
    two sides cannot drift. `public`: production's rules, https and a public host (a
    production app's token, or a production-config platform behind the emulator); else the
    sandbox's, where http and the loopback host of a local platform pass."""
    text = str(value if value is not None else "").strip()
    try:
        check_callback_url(text, "production" if public else "sandbox")
    except UrlRuleViolation as violation:
        raise refusal(violation) from None
    return text


def stk_password(shortcode: str, passkey: str, stamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{stamp}".encode()).decode()
