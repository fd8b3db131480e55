"""The receipt of an STK push, and the payment it is credited through, once.

The STK callback carries the receipt. A success known only from an STK query does not
(DARAJA.md 17): the receipt then comes from the matching C2B or Pull payment (Safaricom
also confirms an STK payment to the shortcode's C2B URL) or from a Transaction Status
query. Either way the payment goes through the one receipt namespace, ON CONFLICT on
(merchant, trans_id): however many of the callback, the C2B confirmation, a Pull row and a
status result bring the same receipt, it is one payment, credited once.

Matching a C2B/Pull payment is conservative: same channel (so the shortcode the callback
was checked against), same amount, the same phone (plain, or the SHA-256 Safaricom sends),
paid from 2 minutes before the push to 30 minutes after it, not the receipt of another
request, and the only such payment. Two candidates are left alone: a wrong guess would
show a customer's other payment as this request's.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from loyalty import background, nudge
from loyalty.background import TaskName
from loyalty.daraja.callbacks import AsyncResult, CallbackParseError, parse_transaction_status
from loyalty.daraja.errors import DarajaError
from loyalty.daraja.security import security_credential
from loyalty.db.inserts import insert_ignore
from loyalty.errors import NotFound
from loyalty.extensions import db
from loyalty.models import (
    AsyncKind,
    AsyncRequest,
    Payment,
    PaymentRequest,
    PaymentRequestStatus,
    PaymentSource,
)
from loyalty.models.base import utcnow
from loyalty.phones import hash_msisdn
from loyalty.services import async_requests
from loyalty.services.channel_setup import ChannelAccess, channel_access
from loyalty.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

# Seconds after the success became known: look for the C2B/Pull payment each time.
LOOK_AFTER = (0, 120, 600, 3600, 21600)
MATCH_BEFORE = timedelta(minutes=2)  # clocks differ; TransTime is Safaricom's
MATCH_AFTER = timedelta(minutes=30)  # a prompt lives about a minute; a slow worker pushes late
STATUS_QUERIES = 2  # Transaction Status asked at most this often per request


def credit_receipt(request: PaymentRequest, receipt: str, *, amount: Decimal | None,
                   when: datetime | None, payload: dict[str, Any]) -> int | None:
    """Link the request to the payment of its receipt, inserting that payment unless it is
    held already (from a C2B confirmation, a Pull row, an earlier callback). The new
    payment's id, or None when it was held. Runs as the request's merchant."""
    new_id = insert_ignore(Payment, {
        "channel_id": request.channel_id, "trans_id": receipt, "source": PaymentSource.STK,
        "trans_type": "STK Push", "trans_time": when or request.created_at,
        "amount": amount if amount is not None else request.amount,
        "bill_ref": request.account_reference, "msisdn": request.phone, "msisdn_form": "plain",
        "payload": payload,
    }, ["merchant_id", "trans_id"])
    payment_id = new_id or db.session.scalar(
        sa.select(Payment.id).where(Payment.trans_id == receipt))
    request.receipt, request.payment_id, request.next_check_at = receipt, payment_id, None
    if new_id is not None:
        nudge.nudge_crediting()
    return new_id


def look_for_receipt(request: PaymentRequest) -> None:
    """A success without its receipt: link the matching payment now, or start looking
    (the caller's unit of work commits it)."""
    if not _link_matching_payment(request):
        request.receipt_step = 0
        _schedule(request)


def _link_matching_payment(request: PaymentRequest) -> bool:
    payment = _matching_payment(request)
    if payment is None:
        return False
    request.receipt, request.payment_id, request.next_check_at = (payment.trans_id, payment.id,
                                                                  None)
    return True


def _matching_payment(request: PaymentRequest) -> Payment | None:
    claimed = sa.select(PaymentRequest.id).where(PaymentRequest.payment_id == Payment.id)
    candidates = db.session.scalars(sa.select(Payment).where(
        Payment.channel_id == request.channel_id,
        Payment.amount == request.amount,
        sa.or_(Payment.msisdn == request.phone,
               sa.func.lower(Payment.msisdn) == hash_msisdn(request.phone)),
        Payment.trans_time >= request.created_at - MATCH_BEFORE,
        Payment.trans_time <= request.created_at + MATCH_AFTER,
        ~sa.exists(claimed)).limit(2)).all()
    return candidates[0] if len(candidates) == 1 else None


def _schedule(request: PaymentRequest) -> None:
    step = request.receipt_step
    if step >= len(LOOK_AFTER):
        # Still unknown: the merchant sees a success without a receipt; a Pull
        # reconciliation run brings the payment itself, credited like any other.
        request.next_check_at = None
        return
    start = request.finished_at or utcnow()
    request.next_check_at = start + timedelta(seconds=LOOK_AFTER[step])
    background.enqueue(TaskName.STK_FIND_RECEIPT, request.merchant_id, request.id, step,
                       countdown=max(0.0, (request.next_check_at - utcnow()).total_seconds()))


def _looking(request: PaymentRequest, step: int) -> bool:
    return (request.status == PaymentRequestStatus.SUCCEEDED and request.receipt is None
            and request.receipt_step == step)


def find_receipt(request_id: int, step: int) -> None:
    """Worker: look for the receipt of a success known only from a query (follow-up
    `step`): the matching payment, else ask Transaction Status when the channel has an
    initiator (no transaction open while Safaricom answers)."""
    with unit_of_work():
        request = _request(request_id)
        if not _looking(request, step) or _link_matching_payment(request):
            return
        access = _status_access(request)
        checkout = request.checkout_request_id
    accepted = _ask_status(access, checkout) if access is not None else None
    with unit_of_work():
        request = _request(request_id)
        if accepted is not None:
            async_requests.record(AsyncKind.STATUS, request.channel_id, accepted,
                                  payment_request_id=request.id)
        if _looking(request, step):
            request.receipt_step = step + 1
            _schedule(request)


def _request(request_id: int) -> PaymentRequest:
    request = db.session.scalar(sa.select(PaymentRequest).where(PaymentRequest.id == request_id)
                                .with_for_update())
    if request is None:
        raise NotFound("Payment request not found.")
    return request


def _status_access(request: PaymentRequest) -> ChannelAccess | None:
    """The channel's access when Transaction Status can and should be asked again."""
    access = channel_access(request.channel_id)
    if not (access.initiator_name and access.initiator_password and request.checkout_request_id):
        return None
    asked, waiting = async_requests.count(AsyncKind.STATUS, payment_request_id=request.id)
    return access if asked < STATUS_QUERIES and not waiting else None


def _ask_status(access: ChannelAccess, checkout_request_id: str):
    """Ask Transaction Status by the push's CheckoutRequestID (the receipt is what we lack;
    DARAJA.md 8 and 17); the acknowledgement, or None when Safaricom refused or is away."""
    try:
        return access.client().transaction_status(
            initiator=access.initiator_name,
            security_credential=security_credential(access.initiator_password,
                                                    access.environment),
            original_conversation_id=checkout_request_id, party_a=access.c2b_shortcode,
            result_url=access.callback_urls["status_result"],
            timeout_url=access.callback_urls["status_timeout"], remarks="STK receipt")
    except DarajaError as exc:
        log.info("Transaction Status for %s not asked: %s", checkout_request_id, exc)
        return None


def on_status_result(asked: AsyncRequest, result: AsyncResult,
                     payload: dict[str, Any]) -> str | None:
    """A Transaction Status result: the receipt of the STK push it was asked about is
    credited once. Returns why nothing was credited, for the callback log."""
    if asked.payment_request_id is None:
        return None  # asked about something else: the result is recorded on `asked`
    request = _request(asked.payment_request_id)
    if not result.succeeded:
        return f"Safaricom could not tell the status: {result.result_desc} ({result.result_code})."
    try:
        status = parse_transaction_status(result)
    except CallbackParseError as exc:
        return f"The status result could not be read: {exc}"
    if request.status != PaymentRequestStatus.SUCCEEDED or request.receipt is not None:
        return (f"The payment request is {request.status.value}"
                f"{' with receipt ' + request.receipt if request.receipt else ''}; "
                "this result changed nothing.")
    if not status.receipt or not status.completed:
        return f"The transaction is {status.status or 'without a receipt'}; nothing credited."
    if status.amount is not None and status.amount != request.amount:
        return (f"The receipt {status.receipt} is for KES {status.amount}, the request for KES "
                f"{request.amount}; not credited.")
    credit_receipt(request, status.receipt, amount=request.amount,
                   when=status.finalised_at or request.finished_at, payload=payload)
    return None
