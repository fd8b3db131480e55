"""The control API under `/_emulator`: set the scene for a test, then read what happened.

Plain JSON in, plain JSON out, errors as `{"error": "..."}` with 400. None of this exists at
Safaricom; it stands in for the portal, the customer's handset and a misbehaving network.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request

from loyalty.emulator.c2b import simulate_payment
from loyalty.emulator.core import Emulator
from loyalty.emulator.errors import DarajaError
from loyalty.emulator.payloads import STK_RESULTS
from loyalty.emulator.sms_reports import DELIVERY_MODES, send_inbound
from loyalty.emulator.state import ENVIRONMENTS, PRODUCTS, public_app
from loyalty.phones import InvalidPhone, normalise_msisdn

bp = Blueprint("emulator_control", __name__, url_prefix="/_emulator")
FAULT_MODES = ("error", "spike", "delay")


class ControlError(ValueError):
    pass


@bp.errorhandler(ControlError)
def _control_error(error: ControlError):
    return jsonify({"error": str(error)}), 400


@bp.errorhandler(DarajaError)
def _daraja_error(error: DarajaError):
    return jsonify({"error": error.message, "errorCode": error.code}), 400


def emulator() -> Emulator:
    return current_app.extensions["emulator"]


def _json() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ControlError("send a JSON object")
    return body


def _text(body: dict[str, Any], name: str) -> str:
    value = str(body.get(name) or "").strip()
    if not value:
        raise ControlError(f"{name} is required")
    return value


def _number(body: dict[str, Any], name: str, default: float, minimum: float = 0.0) -> float:
    try:
        value = float(body.get(name, default))
    except (TypeError, ValueError):
        raise ControlError(f"{name} must be a number") from None
    if value < minimum:
        raise ControlError(f"{name} must be at least {minimum}")
    return value


def _phone(value: Any) -> str:
    try:
        return normalise_msisdn(value)
    except InvalidPhone as exc:
        raise ControlError(str(exc)) from None


@bp.get("/state")
def state():
    """Everything but secrets; `?limit=` caps the deliveries and the inbox (default 100)."""
    limit = request.args.get("limit", "100")
    if not limit.isdigit():
        raise ControlError("limit must be a whole number")
    return jsonify(emulator().state.snapshot(limit=int(limit)))


@bp.post("/control/reset")
def reset():
    emulator().state.reset()
    return jsonify({"reset": True})


@bp.post("/control/apps")
def add_app():
    """A Daraja app as the portal would hold it; saving an existing key updates it, and
    tokens minted before keep their old products (DARAJA.md 2: the stale-token 401)."""
    body = _json()
    products = body.get("products") or []
    if not isinstance(products, list) or any(p not in PRODUCTS for p in products):
        raise ControlError(f"products must be a list drawn from {', '.join(PRODUCTS)}")
    environment = body.get("environment", "sandbox")
    if environment not in ENVIRONMENTS:
        raise ControlError(f"environment must be one of {', '.join(ENVIRONMENTS)}")
    app = {
        "consumer_key": _text(body, "consumer_key"),
        "consumer_secret": _text(body, "consumer_secret"),
        "products": products,
        "shortcodes": [str(code) for code in body.get("shortcodes") or []],
        "environment": environment,
        "invalidate_previous_token": bool(body.get("invalidate_previous_token", True)),
        "token_ttl": int(_number(body, "token_ttl", 3599, minimum=1)),
        "builtin": False,
    }
    emulator().state.save_app(app)
    return jsonify(public_app(app)), 201


@bp.post("/control/shortcodes")
def stk_shortcode():
    """An STK BusinessShortCode: a PayBill, or a store/head office with its tills."""
    body = _json()
    kind = body.get("kind", "paybill")
    if kind not in ("paybill", "store"):
        raise ControlError("kind must be 'paybill' or 'store'")
    record = {"shortcode": _text(body, "shortcode"), "kind": kind,
              "passkey": _text(body, "passkey"),
              "tills": [str(t) for t in body.get("tills") or []]}
    emulator().state.save_stk_shortcode(record)
    return jsonify({k: v for k, v in record.items() if k != "passkey"}), 201


@bp.post("/control/validation")
def validation():
    """External validation is opt-in per shortcode at Safaricom (DARAJA.md 4.3); "*" = all."""
    body = _json()
    emulator().state.set_validation(_text(body, "shortcode"), bool(body.get("enabled", True)))
    return jsonify(emulator().state.validation_flags())


@bp.delete("/control/registrations/<shortcode>")
def delete_registration(shortcode: str):
    """What the merchant does in Daraja's URL management before registering again."""
    emulator().state.delete_registration(shortcode)
    return jsonify({"deleted": shortcode})


