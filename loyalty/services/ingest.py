"""The callback path: store what Safaricom sent, hand it to the workers, answer fast.

A confirmation costs one INSERT (ON CONFLICT DO NOTHING on the receipt, so duplicates are
free) and, at most every few hundred milliseconds, one Celery message that tells a worker
to drain the waiting payments in batches. Bodies of known channels that cannot become a
payment are kept in the callback log by the hooks blueprint (services/callback_log.py);
bodies sent to unknown tokens are not kept anywhere.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import current_app

from loyalty import background, metrics, nudge
from loyalty.daraja.callbacks import CallbackParseError, parse_c2b, parse_stk_callback
from loyalty.db import channels as channel_statements
from loyalty.db.alone import execute_alone
from loyalty.db.inserts import insert_ignore_alone
from loyalty.errors import DomainError, NotFound
from loyalty.extensions import db
from loyalty.models import (
    ChannelType,
    MpesaChannel,
    Payment,
    PaymentRequest,
    PaymentRequestStatus,
    PaymentSource,
)
from loyalty.models.base import utcnow
from loyalty.phones import classify_msisdn
from loyalty.services import route_table, stk, stk_receipts
from loyalty.services.account_mapping import resolve
from loyalty.strict_json import StrictJsonError
from loyalty.strict_json import loads as strict_loads
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import transactional

log = logging.getLogger(__name__)

# Every token we issue is hex (crypto.new_callback_token) in a String(64) column: anything
# else is a stranger without asking the database.
_TOKEN_SHAPE = re.compile(r"[0-9A-Za-z_-]{1,64}")


class BadCallback(DomainError):
    status, code, message = 400, "bad_callback", "The callback body is not what Safaricom sends."


@dataclass(frozen=True)
class ChannelRoute:
    """What the callback path needs to know about a channel, cached by token."""

    channel_id: int
    merchant_id: int
    shortcodes: frozenset[str]
    channel_type: str
    account_mapping: dict[str, str]
    reject_unknown: bool


class RouteCache:
    """Routes of known channels by token, least recently used first, at most `size` of them
    (ROUTE_CACHE_SIZE), each fresh for ROUTE_CACHE_SECONDS. Unknown tokens are never entered: a
    stranger posting to a million made-up URLs leaves this cache as it was."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, ChannelRoute]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, token: str) -> ChannelRoute | None:
        with self._lock:
            entry = self._entries.get(token)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._entries[token]
                return None
            self._entries.move_to_end(token)
            return entry[1]

    def put(self, token: str, route: ChannelRoute, expires: float, size: int) -> None:
        with self._lock:
            self._entries[token] = (expires, route)
            self._entries.move_to_end(token)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


routes = RouteCache()
table = route_table.RouteTable()


def route_for(token: str) -> ChannelRoute:
    """The channel behind a callback token (cached briefly); NotFound when unknown.
    A rotated-out token routes until its grace ends, and is never cached past that."""
    cached = cached_route(token)
    if cached is not None:
        return cached
    if not _TOKEN_SHAPE.fullmatch(token):
        raise NotFound("Unknown callback URL.")
    # The token is how the merchant is found (so no tenant scope yet): the columns
    # routing needs, by the unique token indexes, as a read of its own (execute_alone:
    # no transaction left open, no encrypted column decrypted).
    with all_merchants():
        found = execute_alone(channel_statements.ROUTE, {"token": token, "now": utcnow()},
                              rows=True)
    if not found:
        raise NotFound("Unknown callback URL.")
    channel = found[0]
    route = route_of(channel)
    now = time.monotonic()
    expires = now + current_app.config["ROUTE_CACHE_SECONDS"]
    if channel.callback_token != token:
        grace_left = (channel.previous_token_expires_at - utcnow()).total_seconds()
        expires = min(expires, now + grace_left)
    routes.put(token, route, expires, current_app.config["ROUTE_CACHE_SIZE"])
    return route


