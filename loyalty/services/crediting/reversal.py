"""Undoing what a payment earned when its money goes back: the claw-back.

The rule (how much comes back, the stamp, the notice's text) is rules.py's; this writes it
through the ORM, next to the earn it undoes: the payment's `reverse` ledger entry (unique per
payment, as its earn is), the balance, the payment's own lot, and the customer's notice when
the program sends one.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from loyalty.errors import Conflict
from loyalty.extensions import db
from loyalty.models import (
    Customer,
    EntryKind,
    Environment,
    LedgerEntry,
    LoyaltyProgram,
    MpesaChannel,
    Payment,
    PaymentStatus,
    SmsStatus,
)
from loyalty.services import ledger, sms_allowance
from loyalty.services.crediting import rules
from loyalty.services.crediting.single import queue_text
from loyalty.services.webhooks import events as webhook_events

ALREADY = "This payment's points were already taken back."


def take_back_preview(payment: Payment, amount: Decimal) -> rules.TakeBack:
    """What reversing `amount` of a credited payment would take back (nothing written)."""
    program = db.session.get(LoyaltyProgram, payment.program_id)
    return rules.take_back(amount=payment.amount, reversed_amount=amount, points=payment.points,
                           stamped=_stamped(payment), min_amount=program.min_amount)


def _stamped(payment: Payment) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(
        LedgerEntry.payment_id == payment.id, LedgerEntry.kind == EntryKind.STAMP)))


def claw_back(payment: Payment, amount: Decimal, description: str) -> tuple[rules.TakeBack, int | None]:
    """Take back what a credited payment (locked by the caller) earned, in proportion to the
    `amount` reversed, and mark it reversed: (what was taken back, the id of the notice to
    send, if the program texts one). Once per payment: the ledger's unique index on
    (payment, kind) refuses a second `reverse` entry even if the caller's lock were missing."""
    back = take_back_preview(payment, amount)
    balance = ledger.balance_row(payment.customer_id, payment.program_id)
    try:
        with db.session.begin_nested():
            db.session.add(LedgerEntry(**rules.reversal_entry(payment, back, description[:200])))
            db.session.flush()
    except IntegrityError:
        raise Conflict(ALREADY, code="already_reversed") from None
    rules.apply_take_back(balance, back)
    # Off this payment's own lot first, then the oldest: what is left unspent of what it
    # earned can no longer be redeemed or expire.
    earn = db.session.scalar(sa.select(LedgerEntry).where(
        LedgerEntry.payment_id == payment.id, LedgerEntry.kind == EntryKind.EARN))
    ledger.spend_oldest(payment.customer_id, payment.program_id, back.points, first=earn)
    payment.status = PaymentStatus.REVERSED
    payment.reversed_amount = amount
    db.session.flush()
    webhook_events.payment_reversed(payment, amount=amount, points=back.points,
                                    stamp=back.stamp)
    return back, _notice(payment, amount, back, balance)


def _notice(payment: Payment, amount: Decimal, back: rules.TakeBack, balance) -> int | None:
    """Queue the reversal notice when the program sends one; the id of a text to send."""
    program = db.session.get(LoyaltyProgram, payment.program_id)
    if not program.sms_on_reversal:
        return None
    customer = db.session.get(Customer, payment.customer_id)
    channel = db.session.get(MpesaChannel, payment.channel_id)
    sender = sms_allowance.allowances(db.session.connection(),
                                      [payment.merchant_id])[payment.merchant_id]
    body = rules.render_reversal_notice(
        program, first_name=customer.first_name or payment.first_name, payment=payment,
        reversed_amount=amount, back=back, balance=balance, merchant_name=sender.merchant_name,
        language=rules.text_language(customer, sender))
    row = rules.text_row(payment, customer, rules.REVERSAL_NOTICE, body, sender,
                         sandbox=channel.environment == Environment.SANDBOX)
    new_id = queue_text(row)
    return new_id if row["status"] == SmsStatus.QUEUED else None
