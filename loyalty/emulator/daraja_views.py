"""Daraja's own paths under `/_emulator/daraja` (or at the root of `flask emulator serve`),
answering as Safaricom does (DARAJA.md 2-11).

Point any Daraja client's base URL here and it needs nothing else: the same OAuth call, the
same Bearer tokens, the same error bodies (`requestId`/`errorCode`/`errorMessage`), even the
empty 400 for wrong credentials and Safaricom's `OriginatorCoversationID` typo.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import random
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from loyalty.emulator import pull, results, reversals, rules, stk
from loyalty.emulator.c2b import simulate_payment
from loyalty.emulator.core import Emulator
from loyalty.emulator.errors import DarajaError, invalid, no_product
from loyalty.emulator.payloads import new_originator_id

PREFIX = "/_emulator/daraja"  # where init_app mounts it; the standalone server uses the root
bp = Blueprint("emulator_daraja", __name__, url_prefix=PREFIX)

# Real paths, so a wrong method answers 405.001 rather than "not found".
KNOWN_PATHS = {
    "/oauth/v1/generate", "/mpesa/c2b/v1/registerurl", "/mpesa/c2b/v2/registerurl",
    "/mpesa/c2b/v1/simulate", "/mpesa/c2b/v2/simulate", "/mpesa/stkpush/v1/processrequest",
    "/mpesa/stkpushquery/v1/query", "/mpesa/accountbalance/v1/query",
    "/mpesa/transactionstatus/v1/query", "/pulltransactions/v1/register",
    "/pulltransactions/v1/query",
    "/mpesa/reversal/v1/request",
}
# What an upstream proxy in front of Daraja returns when it breaks: not JSON at all.
PROXY_ERROR_PAGE = ("<html><head><title>500 Internal Server Error</title></head><body>"
                    "<h1>Internal Server Error</h1><p>The upstream server failed.</p>"
                    "</body></html>")


def emulator() -> Emulator:
    return current_app.extensions["emulator"]


def _body() -> dict[str, Any]:
    # Without `Content-Type: application/json` Safaricom sees no fields at all, which is why
    # STK Push then complains about BusinessShortCode (DARAJA.md 1).
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


@bp.errorhandler(DarajaError)
def _daraja_error(error: DarajaError):
    return jsonify(error.body()), error.status


def daraja_path() -> str:
    """The request's path as Safaricom spells it, whatever prefix the views are mounted at."""
    return request.path.removeprefix(current_app.extensions["emulator_prefixes"]["daraja"]) or "/"


@bp.before_request
def _inject_faults():
    path = daraja_path()
    settings = emulator().state.settings()
    if settings["daraja_latency_ms"]:
        time.sleep(settings["daraja_latency_ms"] / 1000)
    if settings["daraja_error_rate"] and random.random() < settings["daraja_error_rate"]:
        return jsonify(DarajaError(500, "500.003.02", "Spike arrest violation").body()), 500
    for rule in emulator().state.due_faults("daraja", path):
        if rule["mode"] == "delay":
            time.sleep(float(rule["delay"]))
        elif rule["mode"] == "spike":
            return jsonify(DarajaError(500, "500.003.02", "Spike arrest violation").body()), 500
        else:
            return Response(PROXY_ERROR_PAGE, status=int(rule.get("status", 500)),
                            mimetype="text/html")
    return None