@bp.post("/control/stk-outcome")
def stk_outcome():
    body = _json()
    outcome = body.get("outcome")
    if outcome not in STK_RESULTS:
        raise ControlError(f"outcome must be one of {', '.join(STK_RESULTS)}")
    phone = _phone(body["phone"]) if body.get("phone") else None
    emulator().state.set_stk_outcome(phone, outcome)
    return jsonify({"phone": phone or "*", "outcome": outcome})


@bp.post("/control/settings")
def settings():
    body = _json()
    changes: dict[str, Any] = {}
    if "stk_delay" in body:
        changes["stk_delay"] = _number(body, "stk_delay", 1.0)
    if "callback_timeout" in body:
        changes["callback_timeout"] = _number(body, "callback_timeout", 5.0, minimum=0.1)
    if "stk_c2b_echo" in body:
        changes["stk_c2b_echo"] = bool(body["stk_c2b_echo"])
    if "pull_page_size" in body:
        changes["pull_page_size"] = int(_number(body, "pull_page_size", 100, minimum=1))
    if "drop_confirmations" in body:
        changes["drop_confirmations"] = bool(body["drop_confirmations"])
    # A gateway at real speed, and a flaky one (DESIGN.md 14; the bench's 200 ms row).
    for name in ("sms_latency_ms", "daraja_latency_ms"):
        if name in body:
            changes[name] = _bounded(body, name, MAX_LATENCY_MS)
    for name in ("sms_error_rate", "daraja_error_rate"):
        if name in body:
            changes[name] = _bounded(body, name, 1.0)
    # Delivery reports after each send (sms_reports.py): Success, Failed, or none.
    if "sms_delivery" in body:
        if body["sms_delivery"] not in DELIVERY_MODES:
            raise ControlError(f"sms_delivery must be one of {', '.join(DELIVERY_MODES)}")
        changes["sms_delivery"] = body["sms_delivery"]
    if "sms_failure_reason" in body:
        changes["sms_failure_reason"] = _text(body, "sms_failure_reason")[:100]
    if "sms_delivery_delay" in body:
        changes["sms_delivery_delay"] = _bounded(body, "sms_delivery_delay", 60.0)
    return jsonify(emulator().state.update_settings(changes))


MAX_LATENCY_MS = 60_000


def _bounded(body: dict[str, Any], name: str, maximum: float) -> float:
    value = _number(body, name, 0.0)
    if value != value or value > maximum:  # NaN compares unequal to itself
        raise ControlError(f"{name} must be between 0 and {maximum:g}")
    return value


@bp.post("/control/faults")
def add_fault():
    body = _json()
    target, mode = body.get("target", "daraja"), body.get("mode", "error")
    if target not in ("daraja", "sms"):
        raise ControlError("target must be 'daraja' or 'sms'")
    if mode not in FAULT_MODES:
        raise ControlError(f"mode must be one of {', '.join(FAULT_MODES)}")
    path = body.get("path") or None
    if path is not None and path != "*" and not str(path).startswith("/"):
        raise ControlError("path is relative to the prefix and starts with '/'")
    rule = {
        "target": target, "path": path, "mode": mode,
        "count": int(_number(body, "count", 1, minimum=1)),
        "forever": bool(body.get("forever", False)),
        "delay": _number(body, "delay", 0.0),
        "status": int(_number(body, "status", 500, minimum=100)),
    }
    if mode == "delay" and rule["delay"] <= 0:
        raise ControlError("delay mode needs a delay in seconds")
    return jsonify(emulator().state.add_fault(rule)), 201


@bp.delete("/control/faults")
def clear_faults():
    emulator().state.clear_faults()
    return jsonify({"faults": []})


@bp.post("/control/sms")
def sms():
    """Pin the AT credentials, or script per-recipient status codes (e.g. 406 blacklisted)."""
    body = _json()
    changes: dict[str, Any] = {}
    for name in ("api_key", "username"):
        if name in body:
            changes[name] = body[name] or None
    if "statuses" in body:
        statuses = body["statuses"] or {}
        if not isinstance(statuses, dict):
            raise ControlError("statuses maps a phone (or hash) to an AT status code")
        changes["statuses"] = {
            (key.lower() if len(key) == 64 else _phone(key)): int(code)
            for key, code in statuses.items()
        }
    if "callback_base" in body:  # AT's dashboard: where its callbacks go (sms_reports.py)
        base = str(body["callback_base"] or "").strip()
        if base and not base.startswith(("http://", "https://")):
            raise ControlError("callback_base is an http(s) URL, e.g. "
                               "https://loyalty.example.com/hooks/sms/<token>")
        changes["callback_base"] = base or None
    settings = emulator().state.update_sms_settings(changes)
    return jsonify({**settings, "api_key": bool(settings["api_key"]),
                    "callback_base": bool(settings.get("callback_base"))})


