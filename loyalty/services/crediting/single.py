"""Crediting one payment through the ORM: replays, attributions, SQLite (`make run`), and
a batch that could not be written set-wise (batch.py falls back to this, one savepoint per
payment). The rules themselves are rules.py's."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.db.inserts import insert_ignore
from loyalty.errors import Conflict, NotFound
from loyalty.extensions import db
from loyalty.models import (
    Environment,
    Experiment,
    ExperimentAssignment,
    ExperimentStatus,
    LedgerEntry,
    LoyaltyProgram,
    MpesaChannel,
    Payment,
    PaymentStatus,
    SmsMessage,
    SmsStatus,
)
from loyalty.services import customers, ledger, sms_allowance
from loyalty.services.crediting import rules
from loyalty.services.crediting.rules import Route
from loyalty.services.experiments import assignment
from loyalty.services.webhooks import events as webhook_events
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import transactional

log = logging.getLogger(__name__)


def route_payment(channel: MpesaChannel, bill_ref: str | None) -> Route:
    """The program a payment to this channel earns in (current merchant)."""
    return rules.route(channel.account_mapping, bill_ref, _program_by_code, _default_program)


def _program_by_code(code: str) -> LoyaltyProgram | None:
    return db.session.scalar(sa.select(LoyaltyProgram).where(LoyaltyProgram.code == code))


def _default_program() -> LoyaltyProgram | None:
    return db.session.scalar(sa.select(LoyaltyProgram).where(LoyaltyProgram.is_default.is_(True)))


def credit_one_by_one(limit: int, sms: list[tuple[int, int]],
                      rows: list[tuple[int, int]] | None = None) -> int:
    """Credit up to `limit` waiting payments of any merchant (or these (id, merchant)
    `rows`), each in its own savepoint; appends the SMS to send to `sms`."""
    if rows is None:
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
            payment.error = rules.failure(exc)
            payment.attempts += 1
            db.session.flush()
            _settled(payment, {})
        return None


def credit_payment(payment_id: int, *, phone: str | None = None) -> int | None:
    """Credit one payment (current merchant) if it is still waiting; the id of the SMS to
    send, if any. `phone` attributes a masked payer's payment to an enrolled phone."""
    payment = db.session.get(Payment, payment_id, populate_existing=True)
    if payment is None or payment.status != PaymentStatus.RECEIVED:
        return None  # already handled: crediting is idempotent
    earned: dict[int, rules.Earned] = {}
    message_id = _credit(payment, phone, earned)
    _settled(payment, earned)
    return message_id


def _settled(payment: Payment, earned: dict[int, rules.Earned]) -> None:
    """The merchant's webhooks about the payment's outcome, in this transaction."""
    webhook_events.payments_settled(db.session.connection(),
                                    [(payment.merchant_id, payment.id)], earned)


def _credit(payment: Payment, phone: str | None, out: dict[int, rules.Earned]) -> int | None:
    channel = db.session.get(MpesaChannel, payment.channel_id)
    program, points = rules.settle(payment, channel, route_payment,
                                   assignment.hook(_running(), lambda p: rules.payer(p, phone)))
    if program is None:
        db.session.flush()
        return None
    payer = rules.payer(payment, phone)
    if payer is None:
        return _unattributed(payment)
    customer = customers.customer_by_hash(payer[0], phone=payer[1], **rules.names(payment))
    balance = ledger.balance_row(customer.id, program.id)
    entries, earned = rules.earn(payment, customer.id, program, points, balance)
    out[payment.id] = earned
    db.session.add_all([LedgerEntry(**entry) for entry in entries])
    db.session.flush()  # the unique (payment, kind) index speaks here if this is a repeat
    assigned = assignment.assignment_row(program, payment, customer.id)
    if assigned:  # the first eligible payment of this payer fixes the variant
        insert_ignore(ExperimentAssignment, assigned, ["experiment_id", "unit_key"])
    rules.credited(payment, customer.id, points)
    sender = sms_allowance.allowances(db.session.connection(), [payment.merchant_id])
    row = rules.receipt(payment, customer, program, earned, sender[payment.merchant_id],
                        sandbox=channel.environment == Environment.SANDBOX)
    new_id = queue_text(row)
    db.session.flush()
    return new_id if row["status"] == SmsStatus.QUEUED else None


def _running() -> dict[int, Experiment]:
    """The current merchant's running experiments by program (one each at most)."""
    return {e.program_id: e for e in db.session.scalars(
        sa.select(Experiment).where(Experiment.status == ExperimentStatus.RUNNING))}


def _unattributed(payment: Payment) -> None:
    rules.mark(payment, PaymentStatus.UNATTRIBUTED, rules.UNATTRIBUTED)
    db.session.flush()
    queue_text(rules.masked_receipt(payment))
    return None


def queue_text(row: dict) -> int | None:
    """Write an outbox row unless the payment has its text of that purpose already (a
    receipt, a reversal notice); the new id."""
    return insert_ignore(SmsMessage, row, ["payment_id", "purpose"],
                         where=SmsMessage.payment_id.is_not(None))


# --- merchant actions --------------------------------------------------------------------


def _payment(payment_id: int) -> Payment:
    payment = db.session.scalar(sa.select(Payment).where(Payment.id == payment_id))
    if payment is None:
        raise NotFound("Transaction not found.")
    return payment


def credit_and_text(payment: Payment, *, phone: str | None = None) -> Payment:
    """Credit a waiting payment now, in the caller's unit of work, and queue its receipt
    SMS to go out after the commit (a merchant's action, answered with the outcome)."""
    message_id = credit_payment(payment.id, phone=phone)
    if message_id:
        background.enqueue(TaskName.SEND_SMS_BATCH, [(payment.merchant_id, message_id)])
    return payment


@transactional
def replay_payment(payment_id: int) -> Payment:
    """Run crediting again: a no-op for a credited payment, a retry for a failed or skipped
    one (e.g. after activating its channel)."""
    payment = _payment(payment_id)
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.SKIPPED):
        payment.status, payment.error = PaymentStatus.RECEIVED, None
        db.session.flush()
        credit_and_text(payment)
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
    return credit_and_text(payment, phone=phone)
