"""Webhook statements that the ORM cannot express or that run set-wise
(services/webhooks/): the outbox insert that ignores an event already written, and the
crediting batch's reads of its merchants' endpoints and of its payments' events."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from loyalty.db.inserts import insert_ignore_statement
from loyalty.db.statements import ANY_OF, Statement
from loyalty.extensions import db
from loyalty.models import EndpointState, LoyaltyProgram, Payment, WebhookDelivery, WebhookEndpoint
from loyalty.tenancy import TenantNotSet

_ENDPOINTS = WebhookEndpoint.__table__
_PAYMENTS = Payment.__table__
_PROGRAMS = LoyaltyProgram.__table__

ENDPOINTS = Statement(
    "webhooks.endpoints",
    sa.select(_ENDPOINTS.c.id, _ENDPOINTS.c.merchant_id, _ENDPOINTS.c.channel_id,
              _ENDPOINTS.c.events)
    .where(_ENDPOINTS.c.merchant_id.in_(sa.bindparam("merchant_id", expanding=True)),
           _ENDPOINTS.c.state == EndpointState.ACTIVE.value),
    doc="The active endpoints of these merchants (what each receives is filtered in "
        "memory: a merchant has a handful).",
    tenant="merchant_id", form=ANY_OF)

PAYMENTS = Statement(
    "webhooks.payments",
    sa.select(_PAYMENTS.c.id, _PAYMENTS.c.merchant_id, _PAYMENTS.c.channel_id,
              _PAYMENTS.c.trans_id, _PAYMENTS.c.source, _PAYMENTS.c.trans_time,
              _PAYMENTS.c.amount, _PAYMENTS.c.bill_ref, _PAYMENTS.c.status, _PAYMENTS.c.error,
              _PAYMENTS.c.customer_id, _PAYMENTS.c.points, _PAYMENTS.c.credited_at,
              _PAYMENTS.c.payload, _PROGRAMS.c.code.label("program"))
    .select_from(_PAYMENTS.outerjoin(_PROGRAMS, sa.and_(
        _PROGRAMS.c.id == _PAYMENTS.c.program_id,
        _PROGRAMS.c.merchant_id == _PAYMENTS.c.merchant_id)))
    .where(_PAYMENTS.c.id.in_(sa.bindparam("ids", expanding=True)),
           _PAYMENTS.c.merchant_id.in_(sa.bindparam("merchant_id", expanding=True)))
    .order_by(_PAYMENTS.c.id),
    doc="Payments as their events describe them, once crediting wrote their outcome "
        "(with the confirmation's body, which payment.received relays).",
    tenant="merchant_id", form=ANY_OF)

_KEY = ("endpoint_id", "event_type", "source_key")


def insert_deliveries(rows: list[dict[str, Any]],
                      session: Session | None = None) -> list[tuple[int, int]]:
    """INSERT the deliveries, skipping any (endpoint, event type, source) already written,
    on the session's connection (inside the caller's unit of work); the (merchant_id, id)
    of the new ones. A row per statement: only merchants with endpoints pay for it, and
    RETURNING must say which rows were new (a conflict returns nothing)."""
    if not rows:
        return []
    if any(row.get("merchant_id") is None for row in rows):
        raise TenantNotSet("every webhook delivery needs the merchant it belongs to")
    session = session or db.session()
    if session.autoflush:
        session.flush()
    connection = session.connection()
    columns = tuple(rows[0])
    statement = insert_ignore_statement(WebhookDelivery, columns, _KEY, None,
                                        connection.dialect.name)
    new: list[tuple[int, int]] = []
    for row in rows:
        found = connection.execute(statement, row).first()
        if found is not None:
            new.append((row["merchant_id"], found[0]))
    return new
