"""Erasing a customer's personal data (DPA s.40, reg. 12: erasure on request, within 14 days).

What identifies the customer goes, wherever the platform kept it: their names and phone;
the payer names and MSISDN M-Pesa sent with their payments, in the columns and in the raw
payloads; the callback bodies of those payments in the callback log; STK push requests to
the phone and the Daraja results about those payments; the bodies of the webhook events
about those payments (payment.received relays Safaricom's body as sent); the numbers and
bodies of their texts. The phone hash becomes a random tombstone, so a later payment from
the number finds no customer and starts a new one ("earn now, claim later" from scratch);
for the same reason their experiment assignments lose the keyed hash of the number they
were found by.

What the merchant must keep stays: the customer row (as a number), amounts, receipts
(M-Pesa transaction ids), the ledger and the balances, so the books still add up. Texts
still waiting are cancelled.

A phone number hides in many shapes (`0712…`, `254712…`, `+254712…`, the SHA-256 of the
254 form, an STK result's integer PhoneNumber, a reversal's "254712… - John Doe"), so
bodies are cleaned both by key (MSISDN, FirstName, …) and by searching every value for each
shape of the number and for the names.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.models import (
    AsyncRequest,
    CallbackLog,
    ConsentSource,
    Customer,
    ExperimentAssignment,
    Payment,
    PaymentRequest,
    Reversal,
    SmsMessage,
    SmsStatus,
    WebhookDelivery,
)
from loyalty.models.base import utcnow
from loyalty.services import consent
from loyalty.services.customers import get_customer
from loyalty.tenancy import current_merchant_id
from loyalty.unit_of_work import transactional

ERASED = "[erased]"
TOMBSTONE_PREFIX = "erased:"
# Keys whose values are the payer's identity in Daraja's bodies (C2B, STK metadata, Pull).
PERSONAL_KEYS = frozenset({"msisdn", "firstname", "middlename", "lastname", "phonenumber",
                           "partya", "debitpartyname", "receiverpartypublicname",
                           "creditpartyname", "sendernumber", "msisdn_hash"})


def tombstone() -> str:
    """A phone hash no number hashes to (not hex): nothing will ever match it again."""
    return TOMBSTONE_PREFIX + secrets.token_hex(28)


def phone_forms(phone: str | None, phone_hash: str | None) -> list[str]:
    """Every spelling of the number that may sit in a stored body, longest first."""
    forms = set()
    if phone:
        local = phone[3:]
        forms |= {phone, "+" + phone, "0" + local, local, f"{phone[:3]} {local}",
                  f"0{local[:3]} {local[3:6]} {local[6:]}"}
    if phone_hash and not phone_hash.startswith(TOMBSTONE_PREFIX):
        forms |= {phone_hash.lower(), phone_hash.upper()}
    return sorted(forms, key=len, reverse=True)


class Scrubber:
    """Cleans values of the number's forms and of the names (whole values or inside text)."""

    def __init__(self, forms: list[str], names: set[str]) -> None:
        self.needles = forms + sorted((n for n in names if n and len(n) > 1),
                                      key=len, reverse=True)

    def text(self, value: str) -> str:
        for needle in self.needles:
            if needle in value:
                value = value.replace(needle, ERASED)
        return value

    def value(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, dict):
            named = value.get("Name")  # Daraja's [{"Name": "PhoneNumber", "Value": …}] items
            if isinstance(named, str) and named.lower() in PERSONAL_KEYS and "Value" in value:
                return {**value, "Value": ERASED}
            return {k: self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if key is not None and key.lower() in PERSONAL_KEYS and value not in (None, ""):
            return ERASED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, int) and not isinstance(value, bool) and \
                self.text(str(value)) != str(value):
            return ERASED
        return value

    def body(self, text: str) -> str:
        """A stored callback body: JSON cleaned by key and value, anything else as text."""
        try:
            parsed = json.loads(text)
        except ValueError:
            return self.text(text)
        return json.dumps(self.value(parsed), separators=(",", ":"))


