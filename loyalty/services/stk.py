"""M-Pesa Express (STK push): ask a customer to pay, then follow the request to its end.

A request is `pending` until the first of: the STK callback, an STK query (at about 30 s,
2 min, 10 min and 1 h after the push, while no callback came), or beat's expiry 24 hours
after the push. It is then `succeeded`, `failed`, `cancelled` or `expired`, and that
never changes: a late or second callback is kept in the callback log, never credited under
a new receipt. A success known only from a query has no receipt yet; stk_receipts.py finds
it (the matching C2B/Pull payment, or a Transaction Status query).

A push is never retried blindly: if Safaricom does not answer, the prompt may already be
on the customer's phone, so the request is left `pending` and the callback (which finds
the request by its per-request URL) or the expiry decides. A push Safaricom refused for
rate (`500.003.02` spike arrest, `500.003.03` quota) never reached the phone: `failed`.

The worker functions read in one short unit of work, call Safaricom with no transaction
open, and record the answer in another (their tasks say `owns_transaction=False`). Each
follow-up task carries the step it is for: a redelivered or duplicated message (a Redis
countdown longer than the broker's visibility timeout is delivered again) finds the step
done and does nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.daraja.errors import DarajaError, DarajaUnavailable, InvalidRequest, RateLimited
from loyalty.daraja.payloads import stk_parties
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import PaymentRequest, PaymentRequestStatus
from loyalty.models.base import utcnow
from loyalty.services import stk_receipts
from loyalty.services.channel_setup import channel_access
from loyalty.services.channels import get_channel
from loyalty.services.pages import keyset_page
from loyalty.tenancy import all_merchants
from loyalty.unit_of_work import transactional, unit_of_work

log = logging.getLogger(__name__)

QUERY_AFTER = (30, 120, 600, 3600)  # seconds after the push, while no callback came
EXPIRE_AFTER = timedelta(hours=24)
# A follow-up still not run this long after it was due lost its countdown (Redis down when
# it was published, a worker that died holding it): beat queues it again.
OVERDUE = timedelta(minutes=5)
SWEEP_LIMIT = 500
CANCELLED_CODES = frozenset({"1032"})  # the customer cancelled the prompt
RETRYABLE = (DarajaUnavailable,)


def final_status(result_code: str) -> PaymentRequestStatus:
    """The final state a Daraja ResultCode means (DARAJA.md 6.5)."""
    if result_code == "0":
        return PaymentRequestStatus.SUCCEEDED
    if result_code in CANCELLED_CODES:
        return PaymentRequestStatus.CANCELLED
    return PaymentRequestStatus.FAILED


def settle(request: PaymentRequest, result_code: str, result_desc: str | None) -> bool:
    """Give a pending request its final state; False, changing nothing, when it has one
    already: a final state never changes."""
    if request.status != PaymentRequestStatus.PENDING:
        return False
    request.status = final_status(result_code)
    request.result_code, request.result_desc = result_code, result_desc
    request.finished_at, request.next_check_at = utcnow(), None
    return True


@transactional
def request_stk_push(channel_id: int, *, phone: str, amount: Decimal,
                     account_reference: str | None = None) -> PaymentRequest:
    """Record a payment request and queue the push; the channel needs a passkey."""
    channel = get_channel(channel_id)
    if not channel.passkey:
        raise Conflict("Add the channel's M-Pesa Express passkey first.", code="passkey_missing")
    if amount != amount.to_integral_value() or amount < 1:
        raise ValidationFailed("M-Pesa Express takes whole shillings.",
                               fields={"amount": ["Use a whole number of KES, at least 1."]})
    reference = (account_reference or "").strip() or channel.shortcode
    try:
        stk_parties(channel.channel_type.value, channel.shortcode, channel.store_number)
    except InvalidRequest as exc:
        raise ValidationFailed(str(exc), fields={exc.field or "channel": [str(exc)]}) from None
    request = PaymentRequest(channel_id=channel.id, phone=phone, amount=amount,
                             account_reference=reference)
    db.session.add(request)
    db.session.flush()
    background.enqueue(TaskName.STK_PUSH, channel.merchant_id, request.id)
    return request


def get_payment_request(request_id: int) -> PaymentRequest:
    """One of the merchant's STK push requests; NotFound otherwise."""
    return _request(request_id)


def list_payment_requests(*, channel_id: int | None = None,
                          status: PaymentRequestStatus | None = None, limit: int = 50,
                          cursor: int | None = None) -> dict:
    """The merchant's STK push requests, newest first: {"items", "next_cursor"}."""
    query = sa.select(PaymentRequest)
    if channel_id is not None:
        query = query.where(PaymentRequest.channel_id == channel_id)
    if status is not None:
        query = query.where(PaymentRequest.status == status)
    return keyset_page(query, PaymentRequest.id, limit=limit, cursor=cursor)


def _request(request_id: int, *, lock: bool = False) -> PaymentRequest:
    query = sa.select(PaymentRequest).where(PaymentRequest.id == request_id)
    if lock:  # the callback and a query may settle the same request at once
        query = query.with_for_update()
    request = db.session.scalar(query)
    if request is None:
        raise NotFound("Payment request not found.")
    return request


def _stk_args(request: PaymentRequest) -> dict:
    channel = get_channel(request.channel_id)
    business, party_b, kind = stk_parties(channel.channel_type.value, channel.shortcode,
                                          channel.store_number)
    return dict(business_shortcode=business, passkey=channel.passkey, party_b=party_b,
                transaction_type=kind)


# --- the push --------------------------------------------------------------------------------


