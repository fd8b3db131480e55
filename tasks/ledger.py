"""Daily points expiry: a fan-out over merchants, then one task per merchant."""

from __future__ import annotations

from celery import shared_task

from loyalty.background import TaskName
from loyalty.services import expiry


@shared_task(name=TaskName.EXPIRE_ALL_POINTS, tenant_bound=False)
def expire_all() -> int:
    return expiry.schedule_expiry()


@shared_task(name=TaskName.EXPIRE_POINTS, acks_late=True)
def expire_points(merchant_id: int) -> int:
    return expiry.expire_merchant_points()
