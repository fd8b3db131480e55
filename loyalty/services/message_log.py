"""The texts a merchant sent, as the merchant reads them: per customer and per payment.

Newest first, in the API's page shape. Each row says what the text was (purpose, kind),
where it stands (queued, sent, delivered, failed, skipped, cancelled) and what the gateway
reported: when it reached the phone or why not, and what it cost. The phone number a text
went to is left out: the customer's record already has it, and an erased one has none.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from loyalty.errors import NotFound
from loyalty.extensions import db
from loyalty.models import Payment, SmsMessage
from loyalty.services.customers import get_customer
from loyalty.services.pages import keyset_page


def customer_messages(customer_id: int, *, limit: int = 50,
                      cursor: int | None = None) -> dict[str, Any]:
    get_customer(customer_id)  # 404 for another merchant's customer, or none
    return _page(SmsMessage.customer_id == customer_id, limit, cursor)


def payment_messages(payment_id: int, *, limit: int = 50,
                     cursor: int | None = None) -> dict[str, Any]:
    if db.session.scalar(sa.select(Payment.id).where(Payment.id == payment_id)) is None:
        raise NotFound("Payment not found.")
    return _page(SmsMessage.payment_id == payment_id, limit, cursor)


def _page(condition, limit: int, cursor: int | None) -> dict[str, Any]:
    page = keyset_page(sa.select(SmsMessage).where(condition), SmsMessage.id,
                       limit=limit, cursor=cursor)
    page["items"] = [_item(m) for m in page["items"]]
    return page


def _item(message: SmsMessage) -> dict[str, Any]:
    currency, amount = split_cost(message.cost)
    return {"id": message.id, "customer_id": message.customer_id,
            "payment_id": message.payment_id, "purpose": message.purpose,
            "kind": message.kind.value, "status": message.status.value, "body": message.body,
            "segments": message.segments, "attempts": message.attempts,
            "reason": message.reason.value if message.reason else None,
            "error": message.error, "cost": amount, "cost_currency": currency,
            "created_at": message.created_at, "not_before": message.not_before,
            "sent_at": message.sent_at, "delivered_at": message.delivered_at,
            "failure_reason": message.failure_reason}


def split_cost(cost: str | None) -> tuple[str | None, Decimal | None]:
    """Africa's Talking's "KES 0.8000" as ("KES", Decimal("0.8000")); (None, None) when
    the gateway reported none (or nothing readable)."""
    currency, _, amount = (cost or "").strip().rpartition(" ")
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return None, None
    return (currency or None, value) if value.is_finite() else (None, None)
