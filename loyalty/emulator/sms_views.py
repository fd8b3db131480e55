"""Africa's Talking's SMS paths under `/_emulator/sms` (or at the root of `flask emulator
serve`) (SMS.md 3.1 and 3.7), plus an inbox.

The send endpoints answer with AT's own JSON so the platform's client parses real shapes
(decided in sms_logic.py, shared with the gateway-speed server sms_gateway.py); every
accepted message lands in the inbox that tests and the emulator page read.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from loyalty.emulator import sms_logic
from loyalty.emulator.core import Emulator
from loyalty.emulator.sms_logic import HASH
from loyalty.emulator.sms_reports import schedule_report
from loyalty.phones import InvalidPhone, hash_msisdn, normalise_msisdn

PREFIX = "/_emulator/sms"
bp = Blueprint("emulator_sms", __name__, url_prefix=PREFIX)


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
    state = emulator().state
    delay, error = sms_logic.faults(state.settings(), lambda: state.due_faults("sms", path))
    if delay:
        time.sleep(delay)
    return None if error is None else _reply(error)


def _reply(reply: sms_logic.Reply):
    """The Flask response for an answer; its accepted messages into the inbox, each with a
    delivery report to follow."""
    for kept in reply.kept:
        emulator().state.record_sms(kept.record)
        schedule_report(emulator(), kept.record["message_id"], kept.number)
    if isinstance(reply.body, str):
        return Response(reply.body, status=reply.status, mimetype="text/plain")
    return jsonify(reply.body), reply.status


def _api_key() -> str:
    return request.headers.get("apiKey", "")


@bp.post("/version1/messaging")
def send():
    return _reply(sms_logic.messaging(_fields(), _api_key(), emulator().state.sms_settings()))


@bp.post("/version1/messaging/bulk")
def send_hashed():
    """The hashed-number send: `maskedNumber` is the SHA-256 of the payer's 254… number."""
    return _reply(sms_logic.hashed(_fields(), _api_key(), emulator().state.sms_settings()))


@bp.get("/version1/user")
def user_data():
    """AT's user-data endpoint: the account's balance, which proves a username and key
    work (the platform asks it when a merchant brings their own account)."""
    return _reply(sms_logic.user_data(request.args.to_dict(), _api_key(),
                                      emulator().state.sms_settings()))


@bp.get("/inbox")
def inbox():
    """Newest first; `?to=` takes a phone in any common form, or its SHA-256."""
    messages = emulator().state.inbox()
    wanted = request.args.get("to", "").strip()
    if wanted:
        if HASH.match(wanted.lower()):
            digest, phone = wanted.lower(), None
        else:
            try:
                phone = normalise_msisdn(wanted)
            except InvalidPhone as exc:
                return jsonify({"error": str(exc)}), 400
            digest = hash_msisdn(phone)
        messages = [m for m in messages if m["hash"] == digest or (phone and m["phone"] == phone)]
    return jsonify(messages)
