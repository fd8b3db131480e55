"""The SMS outbox sweep: messages left `queued` get another send task.

A send task can be lost: Redis was unreachable when the crediting commit tried to publish
it, or the worker holding it died (Redis redelivers unacknowledged messages only after the
visibility timeout). Payments have the same safety net in the `received` sweep. Sending
claims each row first (notifications._queued), so a swept message is never sent twice.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from loyalty import background
from loyalty.background import TaskName
from loyalty.extensions import db
from loyalty.models import SmsMessage, SmsStatus
from loyalty.models.base import utcnow
from loyalty.tenancy import all_merchants

BATCH = 100


def sweep_outbox(limit: int = 2000) -> int:
    """Beat (its task owns the transaction): queue send tasks for messages waiting longer than SMS_SWEEP_AGE and not claimed."""
    now = utcnow()
    older_than = now - timedelta(seconds=current_app.config["SMS_SWEEP_AGE"])
    with all_merchants():  # lists ids only; sending runs as each message's merchant
        rows = db.session.execute(
            sa.select(SmsMessage.merchant_id, SmsMessage.id)
            .where(SmsMessage.status == SmsStatus.QUEUED, SmsMessage.updated_at < older_than,
                   sa.or_(SmsMessage.claimed_until.is_(None), SmsMessage.claimed_until < now))
            .order_by(SmsMessage.id).limit(limit)).all()
    pairs = [[merchant_id, message_id] for merchant_id, message_id in rows]
    for start in range(0, len(pairs), BATCH):
        background.enqueue(TaskName.SEND_SMS_BATCH, pairs[start:start + BATCH])
    return len(pairs)
