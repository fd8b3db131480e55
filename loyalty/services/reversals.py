"""Reversing payments: through Safaricom's Reversal API, or recorded after the fact.

A customer's money can go back two ways, and the points it earned come back with it:

- `request_reversal`: the merchant asks us to reverse; it is recorded with the async
  request its result will answer, a worker calls the Reversal API (send_reversal) and the
  points are taken back only when Safaricom's result says ResultCode 0 (on_result, the
  `reversal` handler of async_results.py), never on the acknowledgement (DARAJA.md 16); a
  queue timeout fails it (on_timeout);
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
from sqlalchemy.orm import joinedload

from loyalty import background
from loyalty.background import TaskName
from loyalty.daraja.callbacks import AsyncResult, parse_reversal_result
from loyalty.daraja.errors import DarajaError, DarajaUnavailable
from loyalty.daraja.security import security_credential
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import (
    AsyncKind,
    AsyncRequest,
    AsyncState,
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
from loyalty.models.reversals import (
    GAVE_UP,
    NO_ANSWER,
    QUEUE_TIMED_OUT,
    SUPERSEDED,
    SUPERSEDED_BY_RESULT,
)
from loyalty.services import async_requests, ledger
from loyalty.services.async_requests import ResultMismatch
from loyalty.services.channel_setup import channel_access
from loyalty.services.crediting import reversal as clawback
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
        # Recorded now, so the result URL can name it and the worker can claim it.
        async_requests.open_request(AsyncKind.REVERSAL, payment.channel_id,
                                    payment_id=payment.id, reversal_id=reversal.id)
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
    # The payment and its reversals in one statement (the page lists them).
    payment = db.session.scalars(sa.select(Payment).where(Payment.id == payment_id)
                                 .options(joinedload(Payment.reversals))).unique().first()
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
        # Locked and claimed before the call, the claim committed: a redelivered task (or
        # one running at the same time) finds it claimed and never asks twice.
        asked = async_requests.claim(AsyncKind.REVERSAL, reversal_id=reversal_id)
        if asked is None:
            return
        reversal = db.session.get(Reversal, reversal_id)
        if reversal.state != ReversalState.REQUESTED:  # marked reversed before it was sent
            return async_requests.refused(asked, None, reversal.result_desc or "Not sent.")
        payment = db.session.get(Payment, reversal.payment_id)
        args = dict(transaction_id=payment.trans_id, amount=int(reversal.amount),
                    receiver_party=_receiver(payment), remarks=reversal.reason,
                    occasion=f"Reversal {reversal.id}")
        access, asked_id = channel_access(payment.channel_id), asked.id
        if not (access.initiator_name and access.initiator_password):
            return _fail(asked, "initiator_missing",
                         "The channel's initiator was removed before the request was sent.")
        # Before the claim commits: should it fail, the claim is rolled back with it.
        credential = security_credential(access.initiator_password, access.environment)
    urls = access.callback_urls
    try:
        accepted = access.client().reversal(
            initiator=access.initiator_name, security_credential=credential,
            # The request's own id in the URL finds it even before we learn its ids.
            result_url=f"{urls['reversal_result']}/{asked_id}",
            timeout_url=f"{urls['reversal_timeout']}/{asked_id}", **args)
    except DarajaUnavailable as exc:
        if not final_attempt:
            _settle(asked_id, async_requests.release)  # not sent: the retry may send it
            raise
        return _settle(asked_id, _fail, exc.code, (
            f"Safaricom could not be reached ({exc}). If the money did not go back, reverse "
            "again; if it did, mark the payment as reversed."))
    except DarajaError as exc:
        return _settle(asked_id, _fail, exc.code, str(exc))
    _settle(asked_id, async_requests.acknowledged, accepted)


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
def _settle(asked_id: int, step, *args) -> None:
    """One step on the (locked) async request after the call: its own transaction."""
    asked = db.session.scalar(sa.select(AsyncRequest).where(AsyncRequest.id == asked_id)
                              .with_for_update().execution_options(populate_existing=True))
    step(asked, *args)


def _fail(asked: AsyncRequest, code: str | None, message: str) -> None:
    """Safaricom refused the request, or it could not be sent: no result will come."""
    if asked.state != AsyncState.PENDING:
        return  # a result came first (by the id in its URL): it decided
    async_requests.refused(asked, code, message)
    reversal = _reversal(asked.reversal_id)
    if reversal.state == ReversalState.REQUESTED:
        reversal.state, reversal.result_code = ReversalState.FAILED, code
        reversal.result_desc, reversal.completed_at = message, utcnow()


# --- Safaricom's answer (async_results.HANDLERS[AsyncKind.REVERSAL]) ----------------------


def on_result(asked: AsyncRequest, result: AsyncResult, payload: dict[str, Any]) -> str | None:
    """A Reversal result for the request `asked` (locked): ResultCode 0 takes the points
    back, anything else fails the reversal with Safaricom's reason. Returns why the result
    was not applied (the body is kept in the callback log either way)."""
    parsed = parse_reversal_result(payload)
    # The payment first, then its reversal: the order mark_reversed locks them in.
    payment = _locked_payment(asked.payment_id)
    reversal = _reversal(asked.reversal_id)
    original = parsed.original_transaction_id
    if original and original != payment.trans_id:
        raise ResultMismatch(f"The result reverses {original}, not {payment.trans_id}: "
                             "not applied.")
    # Failed only because M-Pesa's queue timed out, or no answer came in time: what M-Pesa
    # did after all still counts.
    late = asked.state == AsyncState.TIMED_OUT and reversal.result_desc in GAVE_UP
    if reversal.state != ReversalState.REQUESTED and not late:
        return f"Reversal {reversal.id} is {reversal.state.value} already: not applied."
    if late and result.succeeded and (note := _reopen(payment, reversal, parsed.receipt)):
        return note
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


def _reopen(payment: Payment, reversal: Reversal, receipt: str) -> str | None:
    """A success that came after the queue timed out: the money went back, so the points
    are taken back once — unless the payment was reversed meanwhile (then the note). A
    request asked again meanwhile is superseded: M-Pesa will refuse it as already reversed."""
    if payment.status == PaymentStatus.REVERSED:
        return (f"M-Pesa's result came after its queue timed out and says reversal "
                f"{reversal.id} went through (receipt {receipt or 'unknown'}), but payment "
                f"{payment.trans_id} was reversed already: no more points were taken back. "
                "Check the M-PESA statement for a second reversal.")
    again = db.session.scalar(sa.select(Reversal).where(
        Reversal.payment_id == payment.id, Reversal.state == ReversalState.REQUESTED)
        .with_for_update())
    if again is not None:
        again.state, again.result_desc = ReversalState.FAILED, SUPERSEDED_BY_RESULT
        again.completed_at = utcnow()
        db.session.flush()  # before this one is done: one open reversal per payment
    return None


def on_timeout(asked: AsyncRequest, reason: str = QUEUE_TIMED_OUT) -> str | None:
    """M-Pesa's queue gave up on the request: the reversal fails, so it never waits for
    ever; a result that still comes afterwards is applied (on_result)."""
    _locked_payment(asked.payment_id)  # the lock order of on_result and mark_reversed
    reversal = _reversal(asked.reversal_id)
    if reversal.state != ReversalState.REQUESTED:
        return f"Reversal {reversal.id} is {reversal.state.value} already: not changed."
    reversal.state, reversal.result_code = ReversalState.FAILED, None
    reversal.result_desc, reversal.completed_at = reason, utcnow()
    return None


def on_unanswered(asked: AsyncRequest) -> str | None:
    """No answer will come (beat gave up on the request): failed like a queue timeout, with
    what to check, so the merchant is not refused `reversal_pending` for ever."""
    return on_timeout(asked, NO_ANSWER)
