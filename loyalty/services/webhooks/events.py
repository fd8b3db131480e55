"""Writing webhook events: one delivery row per (endpoint, event), in the same transaction
as what the event describes (the outbox pattern, like the SMS outbox), then a task on the
`webhooks` queue sends it once that transaction commits.

- payment.received and payment.credited: when crediting settles a stored payment
  (`payments_settled`, from the batch and from single.py). The callback itself stays one
  INSERT (ARCHITECTURE.md, the callback path), so the confirmation's relay is written by
  the first transaction that touches every stored payment: crediting's, which the beat
  sweep guarantees for every payment, however its nudge fared. payment.received carries
  Safaricom's own body, as Safaricom sent it to us.
- payment.reversed: when the claw-back is written (crediting/reversal.py).
- channel.status_changed: whenever a channel's status or is_active is flushed changed
  (a session listener, so every path that changes a channel is covered).
- sms.delivery_failed: when a text's outcome is written `failed` (services/sms_outcomes.py).

The unique (endpoint, event type, source) key makes every write idempotent: a duplicate
callback, a replayed crediting or a redelivered task adds no second delivery.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy import event as orm_event
from sqlalchemy.orm import Session

from loyalty import background
from loyalty.background import TaskName
from loyalty.db import webhooks as sql
from loyalty.extensions import db
from loyalty.models import (
    EndpointState,
    EventType,
    MpesaChannel,
    SmsMessage,
    WebhookEndpoint,
)
from loyalty.models.base import utcnow
from loyalty.models.webhooks import TEST_EVENT
from loyalty.tenancy import get_current_merchant_id, tenant_context

log = logging.getLogger(__name__)

# Deliveries per task: a task sends them one after the other.
TASK_CHUNK = 20


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def dumps(value: Any) -> str:
    """The delivered body: compact JSON, money as decimal strings, times in ISO 8601 UTC."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON")


def envelope(event_id: str, event_type: str, data: dict[str, Any]) -> str:
    return dumps({"id": event_id, "type": event_type, "created_at": utcnow(), "data": data})


def _wanted(endpoint, event_type: str, channel_id: int | None) -> bool:
    if endpoint.channel_id is not None and channel_id is not None \
            and endpoint.channel_id != channel_id:
        return False
    return event_type in endpoint.events


