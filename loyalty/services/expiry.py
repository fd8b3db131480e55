"""Points expiry across merchants (beat, daily; the tasks own their transactions)."""

from __future__ import annotations

import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.extensions import db
from loyalty.models import LoyaltyProgram
from loyalty.services.ledger import expire_points
from loyalty.tenancy import all_merchants


def schedule_expiry() -> int:
    """Queue one expiry run per merchant that has a program with points_expiry_days."""
    with all_merchants():
        merchant_ids = db.session.scalars(sa.select(LoyaltyProgram.merchant_id).where(
            LoyaltyProgram.points_expiry_days.is_not(None)).distinct()).all()
    for merchant_id in merchant_ids:
        background.enqueue(TaskName.EXPIRE_POINTS, merchant_id)
    return len(merchant_ids)


def expire_merchant_points() -> int:
    return expire_points()
