"""Texting customers: the SMS outbox and sending from it.

The outbox row is written in the crediting transaction, unique per (payment, purpose), so
a duplicate callback or a replay never queues a second text. Sending happens later, in a
worker, outside any database transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from loyalty.extensions import db
from loyalty.models import Customer, LoyaltyProgram, Merchant, Payment, SmsMessage, SmsStatus
from loyalty.models.base import utcnow
from loyalty.services.ledger import Earned
from loyalty.services.sql import insert_ignore
from loyalty.sms import backend_from_config
from loyalty.sms.base import SmsUnavailable, mask_msisdn
from loyalty.sms.segments import encoding, segment_count
from loyalty.sms.templates import (
    DEFAULT_POINTS_TEMPLATE,
    DEFAULT_STAMPS_TEMPLATE,
    FIRST_NAME_FALLBACK,
    render,
)
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import transactional, unit_of_work

log = logging.getLogger(__name__)

PAYMENT_RECEIPT = "payment_receipt"
RETRYABLE = (SmsUnavailable,)


def template_for(program: LoyaltyProgram) -> str:
    if program.sms_template:
        return program.sms_template
    return DEFAULT_STAMPS_TEMPLATE if program.stamps_required else DEFAULT_POINTS_TEMPLATE


def render_receipt(program: LoyaltyProgram, *, first_name: str | None, earned: Earned,
                   merchant_name: str) -> str:
    """The "You earned…" text for a payment."""
    return render(template_for(program), {
        "first_name": first_name or FIRST_NAME_FALLBACK, "points": earned.points,
        "balance": earned.balance, "program_name": program.name,
        "stamps_left": earned.stamps_left, "reward": program.stamp_reward,
        "merchant": merchant_name})


def queue_receipt(payment: Payment, customer: Customer, program: LoyaltyProgram,
                  earned: Earned) -> int | None:
    """Write the receipt SMS to the outbox; the new id when it must be sent, else None.

    Enrolled (or plainly identified) customers are texted at their phone; payers known only
    by hash through the hashed-number send (transactional only); opted-out customers get
    nothing, recorded as skipped with the reason."""
    merchant = db.session.get(Merchant, payment.merchant_id)
    body = render_receipt(program, first_name=customer.first_name or payment.first_name,
                          earned=earned, merchant_name=merchant.business_name)
    if customer.phone:
        recipient, form = customer.phone, "plain"
    else:
        recipient, form = customer.phone_hash, "hashed"
    status, error = SmsStatus.QUEUED, None
    if customer.sms_opt_out:
        status, error = SmsStatus.SKIPPED, "The customer opted out of SMS."
    new_id = insert_ignore(SmsMessage, {
        "customer_id": customer.id, "payment_id": payment.id, "purpose": PAYMENT_RECEIPT,
        "recipient": recipient, "recipient_form": form, "body": body, "encoding": encoding(body),
        "segments": segment_count(body), "status": status, "attempts": 0, "error": error,
        "created_at": utcnow(), "updated_at": utcnow()},
        ["payment_id", "purpose"], where=SmsMessage.payment_id.is_not(None))
    return new_id if status == SmsStatus.QUEUED else None


@dataclass(frozen=True)
class Outgoing:
    id: int
    recipient: str
    form: str
    body: str
    attempts: int


def _backend():
    backend = current_app.extensions.get("sms_backend")
    if backend is None:
        backend = current_app.extensions["sms_backend"] = backend_from_config(current_app.config)
    return backend


def send_message(message_id: int, *, final_attempt: bool = True) -> None:
    """Worker: send one queued message (idempotent: anything not queued is left alone).
    Raises a RETRYABLE error while the gateway is down, unless this is the last try."""
    with unit_of_work():
        message = db.session.scalar(sa.select(SmsMessage).where(SmsMessage.id == message_id))
        if message is None or message.status != SmsStatus.QUEUED:
            return
        outgoing = Outgoing(message.id, message.recipient, message.recipient_form, message.body,
                            message.attempts)
    backend = _backend()
    try:
        if outgoing.form == "hashed":
            result = backend.send_hashed(outgoing.recipient, outgoing.body)
        else:
            result = backend.send(outgoing.recipient, outgoing.body)
    except SmsUnavailable as exc:
        _record(message_id, sent=False, error=f"SMS gateway unavailable: {exc}",
                final=final_attempt)
        if not final_attempt:
            raise
        return
    if result.status == "sent":
        _record(message_id, sent=True, provider_id=result.provider_message_id)
    else:
        _record(message_id, sent=False, error=result.error, final=final_attempt or not result.retryable)
        if result.retryable and not final_attempt:
            raise SmsUnavailable(result.error or "retryable failure")
    log.info("SMS %s to %s: %s", message_id, mask_msisdn(outgoing.recipient), result.status)


@transactional
def _record(message_id: int, *, sent: bool, provider_id: str | None = None,
            error: str | None = None, final: bool = True) -> None:
    message = db.session.scalar(sa.select(SmsMessage).where(SmsMessage.id == message_id))
    message.attempts += 1
    if sent:
        message.status, message.provider_message_id, message.sent_at = SmsStatus.SENT, provider_id, utcnow()
        message.error = None
    else:
        message.error = error
        if final:
            message.status = SmsStatus.FAILED


def send_batch(messages: list[tuple[int, int]], *, final_attempt: bool = True) -> list[tuple[int, int]]:
    """Worker: send (merchant_id, message_id) pairs; returns the ones to retry later."""
    retry = []
    for merchant_id, message_id in messages:
        with tenant_context(merchant_id):
            try:
                send_message(message_id, final_attempt=final_attempt)
            except RETRYABLE:
                retry.append((merchant_id, message_id))
    return retry
