"""Reading payments back: listing, the routing dry run, per-channel analytics."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload

from loyalty.extensions import db
from loyalty.models import Payment, PaymentStatus
from loyalty.services.channels import get_channel
from loyalty.services.crediting import route_payment
from loyalty.services.crediting.rules import points_for
from loyalty.services.pages import whole

EAT = timezone(timedelta(hours=3))  # Kenya keeps no daylight saving time


def list_payments(*, channel_id: int | None = None, status: PaymentStatus | None = None,
                      customer_id: int | None = None, since: datetime | None = None,
                      until: datetime | None = None, limit: int = 50,
                      cursor: int | None = None) -> dict[str, Any]:
    """Newest first, keyset-paginated by id: {"items": [...], "next_cursor": id | None}."""
    # Joined, not a second SELECT: payments and their reversals come from one snapshot, so
    # a reversal completing meanwhile never shows as done on a payment still credited.
    query = (sa.select(Payment).order_by(Payment.id.desc()).limit(limit + 1)
             .options(joinedload(Payment.reversals), selectinload(Payment.ledger_entries)))
    filters = ((channel_id, lambda v: Payment.channel_id == v),
               (status, lambda v: Payment.status == v),
               (customer_id, lambda v: Payment.customer_id == v),
               (since, lambda v: Payment.trans_time >= v),
               (until, lambda v: Payment.trans_time < v),
               (cursor, lambda v: Payment.id < v))
    for value, clause in filters:
        if value is not None:
            query = query.where(clause(value))
    rows = list(db.session.scalars(query).unique())
    more = len(rows) > limit
    items = rows[:limit]
    return {"items": items, "next_cursor": items[-1].id if more else None}


def resolve_account(channel_id: int, account: str, amount: Decimal | None) -> dict[str, Any]:
    """Dry run of routing: which program a reference lands in and what it would earn."""
    channel = get_channel(channel_id)
    route = route_payment(channel, account)
    program = route.program
    points = None
    if amount is not None:
        points = points_for(amount, points_per_unit=program.points_per_unit,
                            unit_amount=program.unit_amount, multiplier=program.multiplier,
                            min_amount=program.min_amount)
    qualifies = amount is not None and amount >= program.min_amount
    return {"program": program.code, "program_name": program.name,
            "matched_pattern": route.pattern, "amount": amount, "points": points,
            "stamps": (1 if qualifies else 0) if program.stamps_required and amount is not None
            else None}


def channel_analytics(since: date | None = None, until: date | None = None) -> list[dict[str, Any]]:
    """Per channel and Nairobi day: payments, amount, points, unique customers."""
    until = until or datetime.now(EAT).date()
    since = since or until - timedelta(days=29)
    start = datetime.combine(since, time(), EAT)
    end = datetime.combine(until + timedelta(days=1), time(), EAT)
    day = _nairobi_day(Payment.trans_time)
    rows = db.session.execute(
        sa.select(Payment.channel_id, day.label("day"), sa.func.count().label("payments"),
                  sa.func.coalesce(sa.func.sum(Payment.amount), 0).label("amount"),
                  sa.func.coalesce(sa.func.sum(Payment.points), 0).label("points"),
                  sa.func.count(sa.distinct(Payment.customer_id)).label("unique_customers"))
        .where(Payment.trans_time >= start, Payment.trans_time < end)
        .group_by(Payment.channel_id, day).order_by(day, Payment.channel_id)).all()
    return [{**row._mapping, "day": _as_date(row.day)} for row in rows]


def analytics_page(since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """The API's shape of channel_analytics: one page (the window bounds it)."""
    return whole(channel_analytics(since, until))


def _nairobi_day(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return sa.func.date(sa.func.timezone("Africa/Nairobi", column))
    return sa.func.date(column, "+3 hours")


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
