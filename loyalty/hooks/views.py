"""Safaricom callbacks under /hooks/<callback_token>/… (no auth; answer well under 2 s).

Each view: resolve the channel from the opaque token, store the body, answer. Anything
that is not a payment (malformed, refused, results) is kept verbatim in the callback log
before the error is answered, so nothing Safaricom sends is ever lost.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import Blueprint, current_app, jsonify, request

from loyalty.errors import DomainError, Forbidden, error_body
from loyalty.services import ingest

log = logging.getLogger(__name__)

bp = Blueprint("hooks", __name__, url_prefix="/hooks/<token>")

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


def _refused(kind: str, token: str, exc: DomainError, route=None):
    ingest.log_callback(kind, request.get_data(), status_code=exc.status, error=exc.message,
                        token=token, route=route, remote_addr=request.remote_addr)
    response = jsonify(error_body(exc.status, exc.message, code=exc.code))
    response.status_code = exc.status
    return response


def _source_allowed(kind: str, token: str):
    """The optional Safaricom source-IP policy (remote_addr is proxy-corrected by ProxyFix)."""
    policy = current_app.config["CALLBACK_IP_POLICY"]
    if policy == "off" or _listed(request.remote_addr):
        return None
    log.warning("callback %s from unlisted address %s", kind, request.remote_addr)
    if policy == "enforce":
        return _refused(kind, token, Forbidden("This address may not send callbacks.",
                                                code="source_not_allowed"))
    return None


def _listed(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    for entry in current_app.config["CALLBACK_IP_ALLOWLIST"]:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def _handle(kind: str, token: str, action):
    blocked = _source_allowed(kind, token)
    if blocked is not None:
        return blocked
    route = None
    try:
        route = ingest.route_for(token)
        return action(route)
    except DomainError as exc:
        return _refused(kind, token, exc, route)


@bp.post("/c2b/validation")
def c2b_validation(token: str):
    def answer(route):
        if ingest.validate_c2b(route, request.get_data()):
            return jsonify({"ResultCode": "0", "ResultDesc": "Accepted"})
        return jsonify({"ResultCode": "C2B00012", "ResultDesc": "Rejected"})

    return _handle("c2b_validation", token, answer)


@bp.post("/c2b/confirmation")
def c2b_confirmation(token: str):
    def answer(route):
        ingest.store_c2b(route, request.get_data())
        return jsonify(ACCEPTED)

    return _handle("c2b_confirmation", token, answer)


@bp.post("/stk")
@bp.post("/stk/<int:request_id>")
def stk_result(token: str, request_id: int | None = None):
    def answer(route):
        ingest.store_stk_result(route, request.get_data(), request_id)
        return jsonify(ACCEPTED)

    return _handle("stk_result", token, answer)


@bp.post("/result/<kind>")
@bp.post("/timeout/<kind>")
def async_result(token: str, kind: str):
    name = f"{request.path.rsplit('/', 2)[-2]}_{kind}"[:40]

    def answer(route):
        # Results are rare and informational: keep them verbatim for the merchant/operator.
        ingest.log_callback(name, request.get_data(), status_code=200, token=token, route=route,
                            remote_addr=request.remote_addr)
        return jsonify(ACCEPTED)

    return _handle(name, token, answer)
