"""SMS tasks on the `sms` queue: send from the outbox, retrying the gateway with backoff."""

from __future__ import annotations

import random

from celery import shared_task

from loyalty.background import TaskName
from loyalty.services import messages

MAX_RETRIES = 5


def backoff(retries: int) -> float:
    """Seconds before the next try: doubling, at most 5 minutes, and jittered (half to all
    of it), so senders turned away together (a 429, a gateway outage) do not all come back
    at the same moment."""
    return min(300.0, 2.0 ** (retries + 1)) * random.uniform(0.5, 1.0)


# Commits in steps of its own (owns_transaction=False): each chunk's claim is committed
# before the gateway is called, so no other sender takes the same texts, and outcomes are
# committed as they come, which bounds what a crashed worker would send twice.
@shared_task(name=TaskName.SEND_SMS_BATCH, bind=True, tenant_bound=False, acks_late=True,
             max_retries=MAX_RETRIES, owns_transaction=False)
def send_batch(self, pairs: list) -> None:
    """Send these (merchant id, message id) pairs."""
    final = self.request.retries >= self.max_retries
    # Drained texts are first tries of their own: never taken on by a last attempt, which
    # would fail them at the first refusal.
    retry = messages.send_batch([tuple(pair) for pair in pairs], final_attempt=final,
                                drain=not final)
    if retry and final:
        # Only messages never tried on this last run (the gateway went down first): still
        # queued and unclaimed, so the outbox sweep gives them a task of their own.
        return
    if retry:
        raise self.retry(args=(retry,), countdown=backoff(self.request.retries))


@shared_task(name=TaskName.SWEEP_SMS_OUTBOX, tenant_bound=False)
def sweep_outbox() -> int:
    return messages.sweep_outbox()
