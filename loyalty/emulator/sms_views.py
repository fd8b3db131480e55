"""Africa's Talking's SMS paths under `/_emulator/sms` (or at the root of `flask emulator
serve`) (SMS.md 3.1 and 3.7), plus an inbox.

The send endpoints answer with AT's own JSON so the platform's client parses real shapes; every
accepted message lands in the inbox that tests and the emulator page read.
"""

from __future__ import annotations

import math
import random
import re
import secrets
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from loyalty.emulator.core import Emulator
from loyalty.emulator.payloads import eat_now
from loyalty.emulator.sms_reports import schedule_report
from loyalty.phones import InvalidPhone, hash_msisdn, normalise_msisdn

PREFIX = "/_emulator/sms"
bp = Blueprint("emulator_sms", __name__, url_prefix=PREFIX)

_HASH = re.compile(r"^[0-9a-f]{64}$")
STATUS_NAMES = {
    100: "Processed", 101: "Success", 102: "Queued", 401: "RiskHold", 402: "InvalidSenderId",
    403: "InvalidPhoneNumber", 404: "UnsupportedNumberType", 405: "InsufficientBalance",
    406: "UserInBlacklist", 407: "CouldNotRoute", 409: "DoNotDisturbRejection",
    500: "InternalServerError", 501: "GatewayError", 502: "RejectedByGateway",
}
SENT = (100, 101, 102)
PRICE_PER_PART = 0.8


def emulator() -> Emulator:
    return current_app.extensions["emulator"]


def _fields() -> dict[str, Any]:
    # AT's SDKs post forms; accept JSON too so hand-written clients are not tripped up.
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else request.form.to_dict()


@bp.before_request
def _inject_faults():
    # Relative to wherever the views are mounted (`/_emulator/sms`, or the root standalone).
    path = request.path.removeprefix(current_app.extensions["emulator_prefixes"]["sms"])
    if not path.startswith("/version1/"):
        return None
    settings = emulator().state.settings()
    if settings["sms_latency_ms"]:
        time.sleep(settings["sms_latency_ms"] / 1000)
    if settings["sms_error_rate"] and random.random() < settings["sms_error_rate"]:
        return Response("Service Unavailable", status=503, mimetype="text/plain")
    for rule in emulator().state.due_faults("sms", path):
        if rule["mode"] == "delay":
            time.sleep(float(rule["delay"]))
        else:
            return Response("Internal Server Error", status=int(rule.get("status", 500)),
                            mimetype="text/plain")
    return None


def _refusal(fields: dict[str, Any], required: tuple[str, ...]) -> Response | None:
    """AT's plain-text answers to a bad key or a missing field, or None when all is well."""
    settings = emulator().state.sms_settings()
    key = request.headers.get("apiKey", "")
    if not key or (settings["api_key"] and key != settings["api_key"]) or \
            (settings["username"] and fields.get("username") != settings["username"]):
        return Response("The supplied authentication is invalid", status=401,
                        mimetype="text/plain")
    for name in required:
        if not str(fields.get(name) or "").strip():
            return Response(f"Request is missing required form field '{name}'", status=400,
                            mimetype="text/plain")
    return None


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


def _answer(recipients: list[dict[str, Any]], total: float) -> Response:
    sent = sum(1 for r in recipients if r["statusCode"] in SENT)
    cost = f"KES {total:.4f}" if sent else "0"
    body = {"SMSMessageData": {"Message": f"Sent to {sent}/{len(recipients)} Total Cost: {cost}",
                               "Recipients": recipients}}
    return jsonify(body), 201


def _keep(recipient: dict[str, Any], fields: dict[str, Any], *, phone: str | None,
          digest: str, kind: str, sender: str) -> None:
    if recipient["statusCode"] not in SENT:
        return  # a refused message never reaches a handset, so not the inbox either
    emulator().state.record_sms({
        "message_id": recipient["messageId"], "kind": kind,
        "to": f"+{phone}" if phone else None, "phone": phone, "hash": digest,
        "message": fields.get("message", ""), "sender": sender,
        "username": fields.get("username"), "telco": fields.get("telco"),
        "cost": recipient["cost"], "at": eat_now().isoformat(timespec="seconds"),
    })
    schedule_report(emulator(), recipient["messageId"], recipient["number"])


@bp.post("/version1/messaging")
def send():
    fields = _fields()
    refused = _refusal(fields, ("username", "to", "message"))
    if refused is not None:
        return refused
    overrides = emulator().state.sms_settings()["statuses"]
    recipients, total = [], 0.0
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
        if phone:
            _keep(recipient, fields, phone=phone, digest=hash_msisdn(phone), kind="plain",
                  sender=fields.get("from", ""))
    return _answer(recipients, total)


@bp.post("/version1/messaging/bulk")
def send_hashed():
    """The hashed-number send: `maskedNumber` is the SHA-256 of the payer's 254… number."""
    fields = _fields()
    refused = _refusal(fields, ("username", "maskedNumber", "message"))
    if refused is not None:
        return refused
    masked = str(fields["maskedNumber"]).strip().lower()
    code = 101 if _HASH.match(masked) else 403
    code = int(emulator().state.sms_settings()["statuses"].get(masked, code))
    cost = _cost(fields["message"], code)
    recipient = _recipient(masked, code, cost)
    _keep(recipient, fields, phone=None, digest=masked, kind="hashed",
          sender=fields.get("senderId", ""))
    return _answer([recipient], cost)


@bp.get("/version1/user")
def user_data():
    """AT's user-data endpoint: the account's balance, which proves a username and key
    work (the platform asks it when a merchant brings their own account)."""
    fields = request.args.to_dict()
    refused = _refusal(fields, ("username",))
    if refused is not None:
        return refused
    return jsonify({"UserData": {"balance": "KES 1000.0000"}})


@bp.get("/inbox")
def inbox():
    """Newest first; `?to=` takes a phone in any common form, or its SHA-256."""
    messages = emulator().state.inbox()
    wanted = request.args.get("to", "").strip()
    if wanted:
        if _HASH.match(wanted.lower()):
            digest, phone = wanted.lower(), None
        else:
            try:
                phone = normalise_msisdn(wanted)
            except InvalidPhone as exc:
                return jsonify({"error": str(exc)}), 400
            digest = hash_msisdn(phone)
        messages = [m for m in messages if m["hash"] == digest or (phone and m["phone"] == phone)]
    return jsonify(messages)
