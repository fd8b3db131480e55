"""Safaricom callbacks under /hooks/<callback_token>/… (no auth; answer well under 2 s).

Each view: resolve the channel from the opaque token, store the body, answer. What comes
of a body that is not a payment:

- unknown token → 404, nothing stored (a count and a short log line: hooks/strangers.py);
- a refused source address (CALLBACK_IP_POLICY=enforce) → 403, the first 4 KiB kept when
  the token is a channel's (strangers still store nothing; the answer is 403 either way,
  so a refused address cannot tell which tokens exist);
- not what Safaricom sends (a field out of shape, a foreign shortcode) → 400 with the
  reason, the body kept in the callback log;
- the database refusing a value → 400, failing → 503, in both cases only after the body
  was kept in the callback log or, that failing too, the spool (services/callback_log.py).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Callable

from flask import Blueprint, current_app, jsonify, request

from loyalty import metrics
from loyalty.db.errors import DATABASE_ERRORS, VALUE_REFUSED
from loyalty.errors import DomainError, Forbidden, NotFound, ServiceUnavailable, error_body
from loyalty.hooks import fast, strangers
from loyalty.models import CallbackOutcome
from loyalty.services import async_results, callback_log, ingest
from loyalty.services.callback_log import REFUSED_KEEP, Received

log = logging.getLogger(__name__)

bp = Blueprint("hooks", __name__, url_prefix="/hooks/<token>")

ACCEPTED = {"ResultCode": 0, "ResultDesc": "Accepted"}


class SourceRefused(Forbidden):
    code, message = "source_not_allowed", "This address may not send callbacks."


def _error(exc: DomainError):
    response = jsonify(error_body(exc.status, exc.message, code=exc.code))
    response.status_code = exc.status
    return response


def _source_refused(kind: str) -> bool:
    """The optional Safaricom source-IP policy (remote_addr is proxy-corrected by ProxyFix)."""
    policy = current_app.config["CALLBACK_IP_POLICY"]
    if policy == "off" or _listed(request.remote_addr):
        return False
    log.warning("callback %s from unlisted address %s", kind, request.remote_addr)
    return policy == "enforce"


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


def _received(kind: str, token: str, request_id: int | None = None, *,
              limit: int | None = None) -> Received:
    """The callback as it came; with `limit`, only that many bytes of the body are read."""
    body = request.get_data() if limit is None else request.stream.read(limit)
    return Received(kind=kind, token=token, body=body, remote_addr=request.remote_addr,
                    body_bytes=request.content_length, request_id=request_id)


_COUNTED_KINDS = ("c2b_validation", "c2b_confirmation", "stk_result")


def _handle(kind: str, token: str, action: Callable, request_id: int | None = None):
    response = _answer(kind, token, action, request_id)
    # Async kinds come from the URL: counted as `result` or `timeout`, never by what a
    # stranger typed (each label value is a series kept forever).
    counted = kind if kind in _COUNTED_KINDS else kind.split("_", 1)[0]
    metrics.CALLBACKS.labels(kind=counted,
                             outcome=metrics.callback_outcome(response.status_code)).inc()
    return response


def _answer(kind: str, token: str, action: Callable, request_id: int | None):
    refused = _source_refused(kind)
    try:
        if request.environ.get(fast.UNKNOWN_TOKEN) == token:  # just asked (hooks/fast.py)
            raise NotFound("Unknown callback URL.")
        route = ingest.route_for(token)
    except NotFound as exc:
        strangers.note(kind, token, request.remote_addr, request.content_length)
        return _error(SourceRefused() if refused else exc)
    except DATABASE_ERRORS as exc:
        # The database cannot say whose token this is: keep the body for a replay.
        return _unstored(_received(kind, token, request_id), None, exc)
    if refused:
        received = _received(kind, token, request_id, limit=REFUSED_KEEP)
        callback_log.keep_or_spool(received, outcome=CallbackOutcome.REFUSED_IP,
                                   status_code=403, error=SourceRefused.message, route=route)
        return _error(SourceRefused())
    received = _received(kind, token, request_id)
    try:
        return action(route, received)
    except DomainError as exc:
        callback_log.keep_or_spool(received, outcome=CallbackOutcome.REJECTED,
                                   status_code=exc.status, error=exc.message, route=route)
        return _error(exc)
    except DATABASE_ERRORS as exc:
        return _unstored(received, route, exc)


def _unstored(received: Received, route, exc: Exception):
    """The database refused or failed to store a callback: keep the body, then answer
    400 (a value it refused) or 503 (it failed)."""
    if isinstance(exc, VALUE_REFUSED):
        answer: DomainError = ingest.BadCallback(
            "A value in the body cannot be stored; the body was kept for review.")
    else:
        answer = ServiceUnavailable("The callback could not be stored right now; it was kept "
                                    "and will be replayed.")
    log.error("callback %s not stored: %s: %s", received.kind, type(exc).__name__,
              str(exc).splitlines()[0][:200] if str(exc) else "")
    callback_log.keep_or_spool(received, outcome=CallbackOutcome.STORE_FAILED,
                               status_code=answer.status, error=answer.message, route=route)
    return _error(answer)


@bp.post("/c2b/validation")
def c2b_validation(token: str):
    def answer(route, received: Received):
        if ingest.validate_c2b(route, received.body):
            return jsonify({"ResultCode": "0", "ResultDesc": "Accepted"})
        return jsonify({"ResultCode": "C2B00012", "ResultDesc": "Rejected"})

    return _handle("c2b_validation", token, answer)


@bp.post("/c2b/confirmation")
def c2b_confirmation(token: str):
    def answer(route, received: Received):
        ingest.store_c2b(route, received.body)
        return jsonify(ACCEPTED)

    return _handle("c2b_confirmation", token, answer)


@bp.post("/stk")
@bp.post("/stk/<int:request_id>")
def stk_result(token: str, request_id: int | None = None):
    def answer(route, received: Received):
        stored = ingest.store_stk_result(route, received.body, request_id)
        if stored.late:
            # A second or late callback of a settled request: kept, never credited again.
            callback_log.keep(received, outcome=CallbackOutcome.DUPLICATE, status_code=200,
                              error=stored.late, route=route)
        return jsonify(ACCEPTED)

    return _handle("stk_result", token, answer, request_id)


@bp.post("/result/<kind>")
@bp.post("/result/<kind>/<int:ref>")
@bp.post("/timeout/<kind>")
@bp.post("/timeout/<kind>/<int:ref>")
def async_result(token: str, kind: str, ref: int | None = None):
    """Async results (and queue timeouts) of requests we made; `ref` names the async
    request (a reversal's) so a result is matched even before its ids were recorded."""
    timed_out = request.url_rule.rule.startswith(bp.url_prefix + "/timeout/")
    name = f"{'timeout' if timed_out else 'result'}_{kind}"[:40]

    def answer(route, received: Received):
        apply = async_results.apply_timeout if timed_out else async_results.apply_result
        try:
            note = apply(route, received.body, kind=kind, ref=ref)
        except (DomainError, *DATABASE_ERRORS):
            raise  # kept by _handle: refused with its reason, or the database failed
        except Exception:
            callback_log.keep(received, outcome=CallbackOutcome.STORE_FAILED, status_code=500,
                              error="The result could not be applied; kept for review.",
                              route=route)
            raise
        # Results are kept too, applied or not: the merchant's record of what Safaricom said.
        callback_log.keep(received, outcome=CallbackOutcome.RESULT, status_code=200,
                          error=note, route=route)
        return jsonify(ACCEPTED)

    return _handle(name, token, answer, ref)
