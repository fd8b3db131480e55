"""Promotional texts: what the law and Safaricom ask of anything beyond a receipt (SMS.md 4).

- only to a customer with `marketing_consent` (DPA s.37, reg. 15(1); paying by M-Pesa is not
  consent: the Pepinos decision) who has not opted out;
- never to a payer known only by hash: hashed sending is transactional only (SMS.md 3.7);
- always with a free way to stop (reg. 15(2), reg. 17: in each message);
- only 08:00-18:00 Nairobi time (Safaricom's rule for promotional sender IDs, SMS.md 4.4):
  a text queued outside the window is held (`not_before`), never dropped, and goes out when
  it opens; the outbox re-checks the window when it sends, so a retry never slips into the
  night.

Each text records its kind; receipts, reward texts and reversal notices are transactional
(services/crediting/rules.py) and go at any time.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from flask import current_app

from loyalty import background
from loyalty.background import TaskName
from loyalty.extensions import db
from loyalty.models import Customer, MessageKind, SkipReason, SmsMessage, SmsStatus
from loyalty.models.base import utcnow
from loyalty.services.merchants import get_current_merchant
from loyalty.sms.segments import encoding, segment_count
from loyalty.tenancy import current_merchant_id

NAIROBI = timezone(timedelta(hours=3))  # no daylight saving in Kenya
WINDOW_OPENS, WINDOW_CLOSES = time(8), time(18)


def in_window(moment: datetime) -> bool:
    local = moment.astimezone(NAIROBI).time()
    return WINDOW_OPENS <= local < WINDOW_CLOSES


def window_start(moment: datetime) -> datetime:
    """`moment` itself inside the window, else the next 08:00 Nairobi time (in UTC)."""
    if in_window(moment):
        return moment
    local = moment.astimezone(NAIROBI)
    day = local.date() if local.time() < WINDOW_OPENS else local.date() + timedelta(days=1)
    return datetime.combine(day, WINDOW_OPENS, NAIROBI).astimezone(timezone.utc)


def opt_out_line() -> str:
    """How to stop, free of charge: STOP to the platform's shortcode with the merchant's
    keyword when both exist, else Safaricom's own menu for promotional senders."""
    shortcode = current_app.config.get("SMS_SHORTCODE")
    if shortcode:
        keyword = get_current_merchant().sms_keyword
        return f"Opt out: SMS STOP {keyword} to {shortcode} (free)" if keyword else \
            f"Opt out: SMS STOP to {shortcode} (free)"
    return "Opt out: dial *456*9*5# (free)"


def queue_promotional(customer: Customer, body: str, purpose: str, *,
                      now: datetime | None = None) -> SmsMessage:
    """Queue a promotional text to a customer of the current merchant (in the caller's unit
    of work); a text that may not go is written `skipped` with the reason."""
    now = now or utcnow()
    text = body.rstrip() + "\n" + opt_out_line()
    status, reason, error = SmsStatus.QUEUED, None, None
    if customer.sms_opt_out:
        status, reason, error = SmsStatus.SKIPPED, SkipReason.OPTED_OUT, "The customer opted out of SMS."
    elif not customer.marketing_consent:
        status, reason, error = (SmsStatus.SKIPPED, SkipReason.NO_CONSENT,
                                 "No marketing consent: offers and reminders need the customer's yes.")
    elif not customer.phone:
        status, reason, error = (SmsStatus.SKIPPED, SkipReason.HASHED,
                                 "Known only by M-Pesa's hash: promotions are never sent by hash.")
    start = window_start(now)
    message = SmsMessage(
        customer_id=customer.id, purpose=purpose, kind=MessageKind.PROMOTIONAL,
        recipient=customer.phone, recipient_form="plain" if customer.phone else "hashed",
        body=text, encoding=encoding(text), segments=segment_count(text), status=status,
        reason=reason, error=error, attempts=0,
        not_before=start if status == SmsStatus.QUEUED and start > now else None,
        created_at=now, updated_at=now)
    db.session.add(message)
    db.session.flush()
    if status == SmsStatus.QUEUED and message.not_before is None:
        background.enqueue(TaskName.SEND_SMS_BATCH, [[current_merchant_id(), message.id]])
    return message