def _grant(product: str) -> dict[str, Any]:
    """The token's grant, or the error Daraja gives for a missing, stale or unentitled token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DarajaError(404, "404.001.04", "Invalid Authentication Header")
    grant = emulator().state.grant(token.strip())
    if grant is None:
        raise DarajaError(404, "404.001.03", "Invalid Access Token")
    if product not in grant["products"]:
        raise no_product()
    return grant


@bp.get("/oauth/v1/generate")
def oauth():
    state = emulator().state
    if request.args.get("grant_type") != "client_credentials":
        raise DarajaError(400, "400.008.02", "Invalid grant type passed")
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        raise DarajaError(400, "400.008.01", "Invalid Authentication passed")
    try:
        key, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return Response("", status=400)
    state.count_oauth(key)
    app = state.app(key)
    if app is None or not hmac.compare_digest(secret.encode(), app["consumer_secret"].encode()):
        return Response("", status=400)  # Safaricom's answer to bad credentials: no body
    token = state.mint_token(app)
    return jsonify({"access_token": token, "expires_in": str(app["token_ttl"])})


@bp.post("/mpesa/c2b/<version>/registerurl")
def register_url(version: str):
    if version not in ("v1", "v2"):
        raise DarajaError(404, "404.003.01", "Resource not found")
    grant = _grant(f"c2b_{version}")
    body = _body()
    shortcode = rules.shortcode(rules.required(body, "ShortCode"))
    if grant["environment"] == "production" and shortcode not in grant["shortcodes"]:
        raise invalid("ShortCode")
    if body.get("ResponseType") not in ("Completed", "Cancelled"):
        raise invalid("ResponseType")
    public = emulator().public_urls(grant)
    confirmation = rules.registration_url(rules.required(body, "ConfirmationURL"),
                                          "ConfirmationURL", public=public)
    validation = rules.registration_url(rules.required(body, "ValidationURL"), "ValidationURL",
                                        public=public)
    state = emulator().state
    existing = state.registration(shortcode)
    # Production registers once per shortcode; the sandbox lets anyone overwrite (4.2).
    if grant["environment"] == "production" and existing \
            and existing["environment"] == "production":
        raise DarajaError(500, "500.003.1001", "Urls are already registered")
    state.save_registration({
        "ShortCode": shortcode, "ResponseType": body["ResponseType"],
        "ConfirmationURL": confirmation, "ValidationURL": validation, "version": version,
        "consumer_key": grant["consumer_key"], "environment": grant["environment"],
        "registered_at": time.time(),
    })
    return jsonify({"OriginatorCoversationID": new_originator_id(), "ResponseCode": "0",
                    "ResponseDescription": "Success"})


@bp.post("/mpesa/c2b/<version>/simulate")
def c2b_simulate(version: str):
    if version not in ("v1", "v2"):
        raise DarajaError(404, "404.003.01", "Resource not found")
    grant = _grant(f"c2b_{version}")
    if grant["environment"] == "production":
        raise DarajaError(404, "404.003.01", "Resource not found")  # sandbox only (4.7)
    body = _body()
    simulate_payment(
        emulator(),
        shortcode=rules.required(body, "ShortCode"),
        command_id=rules.required(body, "CommandID"),
        amount=rules.required(body, "Amount"),
        # Daraja wants the 12-digit form; the page and control API accept any.
        msisdn=rules.phone(rules.required(body, "Msisdn"), "Msisdn"),
        bill_ref=body.get("BillRefNumber") or "",
        first_name=body.get("FirstName", "John"),
        middle_name=body.get("MiddleName", ""),
        last_name=body.get("LastName", ""),
        msisdn_form=body.get("MsisdnForm", "hashed"),
        trans_id=body.get("TransID"),
    )
    return jsonify({"OriginatorCoversationID": new_originator_id(), "ResponseCode": "0",
                    "ResponseDescription": "Accept the service request successfully."})


@bp.post("/mpesa/stkpush/v1/processrequest")
def stk_push():
    return jsonify(stk.push(emulator(), _grant("stk"), _body()))


@bp.post("/mpesa/stkpushquery/v1/query")
def stk_query():
    return jsonify(stk.query(emulator(), _grant("stk"), _body()))


@bp.post("/mpesa/accountbalance/v1/query")
def account_balance():
    return jsonify(results.account_balance(emulator(), _grant("balance"), _body()))


@bp.post("/mpesa/transactionstatus/v1/query")
def transaction_status():
    return jsonify(results.transaction_status(emulator(), _grant("status"), _body()))


# Note the paths: no /mpesa/ prefix (DARAJA.md 4.8). The doc calls the query a GET, yet
# documents a body; clients send POST, and so does the platform.
@bp.post("/pulltransactions/v1/register")
def pull_register():
    return jsonify(pull.register(emulator(), _grant("pull"), _body()))


@bp.post("/pulltransactions/v1/query")
def pull_query():
    return jsonify(pull.query(emulator(), _grant("pull"), _body()))


@bp.post("/mpesa/reversal/v1/request")
def reversal():
    return jsonify(reversals.reverse(emulator(), _grant("reversal"), _body()))


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str):
    if "/" + rest in KNOWN_PATHS:
        raise DarajaError(405, "405.001", "Method not allowed")
    raise DarajaError(404, "404.001.01", "Resource not found")
