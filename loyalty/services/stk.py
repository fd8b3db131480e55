"""M-Pesa Express (STK push): ask a customer to pay; the result arrives as a callback.

A push is never retried blindly: if Safaricom does not answer, the prompt may already be
on the customer's phone, so the request is left `pending` and an STK query decides later.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.daraja.errors import DarajaError, DarajaUnavailable, InvalidRequest
from loyalty.daraja.payloads import stk_parties
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import PaymentRequest, PaymentRequestStatus
from loyalty.services.channel_setup import channel_access
from loyalty.services.channels import get_channel
from loyalty.unit_of_work import transactional, unit_of_work

QUERY_AFTER_SECONDS = 90
RETRYABLE = (DarajaUnavailable,)


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


def _request(request_id: int) -> PaymentRequest:
    request = db.session.scalar(sa.select(PaymentRequest).where(PaymentRequest.id == request_id))
    if request is None:
        raise NotFound("Payment request not found.")
    return request


def send_stk_push(request_id: int) -> None:
    """Worker: send the prompt once and record Safaricom's answer."""
    with unit_of_work():
        request = _request(request_id)
        if request.checkout_request_id or request.status != PaymentRequestStatus.PENDING:
            return  # already sent (a redelivered task must not prompt twice)
        channel = get_channel(request.channel_id)
        business, party_b, kind = stk_parties(channel.channel_type.value, channel.shortcode,
                                              channel.store_number)
        passkey = channel.passkey
        args = dict(business_shortcode=business, passkey=passkey, party_b=party_b,
                    transaction_type=kind, amount=int(request.amount), phone=request.phone,
                    account_reference=request.account_reference, description="Payment")
    access = channel_access(request.channel_id)
    try:
        # A per-request path finds the request even if Safaricom never told us its id.
        callback_url = f"{access.callback_urls['stk']}/{request_id}"
        result = access.client().stk_push(callback_url=callback_url, **args)
    except DarajaUnavailable as exc:
        _record(request_id, error=f"No answer from Safaricom ({exc}); checking the outcome later.",
                final=False)
        background.publish(TaskName.STK_QUERY, (request.merchant_id, request_id),
                           countdown=QUERY_AFTER_SECONDS)
        return
    except DarajaError as exc:
        _record(request_id, error=str(exc), final=True)
        return
    _record(request_id, checkout=result.checkout_request_id, merchant_request=result.merchant_request_id)
    background.publish(TaskName.STK_QUERY, (request.merchant_id, request_id),
                       countdown=QUERY_AFTER_SECONDS)


@transactional
def _record(request_id: int, *, checkout: str | None = None, merchant_request: str | None = None,
            error: str | None = None, final: bool = False) -> None:
    request = _request(request_id)
    if checkout:
        request.checkout_request_id, request.merchant_request_id = checkout, merchant_request
    if error:
        request.result_desc = error
        if final:
            request.status = PaymentRequestStatus.FAILED


def query_stk_push(request_id: int) -> None:
    """Worker: when no callback came, ask Safaricom how the push ended."""
    with unit_of_work():
        request = _request(request_id)
        if request.status != PaymentRequestStatus.PENDING or not request.checkout_request_id:
            return
        channel = get_channel(request.channel_id)
        business, _, _ = stk_parties(channel.channel_type.value, channel.shortcode,
                                     channel.store_number)
        passkey, checkout = channel.passkey, request.checkout_request_id
    result = channel_access(request.channel_id).client().stk_query(
        business_shortcode=business, passkey=passkey, checkout_request_id=checkout)
    if result.pending:
        return
    _record_query(request_id, result.result_code, result.result_desc)


@transactional
def _record_query(request_id: int, code: str | None, desc: str | None) -> None:
    request = _request(request_id)
    if request.status != PaymentRequestStatus.PENDING:
        return  # the callback won the race
    request.result_code, request.result_desc = code, desc
    # A success without its callback has no receipt to credit; the C2B confirmation or a
    # Transaction Status query brings it. Failures are final.
    if code not in (None, "0"):
        request.status = PaymentRequestStatus.FAILED
