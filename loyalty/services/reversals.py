"""Reversing payments: through Safaricom's Reversal API, or recorded after the fact.

A customer's money can go back two ways, and the points it earned come back with it:

- `request_reversal`: the merchant asks us to reverse; a worker calls the Reversal API
  (send_reversal) and the points are taken back only when Safaricom's result says ResultCode
  0 (record_result, from the callback), never on the acknowledgement (DARAJA.md 16);
- `mark_reversed`: the money went back elsewhere (customer care, the M-PESA org portal),
  which Safaricom never tells us about; the points are taken back at once.

A payment is reversed at most once: its row is locked for the decision, at most one reversal
that has not failed exists per payment (a unique index), and the ledger refuses a second
`reverse` entry. Every request carries an idempotency key: the same key replays the first
answer, the same key with another body is refused.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.daraja.callbacks import parse_reversal_result
from loyalty.daraja.errors import DarajaError, DarajaUnavailable
from loyalty.daraja.security import security_credential
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import (
    Balance,
    Customer,
    LoyaltyProgram,
    MpesaChannel,
    Payment,
    PaymentStatus,
    Reversal,
    ReversalMethod,
    ReversalState,
)
from loyalty.models.base import utcnow
from loyalty.models.reversals import SUPERSEDED
from loyalty.services import ingest, ledger
from loyalty.services.channel_setup import channel_access
from loyalty.services.crediting import reversal as clawback
from loyalty.services.ingest import ChannelRoute
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import transactional, unit_of_work

# Tasks retry these with backoff; anything else is final.
RETRYABLE = (DarajaUnavailable,)
# A key names one request: the same key with any of these changed is another request.
SAME_REQUEST = ("payment_id", "method", "amount", "reason")


# --- the merchant's requests -------------------------------------------------------------


@transactional
def request_reversal(payment_id: int, *, reason: str, idempotency_key: str,
                     amount: Decimal | None = None) -> tuple[Payment, bool]:
    """Ask Safaricom to send (part of) a payment back; a worker sends the request. Returns
    (the payment with its reversal, whether this request created it)."""
    payment, reversal, created = _start(payment_id, ReversalMethod.MPESA, reason=reason,
                                        idempotency_key=idempotency_key, amount=amount)
    if created:
        background.enqueue(TaskName.REVERSE_PAYMENT, payment.merchant_id, reversal.id)
    return payment, created


@transactional
def mark_reversed(payment_id: int, *, reason: str, idempotency_key: str,
                  amount: Decimal | None = None) -> tuple[Payment, bool]:
    """Record a reversal done elsewhere and take the points back now. Returns (the payment
    with its reversal, whether this request recorded it)."""
    payment, reversal, created = _start(payment_id, ReversalMethod.MANUAL, reason=reason,
                                        idempotency_key=idempotency_key, amount=amount)
    if created:
        _complete(payment, reversal, reversal.amount)
    return payment, created


def _start(payment_id: int, method: ReversalMethod, *, reason: str, idempotency_key: str,
           amount: Decimal | None) -> tuple[Payment, Reversal, bool]:
    """Lock the payment, replay a known key, check the request, record the reversal."""
    payment = _locked_payment(payment_id)
    values = {"payment_id": payment.id, "method": method, "reason": reason,
              "amount": payment.amount if amount is None else amount,
              "idempotency_key": idempotency_key}
    # After the lock: a request racing with this one on the same payment has committed (or
    # rolled back) by now, and this read sees what it did.
    earlier = ledger.replayed(Reversal, values, SAME_REQUEST, "reversal")
    if earlier is not None:
        return payment, earlier, False
    _reversible(payment, values["amount"])
    pending = db.session.scalar(sa.select(Reversal).where(
        Reversal.payment_id == payment.id, Reversal.state == ReversalState.REQUESTED))
    if method == ReversalMethod.MPESA:
        if pending is not None:
            raise Conflict("A reversal of this payment is waiting for M-Pesa's result.",
                           code="reversal_pending")
        _check_mpesa(payment, values["amount"])
    elif pending is not None:
        # Marked reversed while M-Pesa's answer is still out (it may never come): the
        # merchant's record stands, and a late result for the request changes nothing.
        pending.state, pending.result_desc = ReversalState.FAILED, SUPERSEDED
        pending.completed_at = utcnow()
        db.session.flush()
    now = utcnow()
    reversal, created = ledger.claim_key(Reversal, {
        **values, "state": ReversalState.REQUESTED, "points": 0, "stamps": 0,
        "created_at": now, "updated_at": now}, SAME_REQUEST, "reversal")
    db.session.expire(payment, ["reversals"])
    return payment, reversal, created


def _locked_payment(payment_id: int) -> Payment:
    payment = db.session.scalar(sa.select(Payment).where(Payment.id == payment_id)
                                .with_for_update().execution_options(populate_existing=True))
    if payment is None:
        raise NotFound("Transaction not found.")
    return payment


def _reversible(payment: Payment, amount: Decimal) -> None:
    """Why reversing `amount` of this payment makes no sense, as a 422 or a 409."""
    if amount <= 0 or amount > payment.amount:
        raise ValidationFailed("The amount to reverse is out of range.", fields={"amount": [
            f"Give more than 0 and at most the payment's KES {payment.amount:,}."]})
    if payment.status == PaymentStatus.REVERSED:
        raise Conflict(f"Payment {payment.trans_id} was already reversed "
                       f"(KES {payment.reversed_amount:,}).", code="already_reversed")
    if payment.status != PaymentStatus.CREDITED:
        raise Conflict(f"Payment {payment.trans_id} is {payment.status.value}, not credited: "
                       "it earned nothing to take back.", code="not_credited")


def _check_mpesa(payment: Payment, amount: Decimal) -> None:
    if amount != amount.to_integral_value():
        raise ValidationFailed("M-Pesa reverses whole shillings.", fields={"amount": [
            "Use a whole number of KES."]})
    channel = db.session.get(MpesaChannel, payment.channel_id)
    if not channel.has_credentials:
        raise Conflict("Add the channel's consumer key and consumer secret first.",
                       code="credentials_missing")
    if not channel.has_initiator:
        raise Conflict(f"Channel '{channel.name}' has no initiator (API operator name and "
                       "password) to ask M-Pesa for a reversal. Add one, or reverse on the "
                       "M-PESA portal and mark the payment as reversed here.",
                       code="initiator_missing")


def _complete(payment: Payment, reversal: Reversal, amount: Decimal) -> None:
    """The money went back: take the points back and close the reversal as done."""
    description = f"Reversed KES {amount:,} of payment {payment.trans_id}: {reversal.reason}"
    back, message_id = clawback.claw_back(payment, amount, description)
    reversal.state, reversal.amount = ReversalState.DONE, amount
    reversal.points, reversal.stamps = back.points, int(back.stamp)
    reversal.completed_at = utcnow()
    db.session.flush()
    if message_id:
        background.enqueue(TaskName.SEND_SMS_BATCH, [(payment.merchant_id, message_id)])


# --- what a reversal would take back (the page shows it before the merchant confirms) -----


def preview(payment_id: int, amount: Decimal | None = None) -> dict[str, Any]:
    """What reversing `amount` (all of it by default) would take back, and the balance
    after; `problem` says why it cannot be reversed, if it cannot."""
    payment = db.session.scalar(sa.select(Payment).where(Payment.id == payment_id))
    if payment is None:
        raise NotFound("Transaction not found.")
    amount = payment.amount if amount is None else amount
    found: dict[str, Any] = {"payment": payment, "amount": amount, "problem": None}
    try:
        _reversible(payment, amount)
    except (Conflict, ValidationFailed) as exc:
        problem = next(iter(exc.fields.values()))[0] if exc.fields else exc.message
        return {**found, "problem": problem}
    back = clawback.take_back_preview(payment, amount)
    balance = db.session.scalar(sa.select(Balance.points).where(
        Balance.customer_id == payment.customer_id,
        Balance.program_id == payment.program_id)) or 0
    channel = db.session.get(MpesaChannel, payment.channel_id)
    return {**found, "full": amount == payment.amount, "points": back.points,
            "stamp": back.stamp, "program": db.session.get(LoyaltyProgram, payment.program_id),
            "customer": db.session.get(Customer, payment.customer_id), "balance": balance,
            "balance_after": balance - back.points,
            "mpesa_ready": channel.has_credentials and channel.has_initiator}


# --- the worker: one request to Safaricom ------------------------------------------------


def send_reversal(reversal_id: int, *, final_attempt: bool = True) -> None:
    """Worker: send the Reversal API request once and record Safaricom's acknowledgement.
    Raises a RETRYABLE error while Safaricom is unreachable, unless this is the last try."""
    with unit_of_work():
        reversal = _reversal(reversal_id)
        if reversal.state != ReversalState.REQUESTED or reversal.conversation_id:
            return  # answered already, or a redelivered task: never ask twice
        payment = db.session.get(Payment, reversal.payment_id)
        args = dict(transaction_id=payment.trans_id, amount=int(reversal.amount),
                    receiver_party=_receiver(payment), remarks=reversal.reason,
                    occasion=f"Reversal {reversal.id}")
        channel_id = payment.channel_id
    access = channel_access(channel_id)
    if not (access.initiator_name and access.initiator_password):
        return _record_refusal(reversal_id, "initiator_missing",
                               "The channel's initiator was removed before the request was sent.")
    urls = access.callback_urls
    try:
        accepted = access.client().reversal(
            initiator=access.initiator_name,
            security_credential=security_credential(access.initiator_password, access.environment),
            # The reversal's own id in the URL finds it even before we learn its ids.
            result_url=f"{urls['reversal_result']}/{reversal_id}",
            timeout_url=f"{urls['reversal_timeout']}/{reversal_id}", **args)
    except DarajaUnavailable as exc:
        if not final_attempt:
            raise
        return _record_refusal(reversal_id, exc.code, (
            f"Safaricom could not be reached ({exc}). If the money did not go back, reverse "
            "again; if it did, mark the payment as reversed."))
    except DarajaError as exc:
        return _record_refusal(reversal_id, exc.code, str(exc))
    _record_accepted(reversal_id, accepted.originator_conversation_id, accepted.conversation_id)


def _receiver(payment: Payment) -> str:
    """The number that received the money: what the confirmation said, else the channel's."""
    payload = payment.payload if isinstance(payment.payload, dict) else {}
    number = str(payload.get("BusinessShortCode") or "").strip()
    return number or db.session.get(MpesaChannel, payment.channel_id).shortcode


