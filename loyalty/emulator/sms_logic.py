"""What Africa's Talking answers to a send, decided without a web framework (SMS.md 3.1, 3.7).

Two servers answer AT's paths with these: the emulator's Flask views (sms_views.py, every
request through the app, the inbox page and the control API beside them) and its
gateway-speed server (sms_gateway.py, asyncio, for the benchmark's thousands of texts a
second). Both take a send's form fields, the `apiKey` header and the account settings, and
get the same status, the same body and the same accepted messages to keep, so the platform's
client is held to one set of answers whichever it talks to.
"""

from __future__ import annotations

import math
import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loyalty.emulator.payloads import eat_now
from loyalty.phones import InvalidPhone, hash_msisdn, normalise_msisdn

HASH = re.compile(r"^[0-9a-f]{64}$")
STATUS_NAMES = {
    100: "Processed", 101: "Success", 102: "Queued", 401: "RiskHold", 402: "InvalidSenderId",
    403: "InvalidPhoneNumber", 404: "UnsupportedNumberType", 405: "InsufficientBalance",
    406: "UserInBlacklist", 407: "CouldNotRoute", 409: "DoNotDisturbRejection",
    500: "InternalServerError", 501: "GatewayError", 502: "RejectedByGateway",
}
SENT = (100, 101, 102)
PRICE_PER_PART = 0.8


@dataclass(frozen=True)
class Kept:
    """An accepted message: its inbox record, and the number its delivery report names."""

    record: dict[str, Any]
    number: str


@dataclass(frozen=True)
class Reply:
    """AT's answer: a JSON object, or the plain text of a refusal."""

    status: int
    body: dict[str, Any] | str
    kept: list[Kept] = field(default_factory=list)


def faults(settings: dict[str, Any],
           rules: Callable[[], list[dict[str, Any]]]) -> tuple[float, Reply | None]:
    """How long a call to AT's `/version1/…` paths waits before its answer, and the error it
    gets instead of one (None: answered as usual): the settings' latency and error rate,
    then the fault rules (`rules()` consumes the ones that fire, so it is only asked when
    the error rate has not already answered)."""
    delay = settings["sms_latency_ms"] / 1000
    if settings["sms_error_rate"] and random.random() < settings["sms_error_rate"]:
        return delay, Reply(503, "Service Unavailable")
    for rule in rules():
        if rule["mode"] == "delay":
            delay += float(rule["delay"])
        else:
            return delay, Reply(int(rule.get("status", 500)), "Internal Server Error")
    return delay, None


def refusal(fields: dict[str, Any], api_key: str, settings: dict[str, Any],
            required: tuple[str, ...]) -> Reply | None:
    """AT's plain-text answers to a bad key or a missing field, or None when all is well."""
    if not api_key or (settings["api_key"] and api_key != settings["api_key"]) or \
            (settings["username"] and fields.get("username") != settings["username"]):
        return Reply(401, "The supplied authentication is invalid")
    for name in required:
        if not str(fields.get(name) or "").strip():
            return Reply(400, f"Request is missing required form field '{name}'")
    return None


def messaging(fields: dict[str, Any], api_key: str, settings: dict[str, Any]) -> Reply:
    """`POST /version1/messaging`: one message to a comma-separated list of numbers."""
    refused = refusal(fields, api_key, settings, ("username", "to", "message"))
    if refused is not None:
        return refused
    overrides = settings["statuses"]
    recipients, kept, total = [], [], 0.0
    for raw in (n.strip() for n in str(fields["to"]).split(",") if n.strip()):
        try:
            phone: str | None = normalise_msisdn(raw)
        except InvalidPhone:
            phone = None
        code = 403 if phone is None else int(overrides.get(phone, 101))
        cost = _cost(fields["message"], code)
        total += cost
        recipient = _recipient(raw, code, cost)
        recipients.append(recipient)
        if phone and code in SENT:  # a refused message never reaches a handset or the inbox
            kept.append(_kept(recipient, fields, phone=phone, digest=hash_msisdn(phone),
                              kind="plain", sender=fields.get("from", "")))
    return _answer(recipients, total, kept)


def hashed(fields: dict[str, Any], api_key: str, settings: dict[str, Any]) -> Reply:
    """`POST /version1/messaging/bulk`: `maskedNumber` is the SHA-256 of the payer's 254…
    number."""
    refused = refusal(fields, api_key, settings, ("username", "maskedNumber", "message"))
    if refused is not None:
        return refused
    masked = str(fields["maskedNumber"]).strip().lower()
    code = int(settings["statuses"].get(masked, 101 if HASH.match(masked) else 403))
    cost = _cost(fields["message"], code)
    recipient = _recipient(masked, code, cost)
    kept = [_kept(recipient, fields, phone=None, digest=masked, kind="hashed",
                  sender=fields.get("senderId", ""))] if code in SENT else []
    return _answer([recipient], cost, kept)


def user_data(fields: dict[str, Any], api_key: str, settings: dict[str, Any]) -> Reply:
    """`GET /version1/user`: the account's balance, which proves a username and key work."""
    refused = refusal(fields, api_key, settings, ("username",))
    return refused or Reply(200, {"UserData": {"balance": "KES 1000.0000"}})


def _cost(message: str, code: int) -> float:
    if code not in SENT:
        return 0.0
    # One part carries 160 GSM characters; a concatenated part carries 153.
    parts = 1 if len(message) <= 160 else math.ceil(len(message) / 153)
    return PRICE_PER_PART * parts


def _recipient(number: str, code: int, cost: float) -> dict[str, Any]:
    ok = code in SENT
    return {"statusCode": code, "number": number, "cost": f"KES {cost:.4f}" if ok else "0",
            "status": STATUS_NAMES.get(code, "Failed"),
            "messageId": f"ATXid_{secrets.token_hex(16)}" if ok else "None"}


def _answer(recipients: list[dict[str, Any]], total: float, kept: list[Kept]) -> Reply:
    sent = sum(1 for r in recipients if r["statusCode"] in SENT)
    cost = f"KES {total:.4f}" if sent else "0"
    return Reply(201, {"SMSMessageData": {"Message": f"Sent to {sent}/{len(recipients)} "
                                                     f"Total Cost: {cost}",
                                          "Recipients": recipients}}, kept)


def _kept(recipient: dict[str, Any], fields: dict[str, Any], *, phone: str | None,
          digest: str, kind: str, sender: str) -> Kept:
    return Kept({
        "message_id": recipient["messageId"], "kind": kind,
        "to": f"+{phone}" if phone else None, "phone": phone, "hash": digest,
        "message": fields.get("message", ""), "sender": sender,
        "username": fields.get("username"), "telco": fields.get("telco"),
        "cost": recipient["cost"], "at": eat_now().isoformat(timespec="seconds"),
    }, recipient["number"])