def cached_route(token: str) -> ChannelRoute | None:
    """The channel behind a token when this process holds it fresh (in its route table or
    its per-token cache), else None."""
    config = current_app.config
    if config["ROUTE_TABLE_MAX"] and config["ROUTE_CACHE_SECONDS"]:
        now = route_table.monotonic()
        if table.claim_load(now):
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            route_table.load_in_background(lambda: load_route_table(app, started=now))
        found = table.get(token, now)
        if found is not None:
            return _unpacked(found)
    return routes.get(token)


def load_route_table(app, *, started: float | None = None) -> None:
    """Refresh this process's route table (route_table.py): on its own thread, or called
    by a test."""
    route_table.refresh(app, table, route_table.monotonic() if started is None else started)


def _unpacked(packed: tuple) -> ChannelRoute:
    """A route from the table's flat tuple (route_table._packed): a few microseconds."""
    channel_id, merchant_id, shortcode, store_number, channel_type, mapping, reject, _ = packed
    return ChannelRoute(channel_id=channel_id, merchant_id=merchant_id,
                        shortcodes=frozenset(filter(None, (shortcode, store_number))),
                        channel_type=channel_type,
                        account_mapping=dict(strict_loads(mapping) or {}) if mapping else {},
                        reject_unknown=reject)


def forget_routes() -> None:
    """Drop the route cache and table (tests; channel changes otherwise age out in
    ROUTE_CACHE_SECONDS)."""
    routes.clear()
    table.clear()


def _json(raw: bytes) -> Any:
    try:
        return strict_loads(raw)
    except StrictJsonError as exc:
        raise BadCallback(exc.message) from None


def _check_shortcode(route: ChannelRoute, shortcode: str) -> None:
    if shortcode not in route.shortcodes:
        raise BadCallback(f"BusinessShortCode {shortcode or '(missing)'} does not belong to this "
                          "channel; the payment was not credited.", code="shortcode_mismatch")


def validate_c2b(route: ChannelRoute, raw: bytes) -> bool:
    """Validation: accept unless the channel rejects unknown accounts and nothing matches."""
    _, payment = parse_body(parse_c2b, raw)
    _check_shortcode(route, payment.shortcode)
    if not route.reject_unknown:
        return True
    reference = payment.bill_ref if route.channel_type == ChannelType.PAYBILL.value else ""
    return resolve(route.account_mapping, reference)[0] is not None


def parse_body(parser, raw: bytes) -> tuple[Any, Any]:
    """(the JSON body, the parsed callback); BadCallback with a clear reason otherwise."""
    body = _json(raw)
    try:
        return body, parser(body)
    except CallbackParseError as exc:
        raise BadCallback(str(exc)) from None


def store_c2b(route: ChannelRoute, raw: bytes) -> bool:
    """Store a confirmation; True when it was new. Duplicates are fine (same receipt)."""
    return store_confirmation(route, parse_confirmation(route, raw))


def parse_confirmation(route: ChannelRoute, raw: bytes) -> tuple[Any, Any]:
    """(the JSON body, the parsed confirmation) of this channel; BadCallback otherwise."""
    payload, payment = parse_body(parse_c2b, raw)
    _check_shortcode(route, payment.shortcode)
    return payload, payment


@transactional
def store_confirmation(route: ChannelRoute, confirmation: tuple[Any, Any]) -> bool:
    """Store a parsed confirmation (parse_confirmation); True when it was new."""
    new_id = insert_ignore_alone(Payment, confirmation_row(route, confirmation),
                                 ["merchant_id", "trans_id"], merchant_id=route.merchant_id)
    if new_id is not None:
        metrics.PAYMENTS_STORED.labels(source="c2b").inc()  # committed: it ran alone
        nudge.nudge_crediting()
    return new_id is not None


