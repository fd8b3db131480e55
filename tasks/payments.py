"""Crediting tasks on the `callbacks` queue.

`credit_waiting` drains payments in batches; it is safe to run any number of times at
once (SKIP LOCKED) and again after a crash (a payment is credited only while `received`,
and the ledger's unique index refuses a second earn), hence acks_late.
"""

from __future__ import annotations

import time

from celery import shared_task

from loyalty import background
from loyalty.background import TaskName
from loyalty.services import crediting

# One run keeps draining for at most this long, then hands over to a fresh message so a
# worker's other queues (SMS, Daraja) are not starved by a long backlog.
MAX_RUN_SECONDS = 20.0


@shared_task(name=TaskName.CREDIT_WAITING, tenant_bound=False, acks_late=True)
def credit_waiting() -> int:
    background.clear_nudge()
    started, total, helped = time.monotonic(), 0, False
    while True:
        taken = crediting.credit_waiting()
        total += taken
        if taken < crediting.BATCH_SIZE:
            return total
        if not helped:  # a backlog: let another worker process share it
            background.publish(TaskName.CREDIT_WAITING)
            helped = True
        if time.monotonic() - started > MAX_RUN_SECONDS:
            background.publish(TaskName.CREDIT_WAITING)
            return total