def send_stk_push(request_id: int) -> None:
    """Worker: send the prompt once and record Safaricom's answer."""
    with unit_of_work():
        request = _request(request_id)
        if request.checkout_request_id or request.status != PaymentRequestStatus.PENDING:
            return  # already sent (a redelivered task must not prompt twice)
        args = dict(_stk_args(request), amount=int(request.amount), phone=request.phone,
                    account_reference=request.account_reference, description="Payment")
        channel_id = request.channel_id
    access = channel_access(channel_id)
    try:
        # A per-request path finds the request even if Safaricom never told us its id.
        callback_url = f"{access.callback_urls['stk']}/{request_id}"
        result = access.client().stk_push(callback_url=callback_url, **args)
    except RateLimited as exc:
        # Spike arrest or quota: refused before any prompt reached the phone.
        outcome = {"error": f"Safaricom is limiting requests, so the customer was not asked to "
                            f"pay; try again in a minute. ({exc})", "code": exc.code}
    except DarajaUnavailable as exc:
        outcome = {"error": f"No answer from Safaricom ({exc}); the callback or the expiry "
                            "will decide.", "pending": True}
    except DarajaError as exc:
        outcome = {"error": str(exc), "code": exc.code}
    else:
        outcome = {"checkout": result.checkout_request_id,
                   "merchant_request": result.merchant_request_id}
    with unit_of_work():
        _record_push(request_id, **outcome)


def _record_push(request_id: int, *, checkout: str | None = None,
                 merchant_request: str | None = None, error: str | None = None,
                 code: str | None = None, pending: bool = False) -> None:
    request = _request(request_id, lock=True)
    if checkout:
        if request.checkout_request_id is None:  # the callback may have been first
            request.checkout_request_id, request.merchant_request_id = checkout, merchant_request
        if request.status == PaymentRequestStatus.PENDING:
            _schedule_query(request)
        return
    if pending:
        request.result_desc = error
    elif settle(request, code or "", error):  # refused before any prompt: always `failed`
        request.result_code = code


# --- queries while no callback came ----------------------------------------------------------


def _schedule_query(request: PaymentRequest) -> None:
    """Queue the query of the request's next step, or none after the last."""
    step = request.query_step
    if step >= len(QUERY_AFTER):
        request.next_check_at = None  # beat expires it 24 hours after the push
        return
    request.next_check_at = request.created_at + timedelta(seconds=QUERY_AFTER[step])
    background.enqueue(TaskName.STK_QUERY, request.merchant_id, request.id, step,
                       countdown=_seconds_until(request.next_check_at))


def _seconds_until(moment: datetime) -> float:
    return max(0.0, (moment - utcnow()).total_seconds())


def query_stk_push(request_id: int, step: int = 0) -> None:
    """Worker: when no callback came, ask Safaricom how the push ended (follow-up `step`)."""
    with unit_of_work():
        request = _request(request_id)
        if (request.status != PaymentRequestStatus.PENDING or request.query_step != step
                or not request.checkout_request_id):
            return  # settled meanwhile, or this step was done already
        parties = _stk_args(request)
        args = dict(business_shortcode=parties["business_shortcode"], passkey=parties["passkey"],
                    checkout_request_id=request.checkout_request_id)
        channel_id = request.channel_id
    try:
        result = channel_access(channel_id).client().stk_query(**args)
    except DarajaError as exc:
        # Unreachable, rate-limited or refused: no outcome; the next step asks again.
        log.info("STK query for request %s (step %s) failed: %s", request_id, step, exc)
        result = None
    with unit_of_work():
        _record_query(request_id, step, result)


def _record_query(request_id: int, step: int, result) -> None:
    request = _request(request_id, lock=True)
    if request.status != PaymentRequestStatus.PENDING or request.query_step != step:
        return  # the callback won the race
    request.query_step = step + 1
    if result is not None and not result.pending and result.result_code:
        settle(request, result.result_code, result.result_desc)
        if request.status == PaymentRequestStatus.SUCCEEDED:
            # No callback, so no receipt: find it before the payment can be credited.
            stk_receipts.look_for_receipt(request)
        return
    _schedule_query(request)


# --- beat ------------------------------------------------------------------------------------


def sweep_requests() -> dict[str, int]:
    """Beat (its task owns the transaction): expire requests still pending 24 hours after the push, and queue again the
    follow-ups whose countdown was lost. Returns how many of each."""
    now = utcnow()
    with all_merchants():  # one statement over every merchant; follow-ups run as theirs
        expired = db.session.execute(
            sa.update(PaymentRequest)
            .where(PaymentRequest.status == PaymentRequestStatus.PENDING,
                   PaymentRequest.created_at < now - EXPIRE_AFTER)
            .values(status=PaymentRequestStatus.EXPIRED, finished_at=now, next_check_at=None,
                    result_desc="No outcome from Safaricom within 24 hours of the push."),
            execution_options={"synchronize_session": False}).rowcount
        overdue = db.session.execute(
            sa.select(PaymentRequest.merchant_id, PaymentRequest.id, PaymentRequest.status,
                      PaymentRequest.query_step, PaymentRequest.receipt_step)
            .where(PaymentRequest.next_check_at < now - OVERDUE)
            .order_by(PaymentRequest.next_check_at).limit(SWEEP_LIMIT)).all()
    for row in overdue:
        if row.status == PaymentRequestStatus.PENDING:
            background.enqueue(TaskName.STK_QUERY, row.merchant_id, row.id, row.query_step)
        elif row.status == PaymentRequestStatus.SUCCEEDED:
            background.enqueue(TaskName.STK_FIND_RECEIPT, row.merchant_id, row.id,
                               row.receipt_step)
    return {"expired": expired, "requeued": len(overdue)}
