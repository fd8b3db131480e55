"""A customer's consent to be texted, changed through one function whatever asked.

Two switches per customer (SMS.md 4): `sms_opt_out` (no texts at all: the customer
objected, DPA s.26/s.36, or the operator blacklisted the number) and `marketing_consent`
(offers and reminders: DPA s.37 and reg. 15 need express consent, and paying by M-Pesa is
not consent). Every change is appended to `consent_events` with its time and source
(`api|web|sms|gateway`), so the merchant can show when and how a customer said yes or no;
setting a switch to the value it already has records nothing.

Callers: the API and the web page (PATCH, enrolment), Africa's Talking's callbacks
(STOP/START, the bulk opt-out notification, a blacklisted delivery report) and the outbox
(a send refused `406 UserInBlacklist`).
"""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.models import (
    ConsentEvent,
    ConsentKind,
    ConsentSource,
    Customer,
    MessageKind,
    SmsMessage,
    SmsStatus,
)
from loyalty.models.base import utcnow


def change(customer: Customer, *, source: ConsentSource | str, sms_opt_out: bool | None = None,
           marketing_consent: bool | None = None, detail: str | None = None) -> list[ConsentEvent]:
    """Set the switches that are given (None leaves one alone); the events it recorded.

    Opting out withdraws the customer's queued texts; withdrawing marketing consent
    withdraws their queued promotional ones. Runs inside the caller's unit of work."""
    source = ConsentSource(source)
    events = []
    for kind, value in ((ConsentKind.SMS_OPT_OUT, sms_opt_out),
                        (ConsentKind.MARKETING_CONSENT, marketing_consent)):
        if value is None or getattr(customer, kind.value) == value:
            continue
        setattr(customer, kind.value, value)
        event = ConsentEvent(customer_id=customer.id, kind=kind, value=value, source=source,
                             detail=(detail or None) and detail[:200], created_at=utcnow())
        db.session.add(event)
        events.append(event)
    if sms_opt_out and events:
        cancel_queued(customer.id, "The customer opted out of SMS.")
    elif marketing_consent is False and events:
        cancel_queued(customer.id, "The customer withdrew marketing consent.",
                      promotional_only=True)
    db.session.flush()
    return events


def cancel_queued(customer_id: int, why: str, *, promotional_only: bool = False) -> int:
    """Withdraw the customer's texts still waiting to be sent; how many."""
    query = (sa.update(SmsMessage)
             .where(SmsMessage.customer_id == customer_id, SmsMessage.status == SmsStatus.QUEUED)
             .values(status=SmsStatus.CANCELLED, error=why, updated_at=utcnow()))
    if promotional_only:
        query = query.where(SmsMessage.kind == MessageKind.PROMOTIONAL)
    return db.session.execute(query, execution_options={"synchronize_session": False}).rowcount


def history(customer_id: int, limit: int = 50) -> list[ConsentEvent]:
    """The customer's consent changes, newest first."""
    return list(db.session.scalars(
        sa.select(ConsentEvent).where(ConsentEvent.customer_id == customer_id)
        .order_by(ConsentEvent.id.desc()).limit(limit)))
