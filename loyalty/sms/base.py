"""What every SMS backend promises: one result shape, one "try later" error, masked logging.

Backends never raise for a message the gateway refused (bad number, blacklist, bad key): those
come back as a failed `SendResult` so the outbox can record why. Only "could not get an answer"
raises `SmsUnavailable`, because that is the one case where retrying with backoff helps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

SendStatus = Literal["sent", "failed"]

# The forms DESIGN.md section 2 stores: 12-digit Kenyan mobile, and SHA-256 hex of that form.
_MSISDN = re.compile(r"^254[17]\d{8}$")
_PHONE_HASH = re.compile(r"^[0-9a-fA-F]{64}$")
# Anything that looks like a Kenyan number inside free text (gateway error bodies).
_MSISDN_IN_TEXT = re.compile(r"\+?254[17]\d{8}\b|\b0[17]\d{8}\b")


@dataclass(frozen=True)
class SendResult:
    """The gateway's answer for one message."""

    status: SendStatus
    provider_message_id: str | None = None
    error: str | None = None
    cost: str | None = None
    # Only meaningful when failed: True when the same message may succeed later.
    retryable: bool = False
    # The gateway's own code for this message (AT's statusCode, `http_401`, …), for the
    # metrics; never shown to a customer.
    code: str | None = None
    # The account paying for texts has run out of credit (AT's 405 InsufficientBalance):
    # nothing is wrong with this message, and every other one would fail the same way.
    out_of_credit: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "sent"

    @classmethod
    def sent(cls, provider_message_id: str | None = None, cost: str | None = None,
             code: str | None = None) -> SendResult:
        return cls("sent", provider_message_id=provider_message_id, cost=cost, code=code)

    @classmethod
    def failed(cls, error: str, *, retryable: bool = False, code: str | None = None,
               out_of_credit: bool = False) -> SendResult:
        return cls("failed", error=error, retryable=retryable, code=code,
                   out_of_credit=out_of_credit)


class SmsUnavailable(Exception):
    """The gateway could not be reached, timed out, or answered 5xx/429: retry with backoff.

    `may_have_sent` is True when the request reached the gateway but the answer was lost (a
    read timeout): a retry can then deliver the message twice, which the caller may prefer to
    a lost receipt or not.
    """

    def __init__(self, message: str, *, may_have_sent: bool = False,
                 code: str = "unavailable") -> None:
        super().__init__(message)
        self.may_have_sent = may_have_sent
        self.code = code  # `timeout`, `unreachable`, `http_429`, … (for the metrics)


@runtime_checkable
class SmsBackend(Protocol):
    """Anything that can text a customer."""

    # Which account pays for the texts ("platform" for the one in the settings): sending
    # pauses per account when it runs out of credit.
    account: str

    def send(self, to: str, message: str, *, timeout: float | None = None,
             sender_id: str | None = None) -> SendResult:
        """Text a 12-digit Kenyan number (`2547XXXXXXXX` / `2541XXXXXXXX`); `timeout`
        (seconds) bounds the call when given; `sender_id` is the `from` (a merchant's
        approved sender ID) when given, else the account's own."""
        ...

    def send_hashed(self, phone_hash: str, message: str, *, timeout: float | None = None,
                    sender_id: str | None = None) -> SendResult:
        """Text a payer known only by the SHA-256 hex of their `254…` number.

        Transactional messages only: hashed sending must never carry promotions (SMS.md 3.7).
        """
        ...


def mask_msisdn(msisdn: str | None) -> str:
    """Return a phone number (or phone hash) safe to log: `2547****5678`.

    A Kenyan phone hash is as identifying as the number (the ~2e8 numbers are cheap to hash),
    so hashes keep only 6 hex digits: enough to correlate log lines, not to identify anyone.
    """
    text = str(msisdn or "").strip()
    if _PHONE_HASH.match(text):
        return f"hash:{text[:6].lower()}..."
    digits = text.removeprefix("+")
    if digits.isdigit() and len(digits) >= 12:
        return f"{digits[:4]}****{digits[-4:]}"
    if digits.isdigit() and len(digits) >= 6:
        # Local or partial forms: the leading digits would give most of the number away.
        return f"****{digits[-3:]}"
    return "****"


def scrub(text: str, *secrets: str) -> str:
    """Mask phone numbers and remove secrets from text that will be stored or logged."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _MSISDN_IN_TEXT.sub(lambda m: mask_msisdn(m.group(0)), text)


def check_recipient(to: str) -> str | None:
    """Return why `to` cannot be texted, or None when it is a 12-digit Kenyan mobile."""
    if not isinstance(to, str) or not _MSISDN.match(to):
        return f"recipient {mask_msisdn(str(to))} is not a 12-digit 2547/2541 number"
    return None


def check_phone_hash(phone_hash: str) -> str | None:
    """Return why `phone_hash` cannot be texted, or None when it is 64 hex digits."""
    if not isinstance(phone_hash, str) or not _PHONE_HASH.match(phone_hash):
        return "recipient hash is not a 64-hex SHA-256 digest"
    return None


def check_message(message: str) -> str | None:
    """Return why `message` cannot be sent, or None."""
    if not isinstance(message, str) or not message.strip():
        return "message is empty"
    return None
