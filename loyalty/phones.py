"""Kenyan phone numbers and the forms M-Pesa sends them in (DARAJA.md section 5).

A neutral leaf: schemas, services, the Daraja client and the emulator all read and write
phone numbers, so none of them owns this module.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

import phonenumbers

_PLAIN = re.compile(r"^254[17]\d{8}$")
_HASHED = re.compile(r"^[0-9a-f]{64}$")


class MsisdnForm(StrEnum):
    PLAIN = "plain"
    HASHED = "hashed"
    MASKED = "masked"


class InvalidPhone(ValueError):
    """Not a Kenyan mobile number in any form we accept."""


def normalise_msisdn(value: str | int) -> str:
    """Return a Kenyan mobile number as 12 digits (`2547XXXXXXXX` / `2541XXXXXXXX`).

    Accepts the common ways people write them: `0712 345 678`, `+254712345678`,
    `254712345678`, `712345678`, `0110 123 456`.
    """
    text = str(value).strip()
    if not text:
        raise InvalidPhone("a phone number is required")
    digits = re.sub(r"[\s\-().]", "", text)
    if digits.startswith("254") and not digits.startswith("+"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, "KE")
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"{text!r} is not a phone number") from None
    if number.country_code != 254:
        raise InvalidPhone(f"{text!r} is not a Kenyan number (+254)")
    national = str(number.national_number)
    msisdn = "254" + national
    if not _PLAIN.match(msisdn) or not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{text!r} is not a Kenyan mobile number (07XX or 01XX)")
    return msisdn


def display_phone(msisdn: str | None) -> str:
    """A stored `2547XXXXXXXX` as Kenyans write it, `0712 345 678`; anything else as it is."""
    if not msisdn or not _PLAIN.match(msisdn):
        return msisdn or ""
    local = "0" + msisdn[3:]
    return f"{local[:4]} {local[4:7]} {local[7:]}"


def hash_msisdn(msisdn: str) -> str:
    """SHA-256 hex of the 12-digit form, exactly as Safaricom hashes C2B payers."""
    return hashlib.sha256(msisdn.encode("ascii")).hexdigest()


def classify_msisdn(value: str | int | None) -> MsisdnForm:
    """Tell which form a callback's MSISDN came in: hashed, masked or plain."""
    text = str(value or "").strip()
    if _HASHED.match(text.lower()) and len(text) == 64:
        return MsisdnForm.HASHED
    if _PLAIN.match(text):
        return MsisdnForm.PLAIN
    return MsisdnForm.MASKED