def _reversal(reversal_id: int) -> Reversal:
    reversal = db.session.scalar(sa.select(Reversal).where(Reversal.id == reversal_id)
                                 .with_for_update().execution_options(populate_existing=True))
    if reversal is None:
        raise NotFound("Reversal not found.")
    return reversal


@transactional
def _record_refusal(reversal_id: int, code: str | None, message: str) -> None:
    reversal = _reversal(reversal_id)
    if reversal.state == ReversalState.REQUESTED:
        reversal.state, reversal.result_code = ReversalState.FAILED, code
        reversal.result_desc, reversal.completed_at = message, utcnow()


@transactional
def _record_accepted(reversal_id: int, originator: str | None, conversation: str | None) -> None:
    reversal = _reversal(reversal_id)
    # Safaricom's result may have come back already (it names this reversal in its URL).
    reversal.originator_conversation_id = reversal.originator_conversation_id or originator
    reversal.conversation_id = reversal.conversation_id or conversation


# --- Safaricom's result (the callback) ---------------------------------------------------


@transactional
def record_result(route: ChannelRoute, raw: bytes, reversal_id: int | None = None) -> str | None:
    """Apply a Reversal result posted to the channel's ResultURL: ResultCode 0 takes the
    points back, anything else fails the reversal with Safaricom's reason. Matched by the
    reversal named in the URL, else by ConversationID / OriginatorConversationID. Returns
    why the result was not applied (the body is kept in the callback log either way)."""
    parsed = ingest.parse_body(parse_reversal_result, raw)[1]
    result = parsed.result
    with tenant_context(route.merchant_id):
        found = _match(route, reversal_id, result.conversation_id,
                       result.originator_conversation_id)
        if found is None:
            return "No reversal of this channel matches this result: not applied."
        # The payment first, then its reversal: the order mark_reversed locks them in.
        payment = _locked_payment(found.payment_id)
        reversal = _reversal(found.id)
        if reversal.state != ReversalState.REQUESTED:
            return f"Reversal {reversal.id} is {reversal.state.value} already: not applied."
        if result.result_type == 1:
            return "More messages follow (ResultType 1): waiting for the final one."
        original = parsed.original_transaction_id
        if original and original != payment.trans_id:
            return f"The result reverses {original}, not {payment.trans_id}: not applied."
        reversal.originator_conversation_id = (reversal.originator_conversation_id
                                               or result.originator_conversation_id or None)
        reversal.conversation_id = reversal.conversation_id or result.conversation_id or None
        reversal.result_code, reversal.result_desc = result.result_code, result.result_desc
        if not result.succeeded:
            reversal.state, reversal.completed_at = ReversalState.FAILED, utcnow()
            return None
        reversal.receipt = parsed.receipt or None
        amount = parsed.amount
        if amount is None or not Decimal(0) < amount <= payment.amount:
            amount = reversal.amount  # what we asked for, when the result does not say
        _complete(payment, reversal, amount)
    return None


def _match(route: ChannelRoute, reversal_id: int | None, conversation: str,
           originator: str) -> Reversal | None:
    """The channel's reversal a result is about (not locked: see record_result)."""
    query = (sa.select(Reversal).join(Payment, Payment.id == Reversal.payment_id)
             .where(Payment.channel_id == route.channel_id))
    if reversal_id is not None:
        return db.session.scalar(query.where(Reversal.id == reversal_id))
    ids = [clause for value, clause in (
        (conversation, Reversal.conversation_id == conversation),
        (originator, Reversal.originator_conversation_id == originator)) if value]
    return db.session.scalar(query.where(sa.or_(*ids))) if ids else None