@bp.post("/control/sms-inbound")
def sms_inbound():
    """A customer texts the shortcode (`{"from": phone, "text": "STOP", "to": shortcode}`):
    posted to the platform's inbound callback in a moment, as Africa's Talking would."""
    body = _json()
    phone = _phone(_text(body, "from"))
    text = _text(body, "text")[:160]
    send_inbound(emulator(), phone, text, str(body.get("to") or emulator().sms_shortcode))
    return jsonify({"from": phone, "text": text}), 202


@bp.post("/control/c2b-payment")
def c2b_payment():
    """A customer pays, with no token needed: the Daraja simulate body plus the extras."""
    body = _json()
    payment = simulate_payment(
        emulator(),
        shortcode=body.get("ShortCode"), amount=body.get("Amount"), msisdn=body.get("Msisdn"),
        bill_ref=body.get("BillRefNumber") or "",
        command_id=body.get("CommandID", "CustomerPayBillOnline"),
        first_name=body.get("FirstName", "John"), middle_name=body.get("MiddleName", ""),
        last_name=body.get("LastName", ""), msisdn_form=body.get("MsisdnForm", "hashed"),
        trans_id=body.get("TransID"),
        drop_confirmation=bool(body.get("DropConfirmation", False)),
    )
    return jsonify({"TransID": payment["trans_id"], "TransTime": payment["trans_time"],
                    "ShortCode": payment["shortcode"], "Amount": payment["amount"]}), 202


@bp.post("/control/drop-confirmations")
def drop_confirmations():
    """Lose the next `count` C2B confirmations (the money still moves, and Pull Transactions
    lists the payments), as when the platform's URL was down: Safaricom does not retry.
    `{"always": true}` loses every one until `{"always": false}`."""
    body = _json()
    state = emulator().state
    if "count" in body:
        state.arm_dropped_confirmations(int(_number(body, "count", 1)))
    if "always" in body:
        state.update_settings({"drop_confirmations": bool(body["always"])})
    return jsonify({"always": bool(state.settings()["drop_confirmations"]),
                    "next": state.dropped_confirmations_armed()})


MAX_PULL_ROWS = 1_000_000


@bp.post("/control/pull-rows")
def pull_rows():
    """Payments a shortcode received while nobody listened, for Pull Transactions only (no
    callback, no balance): `count` rows `{prefix}{n:08d}` spread evenly over [from, to]
    (epoch seconds), paid by `msisdn` with `bill_ref`, `amount` each. For benchmarks."""
    body = _json()
    shortcode = _text(body, "ShortCode")
    count = int(_number(body, "count", 1, minimum=1))
    start, end = _number(body, "from", 0), _number(body, "to", 0)
    prefix = str(body.get("prefix", "PULL")).upper()
    if count > MAX_PULL_ROWS or not prefix.isalnum() or len(prefix) > 12 or end < start:
        raise ControlError(f"count ≤ {MAX_PULL_ROWS}, an alphanumeric prefix of ≤ 12 "
                           "characters, and from ≤ to")
    msisdn = _phone(body.get("msisdn", "254708374149"))
    step = (end - start) / max(1, count - 1)
    template = {"msisdn": int(msisdn), "sender": "John", "transactiontype": "c2b-pay-bill-debit",
                "billreference": str(body.get("bill_ref", "")),
                "amount": str(body.get("amount", "100.00")),
                "organizationname": "Emulated Merchant"}
    state = emulator().state
    for first in range(0, count, 10_000):
        rows = []
        for n in range(first, min(count, first + 10_000)):
            at = start + n * step
            rows.append((at, {**template, "transactionId": f"{prefix}{n:08d}",
                              "trxDate": datetime.fromtimestamp(at, UTC).strftime(
                                  "%Y-%m-%dT%H:%M:%SZ")}))
        state.add_pull_rows(shortcode, rows)
    return jsonify({"ShortCode": shortcode, "added": count}), 201
