"""Channel tasks on the `daraja` queue: thin wrappers over loyalty.services.channel_setup.

Verification and URL registration are idempotent (they record the latest outcome), so they
are acks_late and retried with exponential backoff and jitter when Safaricom is
unreachable; the last attempt records a failed state the merchant can see.

Every task here but the fan-out calls Safaricom between reading the channel and recording
the outcome, so it commits those two steps itself (`owns_transaction=False`): a transaction
held open across the HTTP call would stay idle for as long as Safaricom takes.
"""

from __future__ import annotations

import random

from celery import shared_task

from loyalty.background import TaskName
from loyalty.services import channel_setup

MAX_RETRIES = 3


def _backoff(retries: int) -> float:
    return min(60.0, 2.0 ** (retries + 1)) * random.uniform(0.5, 1.0)


def with_retries(task, step, object_id: int) -> None:
    """Run a step that calls Safaricom (a channel's, a reversal's): retried with backoff
    while Safaricom is unreachable; the last attempt records a failure instead."""
    try:
        step(object_id, final_attempt=task.request.retries >= task.max_retries)
    except channel_setup.RETRYABLE as exc:
        raise task.retry(exc=exc, countdown=_backoff(task.request.retries)) from None


@shared_task(name=TaskName.VERIFY_CHANNEL, bind=True, acks_late=True, max_retries=MAX_RETRIES,
             owns_transaction=False)  # calls Safaricom between its steps
def verify(self, merchant_id: int, channel_id: int) -> None:
    with_retries(self, channel_setup.verify_channel, channel_id)


@shared_task(name=TaskName.REGISTER_URLS, bind=True, acks_late=True, max_retries=MAX_RETRIES,
             owns_transaction=False)  # calls Safaricom between its steps
def register_urls(self, merchant_id: int, channel_id: int) -> None:
    with_retries(self, channel_setup.register_urls, channel_id)


@shared_task(name=TaskName.CHECK_HEALTH_BATCH, tenant_bound=False, acks_late=True,
             owns_transaction=False)  # calls Safaricom between each channel's steps
def check_health_batch(pairs: list) -> None:
    channel_setup.check_health_batch(pairs)


@shared_task(name=TaskName.CHECK_ALL_CHANNELS, tenant_bound=False)
def check_all() -> int:
    return channel_setup.schedule_health_checks()