def write(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Insert these deliveries (ignoring those written already) and queue their sending
    after the commit; the (merchant_id, delivery id) of the new ones."""
    new = sql.insert_deliveries(rows)
    queue(new)
    return new


def queue(pairs: Iterable[tuple[int, int]], trigger: str = "auto") -> None:
    """Queue the sending of these (merchant_id, delivery id) after the commit."""
    by_merchant: dict[int, list[int]] = {}
    for merchant_id, delivery_id in pairs:
        by_merchant.setdefault(merchant_id, []).append(delivery_id)
    for merchant_id, ids in by_merchant.items():
        for start in range(0, len(ids), TASK_CHUNK):
            background.enqueue(TaskName.DELIVER_WEBHOOKS, merchant_id, ids[start:start + TASK_CHUNK],
                               trigger)


def row(merchant_id: int, endpoint_id: int, event_type: str, source_key: str,
        body: str | None = None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A delivery row: `body` as is (payment.received), or `data` in the envelope."""
    event_id = new_event_id()
    now = utcnow()
    return {"merchant_id": merchant_id, "endpoint_id": endpoint_id, "event_id": event_id,
            "event_type": event_type, "source_key": source_key,
            "body": body if body is not None else envelope(event_id, event_type, data or {}),
            "status": "pending", "attempts": 0, "next_attempt_at": now,
            "created_at": now, "updated_at": now}


# --- payments ----------------------------------------------------------------------------


def payment_data(payment) -> dict[str, Any]:
    """A payment as events describe it (a Payment, or a row of db.webhooks.PAYMENTS)."""
    return {"id": payment.id, "trans_id": payment.trans_id, "channel_id": payment.channel_id,
            "source": payment.source, "amount": payment.amount, "bill_ref": payment.bill_ref,
            "trans_time": payment.trans_time, "status": payment.status,
            "customer_id": payment.customer_id, "points": payment.points or 0,
            "credited_at": payment.credited_at}


def payments_settled(connection, payments: list[tuple[int, int]],
                     earned: dict[int, Any] | None = None) -> None:
    """Crediting settled these (merchant_id, payment_id): payment.received for each, and
    payment.credited for those credited (`earned`: what rules.earn said, by payment id)."""
    if not payments:
        return
    merchants = sorted({m for m, _ in payments})
    endpoints = _endpoints(connection, merchants)
    if not endpoints:
        return  # the common case: one indexed read per batch, nothing else
    earned = earned or {}
    found = sql.PAYMENTS.execute(connection, {
        "ids": sorted({p for m, p in payments if m in endpoints}),
        "merchant_id": sorted(endpoints)}).all()
    rows: dict[int, list[dict[str, Any]]] = {}
    for payment in found:
        key = f"payment:{payment.id}"
        own = rows.setdefault(payment.merchant_id, [])
        for endpoint in endpoints[payment.merchant_id]:
            if _wanted(endpoint, EventType.PAYMENT_RECEIVED, payment.channel_id):
                own.append(row(payment.merchant_id, endpoint.id, EventType.PAYMENT_RECEIVED,
                               key, body=dumps(payment.payload)))
            if payment.status == "credited" and _wanted(endpoint, EventType.PAYMENT_CREDITED,
                                                        payment.channel_id):
                own.append(row(payment.merchant_id, endpoint.id, EventType.PAYMENT_CREDITED,
                               key, data=_credited(payment, earned.get(payment.id))))
    for merchant_id, own in rows.items():
        with tenant_context(merchant_id):  # each row written as its merchant (row security)
            write(own)


def _credited(payment, earned) -> dict[str, Any]:
    data = {"payment": payment_data(payment), "program": payment.program}
    if earned is not None:
        data.update(balance=earned.balance, stamps=earned.stamps,
                    stamps_left=earned.stamps_left, reward_earned=earned.reward_earned)
    return data


def _endpoints(connection, merchants: list[int]) -> dict[int, list]:
    out: dict[int, list] = {}
    for endpoint in sql.ENDPOINTS.execute(connection, {"merchant_id": merchants}):
        out.setdefault(endpoint.merchant_id, []).append(endpoint)
    return out


def payment_reversed(payment, *, amount: Decimal, points: int, stamp: bool) -> None:
    """The claw-back of a payment was written (current merchant, inside its unit of work)."""
    rows = [row(payment.merchant_id, endpoint.id, EventType.PAYMENT_REVERSED,
                f"payment:{payment.id}", data={
                    "payment": payment_data(payment), "reversed_amount": amount,
                    "points_taken_back": points, "stamp_taken_back": stamp})
            for endpoint in _current_endpoints(EventType.PAYMENT_REVERSED, payment.channel_id)]
    write(rows)


def _current_endpoints(event_type: str, channel_id: int | None,
                       session: Session | None = None) -> list[WebhookEndpoint]:
    session = session or db.session()
    with session.no_autoflush:
        endpoints = session.scalars(sa.select(WebhookEndpoint).where(
            WebhookEndpoint.state == EndpointState.ACTIVE)).all()
    return [e for e in endpoints if _wanted(e, event_type, channel_id)]


# --- SMS ---------------------------------------------------------------------------------


def sms_failed(failed: dict[int, str | None]) -> None:
    """These texts of the current merchant are being given up as failed ({id: why})."""
    if not failed:
        return
    endpoints = _current_endpoints(EventType.SMS_DELIVERY_FAILED, None)
    if not endpoints:
        return
    messages = db.session.execute(sa.select(
        SmsMessage.id, SmsMessage.merchant_id, SmsMessage.payment_id, SmsMessage.customer_id,
        SmsMessage.purpose).where(SmsMessage.id.in_(list(failed))).order_by(SmsMessage.id)).all()
    write([row(m.merchant_id, endpoint.id, EventType.SMS_DELIVERY_FAILED, f"sms:{m.id}", data={
        "message": {"id": m.id, "payment_id": m.payment_id, "customer_id": m.customer_id,
                    "purpose": m.purpose, "status": "failed", "error": failed[m.id]}})
        for m in messages for endpoint in endpoints])


# --- channels ----------------------------------------------------------------------------


@orm_event.listens_for(Session, "before_flush")
def _channel_changes(session: Session, flush_context, instances) -> None:
    """channel.status_changed for every channel flushed with a new status or is_active."""
    changed = [c for c in session.dirty if isinstance(c, MpesaChannel) and _state_changed(c)]
    if not changed:
        return
    for channel in changed:
        # A channel changes as its own merchant (the API, the web UI, its tasks). Entering
        # another tenant context here is not possible: leaving one flushes (row security),
        # and this runs inside a flush.
        if get_current_merchant_id() != channel.merchant_id:
            log.warning("channel %s changed state outside its merchant's context: no "
                        "channel.status_changed webhook", channel.id)
            continue
        with session.no_autoflush:
            endpoints = _current_endpoints(EventType.CHANNEL_STATUS_CHANGED, channel.id, session)
            if not endpoints:
                continue
            status, active = sa.inspect(channel).attrs.status, sa.inspect(channel).attrs.is_active
            previous = {"status": (status.history.deleted or [channel.status])[0],
                        "is_active": (active.history.deleted or [channel.is_active])[0]}
            stamp = utcnow().strftime("%Y%m%dT%H%M%S.%f")
            data = {"channel": {"id": channel.id, "name": channel.name,
                                "shortcode": channel.shortcode, "status": channel.status,
                                "is_active": channel.is_active},
                    "previous": previous}
            rows = [row(channel.merchant_id, e.id, EventType.CHANNEL_STATUS_CHANGED,
                        f"channel:{channel.id}:{stamp}", data=data) for e in endpoints]
            new = sql.insert_deliveries(rows, session)
            if session.info.get(background.UNIT_DEPTH):
                queue(new)
            # else: flushed outside a unit of work (a script); the sweep sends them


def _state_changed(channel: MpesaChannel) -> bool:
    state = sa.inspect(channel)
    return any(state.attrs[name].history.has_changes()
               and state.attrs[name].history.deleted != state.attrs[name].history.added
               for name in ("status", "is_active"))


# --- the test event ----------------------------------------------------------------------


def test_row(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """A webhook.test delivery for this endpoint, whatever events it chose."""
    return row(endpoint.merchant_id, endpoint.id, TEST_EVENT, f"test:{uuid.uuid4().hex}",
               data={"endpoint_id": endpoint.id,
                     "message": "A test event from M-Pesa Loyalty: your endpoint works."})