@transactional
def erase_customer(customer_id: int, *, source: ConsentSource | str = ConsentSource.API) -> Customer:
    """Erase the customer's personal data (idempotent: erasing again changes nothing)."""
    customer = get_customer(customer_id, lock=True)
    if customer.erased_at is not None:
        return customer
    forms = phone_forms(customer.phone, customer.phone_hash)
    identity = [f for f in (customer.phone, customer.phone_hash) if f]
    payments = list(db.session.scalars(sa.select(Payment).where(sa.or_(
        Payment.customer_id == customer.id,
        Payment.msisdn.in_(identity + [customer.phone_hash.upper()])))
        .with_for_update()))
    names = {customer.first_name, customer.middle_name, customer.last_name}
    for payment in payments:
        names |= {payment.first_name, payment.middle_name, payment.last_name}
    scrub = Scrubber(forms, names)
    payment_ids = [p.id for p in payments]
    for payment in payments:
        payment.msisdn, payment.msisdn_form = None, "erased"
        payment.first_name = payment.middle_name = payment.last_name = None
        payment.payload = scrub.value(payment.payload)
    _erase_requests(customer, payment_ids, scrub)
    _erase_callback_log(payment_ids, forms, scrub)
    _erase_webhook_bodies(payment_ids, scrub)
    _erase_texts(customer, identity)
    _erase_experiment_keys(customer)
    # No texts ever again (there is no number left to text), recorded like any opt-out.
    consent.change(customer, source=source, sms_opt_out=True, marketing_consent=False,
                   detail="Personal data erased at the customer's request.")
    customer.phone = customer.first_name = customer.middle_name = customer.last_name = None
    customer.phone_hash = tombstone()
    customer.erased_at = utcnow()
    db.session.flush()
    return customer


def payment_count(customer_id: int) -> int:
    """How many payments the customer has (the confirmation page says it)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Payment)
                             .where(Payment.customer_id == customer_id))


def _erase_requests(customer: Customer, payment_ids: list[int], scrub: Scrubber) -> None:
    """STK pushes to the phone, and Daraja's results about the payments and those pushes."""
    requests = list(db.session.scalars(sa.select(PaymentRequest).where(sa.or_(
        PaymentRequest.phone == customer.phone if customer.phone else sa.false(),
        PaymentRequest.payment_id.in_(payment_ids)))))
    for request in requests:
        request.phone = ""
        request.result_desc = request.result_desc and scrub.text(request.result_desc)
    request_ids = [r.id for r in requests]
    for asked in db.session.scalars(sa.select(AsyncRequest).where(sa.or_(
            AsyncRequest.payment_id.in_(payment_ids),
            AsyncRequest.payment_request_id.in_(request_ids)))):
        asked.result = asked.result and scrub.value(asked.result)
        asked.result_desc = asked.result_desc and scrub.text(asked.result_desc)
    for reversal in db.session.scalars(sa.select(Reversal).where(
            Reversal.payment_id.in_(payment_ids))):
        reversal.result_desc = reversal.result_desc and scrub.text(reversal.result_desc)


def _erase_callback_log(payment_ids: list[int], forms: list[str], scrub: Scrubber) -> None:
    """The merchant's stored callback bodies that carry the payments or the number (the
    log is not tenant-scoped: every read names the merchant)."""
    found = [CallbackLog.body.contains(form, autoescape=True) for form in forms]
    if payment_ids:
        found.append(CallbackLog.payment_id.in_(payment_ids))
    if not found:
        return
    rows = db.session.scalars(sa.select(CallbackLog).where(
        CallbackLog.merchant_id == current_merchant_id(), sa.or_(*found)))
    for row in rows:
        row.body = scrub.body(row.body)
        row.error = row.error and scrub.text(row.error)


def _erase_webhook_bodies(payment_ids: list[int], scrub: Scrubber) -> None:
    """Events about the payments kept for the merchant's endpoints. Cleaned, not deleted:
    the delivery log still shows what went when, and a delivery still pending goes out
    cleaned (the signature is made at each attempt). What the merchant's own systems
    already received is theirs to erase."""
    if not payment_ids:
        return
    keys = [f"payment:{payment_id}" for payment_id in payment_ids]
    for delivery in db.session.scalars(sa.select(WebhookDelivery).where(
            WebhookDelivery.source_key.in_(keys))):
        delivery.body = scrub.body(delivery.body)


def _erase_experiment_keys(customer: Customer) -> None:
    """An assignment's unit key is an HMAC of the phone hash: pseudonymous, and the number's
    next payment would find it and count as this customer's. A random key keeps the
    assignment (and the results) while the number starts afresh, as a new payer."""
    for assigned in db.session.scalars(sa.select(ExperimentAssignment).where(
            ExperimentAssignment.customer_id == customer.id)):
        assigned.unit_key = secrets.token_hex(32)


def _erase_texts(customer: Customer, identity: list[str]) -> None:
    """Their texts keep status, kind, cost and timing; not the number or the words."""
    db.session.execute(
        sa.update(SmsMessage)
        .where(sa.or_(SmsMessage.customer_id == customer.id,
                      SmsMessage.recipient.in_(identity)))
        .values(recipient=None, body="",
                status=sa.case((SmsMessage.status == SmsStatus.QUEUED, SmsStatus.CANCELLED.value),
                               else_=SmsMessage.status),
                error=sa.case((SmsMessage.status == SmsStatus.QUEUED,
                               "Cancelled: the customer's personal data was erased."),
                              else_=SmsMessage.error),
                updated_at=utcnow()),
        execution_options={"synchronize_session": False})
