"""Crediting stored payments: routing, customers, the ledger and the SMS outbox.

Workers drain waiting payments in batches: `SELECT … FOR UPDATE SKIP LOCKED` lets several
worker processes share a backlog without waiting on each other, each payment runs in its
own savepoint so one bad payment never fails its neighbours, and the batch commits once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.daraja.msisdn import MsisdnForm, hash_msisdn
from loyalty.errors import Conflict, NotFound
from loyalty.extensions import db
from loyalty.models import (
    LoyaltyProgram,
    MpesaChannel,
    Payment,
    PaymentStatus,
    SmsMessage,
    SmsStatus,
)
from loyalty.models.base import utcnow
from loyalty.services import customers, ledger, notifications
from loyalty.services.account_mapping import resolve
from loyalty.services.points import points_for
from loyalty.services.sql import insert_ignore
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import transactional, unit_of_work

log = logging.getLogger(__name__)

BATCH_SIZE = 200


@dataclass(frozen=True)
class Route:
    program: LoyaltyProgram | None
    pattern: str | None


def route_payment(channel: MpesaChannel, bill_ref: str | None) -> Route:
    """The program a payment earns in: account mapping, then the merchant's default."""
    code, pattern = resolve(channel.account_mapping or {}, bill_ref)
    program = None
    if code is not None:
        program = db.session.scalar(sa.select(LoyaltyProgram).where(LoyaltyProgram.code == code))
    if program is None:  # no match, or the mapped program was deleted meanwhile
        program, pattern = db.session.scalar(sa.select(LoyaltyProgram).where(
            LoyaltyProgram.is_default.is_(True))), None
    return Route(program=program, pattern=pattern)


def credit_waiting(limit: int = BATCH_SIZE) -> int:
    """Worker: credit up to `limit` waiting payments of any merchant; how many were taken."""
    sms: list[tuple[int, int]] = []
    with unit_of_work():
        with all_merchants():  # lists ids only; each payment is credited as its merchant
            rows = db.session.execute(
                sa.select(Payment.id, Payment.merchant_id)
                .where(Payment.status == PaymentStatus.RECEIVED)
                .order_by(Payment.id).limit(limit).with_for_update(skip_locked=True)).all()
        for payment_id, merchant_id in rows:
            with tenant_context(merchant_id):
                message_id = _credit_in_savepoint(payment_id)
                if message_id:
                    sms.append((merchant_id, message_id))
        if sms:
            background.enqueue(TaskName.SEND_SMS_BATCH, sms)
    return len(rows)


def _credit_in_savepoint(payment_id: int) -> int | None:
    try:
        with db.session.begin_nested():
            return credit_payment(payment_id)
    except Exception as exc:  # one bad payment must not fail the batch; it is recorded
        log.exception("crediting payment %s failed", payment_id)
        with db.session.begin_nested():
            payment = db.session.get(Payment, payment_id)
            payment.status = PaymentStatus.FAILED
            payment.error = f"{type(exc).__name__}: crediting failed; replay it once fixed."
            payment.attempts += 1
        return None


def credit_payment(payment_id: int, *, phone: str | None = None) -> int | None:
    """Credit one payment (current merchant) if it is still waiting; the id of the SMS to
    send, if any. `phone` attributes a masked payer's payment to an enrolled phone."""
    payment = db.session.get(Payment, payment_id, populate_existing=True)
    if payment is None or payment.status != PaymentStatus.RECEIVED:
        return None  # already handled: crediting is idempotent
    payment.attempts += 1
    channel = db.session.get(MpesaChannel, payment.channel_id)
    if not channel.is_active:
        return _finish(payment, PaymentStatus.SKIPPED, f"Channel '{channel.name}' is not active.")
    route = route_payment(channel, payment.bill_ref)
    payment.program_id = route.program.id
    payment.matched_pattern = route.pattern
    program = route.program
    points = points_for(payment.amount, points_per_unit=program.points_per_unit,
                        unit_amount=program.unit_amount, multiplier=program.multiplier,
                        min_amount=program.min_amount)
    if payment.amount < program.min_amount:
        return _finish(payment, PaymentStatus.SKIPPED,
                       f"Below the program's minimum of KES {program.min_amount:,}.")
    customer = _customer_for(payment, phone)
    if customer is None:
        return _unattributed(payment)
    payment.customer_id = customer.id
    earned = ledger.credit(payment, customer.id, program, points)
    payment.points = points
    _finish(payment, PaymentStatus.CREDITED, None)
    return notifications.queue_receipt(payment, customer, program, earned)


def _customer_for(payment: Payment, phone: str | None):
    names = {"first_name": payment.first_name, "middle_name": payment.middle_name,
             "last_name": payment.last_name}
    if phone:
        return customers.customer_by_hash(hash_msisdn(phone), phone=phone, **names)
    if payment.msisdn_form == MsisdnForm.HASHED:
        return customers.customer_by_hash(payment.msisdn.lower(), **names)
    if payment.msisdn_form == MsisdnForm.PLAIN:
        return customers.customer_by_hash(hash_msisdn(payment.msisdn), phone=payment.msisdn, **names)
    return None


def _unattributed(payment: Payment) -> None:
    _finish(payment, PaymentStatus.UNATTRIBUTED,
            "The payer's number was masked; attach the payment to a phone to credit it.")
    insert_ignore(SmsMessage, {
        "payment_id": payment.id, "purpose": notifications.PAYMENT_RECEIPT, "recipient": None,
        "recipient_form": "masked", "body": "", "encoding": "GSM-7", "segments": 0,
        "status": SmsStatus.SKIPPED, "attempts": 0, "error": "Masked payer: no number to text.",
        "created_at": utcnow(), "updated_at": utcnow()},
        ["payment_id", "purpose"], where=SmsMessage.payment_id.is_not(None))
    return None


def _finish(payment: Payment, status: PaymentStatus, error: str | None) -> None:
    payment.status = status
    payment.error = error
    if status == PaymentStatus.CREDITED:
        payment.credited_at = utcnow()
    db.session.flush()
    return None


# --- merchant actions --------------------------------------------------------------------


def _payment(payment_id: int) -> Payment:
    payment = db.session.scalar(sa.select(Payment).where(Payment.id == payment_id))
    if payment is None:
        raise NotFound("Transaction not found.")
    return payment


@transactional
def replay_payment(payment_id: int) -> Payment:
    """Run crediting again: a no-op for a credited payment, a retry for a failed or skipped
    one (e.g. after activating its channel)."""
    payment = _payment(payment_id)
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.SKIPPED):
        payment.status, payment.error = PaymentStatus.RECEIVED, None
        db.session.flush()
        message_id = credit_payment(payment.id)
        if message_id:
            background.enqueue(TaskName.SEND_SMS_BATCH, [(payment.merchant_id, message_id)])
    return payment


@transactional
def attribute_payment(payment_id: int, phone: str) -> Payment:
    """Attach a masked payer's payment to a phone (normalised) and credit it."""
    payment = _payment(payment_id)
    if payment.status != PaymentStatus.UNATTRIBUTED:
        raise Conflict("Only unattributed payments can be attached to a phone.",
                       code="not_unattributed")
    payment.status = PaymentStatus.RECEIVED
    db.session.execute(sa.delete(SmsMessage).where(
        SmsMessage.payment_id == payment.id, SmsMessage.status == SmsStatus.SKIPPED))
    db.session.flush()
    message_id = credit_payment(payment.id, phone=phone)
    if message_id:
        background.enqueue(TaskName.SEND_SMS_BATCH, [(payment.merchant_id, message_id)])
    return payment
