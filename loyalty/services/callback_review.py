"""The callback log as a merchant reviews it: the bodies sent to their own channels that did
not become payments, and replaying a stored C2B confirmation or STK result through the
normal path, or an async result or timeout (balance, status, reversal) through
async_results, as the spool replay does. (Keeping the bodies is callback_log.py's, on the
callback path.)

`callback_log` is not tenant-scoped (a body can arrive before its merchant is known), so
every read here names the current merchant itself. A replay inserts through the same
receipt namespace as a callback (ON CONFLICT on (merchant, trans_id)): replaying twice, or
replaying a body whose payment came meanwhile by Pull or by a second callback, finds the
same payment and credits it once. An async result is recorded on its request once: a
second replay finds it answered and applies nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from loyalty.daraja.callbacks import CallbackParseError, parse_result, parse_stk_callback
from loyalty.db.inserts import insert_ignore
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import (
    AsyncRequest,
    CallbackLog,
    CallbackOutcome,
    Payment,
    PaymentRequest,
    PaymentStatus,
)
from loyalty.models.base import utcnow
from loyalty.services import async_requests, async_results, crediting, ingest
from loyalty.services.channels import get_channel
from loyalty.services.ingest import BadCallback, ChannelRoute
from loyalty.tenancy import current_merchant_id
from loyalty.unit_of_work import transactional

REPLAYABLE = {"c2b_confirmation": "a C2B confirmation", "stk_result": "an STK result",
              **{f"{which}_{kind}": f"{which} of {kind}"
                 for which in ("result", "timeout") for kind in ("balance", "status", "reversal")}}
PAYMENTS = ("c2b_confirmation", "stk_result")


@dataclass(frozen=True)
class ResultReplay:
    """What replaying an async result or timeout did: `applied`, else the `note` saying why
    not (answered already, no such request, ...); `transaction` is the payment it is about
    (the one reversed, or an STK push's), when any."""

    kind: str
    applied: bool
    note: str | None
    transaction: Payment | None
KINDS = {
    "c2b_confirmation": "Payment confirmation",
    "c2b_validation": "Payment validation",
    "stk_result": "M-Pesa Express result",
    "result_balance": "Balance check result",
    "timeout_balance": "Balance check timed out",
    "result_status": "Transaction status result",
    "timeout_status": "Transaction status timed out",
    "result_reversal": "Reversal result",
    "timeout_reversal": "Reversal timed out",
}


def list_entries(*, channel_id: int | None = None, kind: str | None = None,
                 since: datetime | None = None, until: datetime | None = None,
                 cursor: int | None = None, limit: int = 50) -> dict[str, Any]:
    """The current merchant's entries, newest first, keyset-paginated by id:
    {"items": [...], "next_cursor": id | None}."""
    query = (sa.select(CallbackLog).where(CallbackLog.merchant_id == current_merchant_id())
             .order_by(CallbackLog.id.desc()).limit(limit + 1))
    filters = ((channel_id, lambda v: CallbackLog.channel_id == v),
               (kind, lambda v: CallbackLog.kind == v),
               (since, lambda v: CallbackLog.received_at >= v),
               (until, lambda v: CallbackLog.received_at < v),
               (cursor, lambda v: CallbackLog.id < v))
    for value, clause in filters:
        if value is not None:
            query = query.where(clause(value))
    rows = list(db.session.scalars(query))
    items = rows[:limit]
    return {"items": items, "next_cursor": items[-1].id if len(rows) > limit else None}


def _entry(entry_id: int) -> CallbackLog:
    entry = db.session.scalar(sa.select(CallbackLog).where(
        CallbackLog.id == entry_id, CallbackLog.merchant_id == current_merchant_id())
        .with_for_update())
    if entry is None:
        raise NotFound("Callback log entry not found.")
    return entry


@transactional
def replay_entry(entry_id: int) -> Payment | ResultReplay:
    """Feed a stored C2B confirmation or STK result through the normal path: the payment
    it produced (credited at once when new); or a stored async result or timeout through
    async_results: what it did (ResultReplay). Conflict when the body cannot become a
    payment (another kind, a settled push, a failed push), ValidationFailed when it is
    not what Safaricom sends or names another business's shortcode."""
    entry = _entry(entry_id)
    if entry.kind not in REPLAYABLE:
        raise Conflict(f"Only payment confirmations, M-Pesa Express results and Safaricom's "
                       f"answers to balance, status and reversal requests can be replayed; "
                       f"this is a {KINDS.get(entry.kind, entry.kind).lower()}.",
                       code="not_replayable")
    if entry.body_bytes and entry.body_bytes > len(entry.body.encode()):
        raise Conflict("Only the start of this body was kept (it came from an address the "
                       "callback policy refuses), so it cannot be replayed.",
                       code="body_truncated")
    if entry.channel_id is None:
        raise Conflict("The channel this body was sent to no longer exists.",
                       code="channel_gone")
    try:
        channel = get_channel(entry.channel_id)
    except NotFound:
        raise Conflict("The channel this body was sent to was deleted.",
                       code="channel_gone") from None
    route, raw = ingest.route_of(channel), entry.body.encode()
    if entry.kind not in PAYMENTS:
        return _async_result(entry, route, raw)
    try:
        payment, new = (_confirmation(route, raw) if entry.kind == "c2b_confirmation"
                        else _stk_result(route, raw))
    except BadCallback as exc:
        # The body itself is the problem: it stays refused however often it is replayed.
        raise ValidationFailed(exc.message, code=exc.code,
                               fields={"body": [exc.message]}) from None
    if new and payment.status == PaymentStatus.RECEIVED:
        crediting.credit_and_text(payment)
    entry.replayed_at, entry.payment_id = utcnow(), payment.id
    return payment


def _confirmation(route: ChannelRoute, raw: bytes) -> tuple[Payment, bool]:
    confirmation = ingest.parse_confirmation(route, raw)
    new_id = insert_ignore(Payment, ingest.confirmation_row(route, confirmation),
                           ["merchant_id", "trans_id"])
    return _payment(trans_id=confirmation[1].trans_id), new_id is not None


def _stk_result(route: ChannelRoute, raw: bytes) -> tuple[Payment, bool]:
    stored = ingest.store_stk_result(route, raw)
    if stored.late and not stored.same_receipt:
        raise Conflict(stored.late, code="already_settled")
    if stored.payment_id is None:
        _, result = ingest.parse_body(parse_stk_callback, raw)
        raise Conflict(f"This M-Pesa Express result is not a payment: "
                       f"{result.result_desc or 'no description'} ({result.result_code}).",
                       code="not_a_payment")
    return _payment(payment_id=stored.payment_id), stored.new


def _payment(*, trans_id: str | None = None, payment_id: int | None = None) -> Payment:
    match = Payment.id == payment_id if payment_id is not None else Payment.trans_id == trans_id
    return db.session.scalars(sa.select(Payment).where(match)
                              .execution_options(populate_existing=True)).one()


def _async_result(entry: CallbackLog, route: ChannelRoute, raw: bytes) -> ResultReplay:
    """Apply a kept result or timeout as its view (and the spool replay) does; the entry
    then says what the replay did, in place of why it was kept."""
    which, kind = entry.kind.split("_", 1)
    apply = async_results.apply_timeout if which == "timeout" else async_results.apply_result
    try:
        note = apply(route, raw, kind=kind, ref=entry.request_ref)
    except BadCallback as exc:
        raise ValidationFailed(exc.message, code=exc.code,
                               fields={"body": [exc.message]}) from None
    payment = _about(route, raw, kind, entry.request_ref)
    # payment_id stays the payment a body produced: a result produces none.
    entry.replayed_at, entry.outcome, entry.error = utcnow(), CallbackOutcome.RESULT, note
    return ResultReplay(kind=entry.kind, applied=note is None, note=note, transaction=payment)


def _about(route: ChannelRoute, raw: bytes, kind: str, ref: int | None) -> Payment | None:
    """The payment the result's request is about: the one reversed, or the STK push's."""
    try:
        result = parse_result(json.loads(raw))
        ids = (result.conversation_id, result.originator_conversation_id)
    except (ValueError, UnicodeDecodeError, CallbackParseError):
        ids = ("", "")
    asked: AsyncRequest | None = async_requests.find(
        route.channel_id, *ids, kind=async_results.kind_of(kind), ref=ref)
    if asked is None:
        return None
    payment_id = asked.payment_id
    if payment_id is None and asked.payment_request_id is not None:
        payment_id = db.session.scalar(sa.select(PaymentRequest.payment_id).where(
            PaymentRequest.id == asked.payment_request_id))
    return _payment(payment_id=payment_id) if payment_id is not None else None