def confirmation_row(route: ChannelRoute, confirmation: tuple[Any, Any]) -> dict[str, Any]:
    """The payments row of a parsed confirmation (its receipt is the row's key)."""
    payload, payment = confirmation
    return {
        "channel_id": route.channel_id, "trans_id": payment.trans_id, "source": PaymentSource.C2B,
        "trans_type": payment.trans_type or None, "trans_time": payment.trans_time,
        "amount": payment.amount, "bill_ref": payment.bill_ref or None,
        "msisdn": payment.msisdn or None, "msisdn_form": classify_msisdn(payment.msisdn).value,
        "first_name": payment.first_name or None, "middle_name": payment.middle_name or None,
        "last_name": payment.last_name or None, "payload": payload,
    }


@dataclass(frozen=True)
class StkStored:
    """What an STK callback did: the payment of its receipt (new or held already), or why
    it changed nothing (`late`: the request had its final state; kept in the log)."""

    payment_id: int | None = None
    new: bool = False
    late: str | None = None
    same_receipt: bool = False  # late, but the very receipt the request was paid with


@transactional
def store_stk_result(route: ChannelRoute, raw: bytes, request_id: int | None = None) -> StkStored:
    """Settle an STK push with its callback; a success is also a payment (same receipt
    namespace as C2B, so a C2B confirmation of it, earlier or later, is the same one).

    A request's final state never changes: a callback for a settled request changes nothing
    (the caller logs it), except that a success known only from an STK query takes its
    receipt from the first callback that brings one. `request_id` comes from the
    per-request callback path: it finds the request even when the push timed out before we
    learnt its CheckoutRequestID."""
    payload, result = parse_body(parse_stk_callback, raw)
    with tenant_context(route.merchant_id):
        match = (PaymentRequest.id == request_id if request_id is not None
                 else PaymentRequest.checkout_request_id == result.checkout_request_id)
        request = db.session.scalar(sa.select(PaymentRequest).where(
            match, PaymentRequest.channel_id == route.channel_id).with_for_update())
        if request is None:
            raise BadCallback("No STK push of this channel has that CheckoutRequestID.",
                              code="unknown_checkout")
        if request.checkout_request_id is None:
            request.checkout_request_id = result.checkout_request_id
            request.merchant_request_id = result.merchant_request_id
        settled = stk.settle(request, result.result_code, result.result_desc)
        receipt_wanted = (request.status == PaymentRequestStatus.SUCCEEDED
                          and request.receipt is None and result.succeeded)
        if not (settled or receipt_wanted):
            return StkStored(payment_id=request.payment_id, late=_late(request, result),
                             same_receipt=bool(result.receipt and result.receipt == request.receipt))
        if not result.succeeded:
            return StkStored()
        new_id = stk_receipts.credit_receipt(
            request, result.receipt, amount=result.amount, when=result.transaction_date,
            payload=payload)
        if new_id is not None:
            background.after_commit(metrics.PAYMENTS_STORED.labels(source="stk").inc)
        return StkStored(payment_id=request.payment_id, new=new_id is not None)


def _late(request: PaymentRequest, result) -> str:
    said = result.receipt or f"result {result.result_code}"
    if request.receipt:
        return (f"The payment request was already paid with receipt {request.receipt}; this "
                f"callback ({said}) was not credited.")
    return (f"The payment request was already {request.status.value} "
            f"({request.result_code or 'no code'}); this callback ({said}) changed nothing.")


def route_of(channel: MpesaChannel) -> ChannelRoute:
    """A channel's routing facts from its row (a replay from the callback log, whose token
    may have been rotated since)."""
    return ChannelRoute(
        channel_id=channel.id, merchant_id=channel.merchant_id,
        shortcodes=frozenset(filter(None, (channel.shortcode, channel.store_number))),
        channel_type=channel.channel_type.value, account_mapping=dict(channel.account_mapping or {}),
        reject_unknown=channel.validation_policy.value == "reject_unknown")
