"""Crediting stored payments: routing, customers, the ledger and the SMS outbox.

Workers drain waiting payments in batches: `SELECT … FOR UPDATE SKIP LOCKED` lets several
worker processes share a backlog without waiting on each other, and the batch commits once.

- rules.py: the earning rule in one copy, pure (settle, earn, apply to the balance, the
  receipt's text);
- single.py: one payment through the ORM (replays, attributions, SQLite for `make run`,
  and a batch that could not be written set-wise);
- batch.py: a batch set-wise on PostgreSQL, one statement per table (loyalty/db/crediting.py).

Both paths call the same rules, so a change to what a payment earns is made in rules.py.
"""

from __future__ import annotations

from flask import current_app

from loyalty import background
from loyalty.background import TaskName
from loyalty.extensions import db
from loyalty.services.crediting import batch, rules, single
from loyalty.services.crediting.rules import Earned, Route
from loyalty.services.crediting.single import (
    attribute_payment,
    credit_and_text,
    credit_payment,
    replay_payment,
    route_payment,
)
from loyalty.unit_of_work import unit_of_work

__all__ = ["Earned", "Route", "attribute_payment", "credit_and_text",
           "credit_payment", "credit_waiting", "replay_payment", "route_payment", "rules"]


def credit_waiting(limit: int | None = None) -> int:
    """Worker: credit up to `limit` (CREDIT_BATCH_SIZE) waiting payments of any merchant;
    how many were taken."""
    limit = limit or current_app.config["CREDIT_BATCH_SIZE"]
    sms: list[tuple[int, int]] = []
    with unit_of_work():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            taken, sms = batch.credit_batch(connection, limit)
        else:
            taken = single.credit_one_by_one(limit, sms)
        if sms:
            background.enqueue(TaskName.SEND_SMS_BATCH, sms)
    return taken
