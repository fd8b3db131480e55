"""Crediting tasks on the `callbacks` queue.

`credit_waiting` drains payments in batches; it is safe to run any number of times at
once (SKIP LOCKED) and again after a crash (a payment is credited only while `received`,
and the ledger's unique index refuses a second earn), hence acks_late.
"""

from __future__ import annotations

import time

from celery import shared_task
from flask import current_app

from loyalty import background, nudge
from loyalty.background import TaskName
from loyalty.services import async_results, crediting, reversals, stk, stk_receipts
from tasks.channels import MAX_RETRIES, with_retries

# One run keeps draining for at most this long, then hands over to a fresh message so a
# worker's other queues (SMS, Daraja) are not starved by a long backlog.
MAX_RUN_SECONDS = 20.0


# Commits each batch on its own (owns_transaction=False): the rows a batch locked with SKIP
# LOCKED are released for the other workers as soon as it is credited, not after the run.
@shared_task(name=TaskName.CREDIT_WAITING, tenant_bound=False, acks_late=True,
             owns_transaction=False)
def credit_waiting() -> int:
    nudge.clear_nudge()
    size = current_app.config["CREDIT_BATCH_SIZE"]
    started, total, helped = time.monotonic(), 0, False
    while True:
        taken = crediting.credit_waiting(limit=size)
        total += taken
        if taken < size:
            return total
        if not helped:  # a backlog: let another worker process share it
            background.publish(TaskName.CREDIT_WAITING)
            helped = True
        if time.monotonic() - started > MAX_RUN_SECONDS:
            background.publish(TaskName.CREDIT_WAITING)
            return total


@shared_task(name=TaskName.STK_PUSH, acks_late=False,
             owns_transaction=False)  # calls Safaricom between its steps
def stk_push(merchant_id: int, request_id: int) -> None:
    # Not acks_late: a redelivered push could prompt (and charge) the customer twice.
    stk.send_stk_push(request_id)


# The follow-ups carry their step: a redelivered or repeated message (a countdown longer
# than the broker's visibility timeout is delivered again) finds it done and does nothing.
# Safaricom being away is not retried here: the next step asks again.
@shared_task(name=TaskName.STK_QUERY, acks_late=True,
             owns_transaction=False)  # calls Safaricom between its steps
def stk_query(merchant_id: int, request_id: int, step: int = 0) -> None:
    stk.query_stk_push(request_id, step)


@shared_task(name=TaskName.STK_FIND_RECEIPT, acks_late=True,
             owns_transaction=False)  # may call Safaricom between its steps
def stk_find_receipt(merchant_id: int, request_id: int, step: int = 0) -> None:
    stk_receipts.find_receipt(request_id, step)


@shared_task(name=TaskName.SWEEP_STK_REQUESTS, tenant_bound=False)
def sweep_stk_requests() -> dict:
    return stk.sweep_requests()


@shared_task(name=TaskName.REVERSE_PAYMENT, bind=True, acks_late=True, max_retries=MAX_RETRIES,
             owns_transaction=False)  # calls Safaricom between its steps
def reverse(self, merchant_id: int, reversal_id: int) -> None:
    # acks_late is safe: a reversal whose request Safaricom acknowledged is never sent
    # again, and one resent after a lost answer is refused as already reversed (R000001).
    with_retries(self, reversals.send_reversal, reversal_id)


# Commits per request (owns_transaction=False): one whose handler fails is logged and
# retried next run without undoing the others.
@shared_task(name=TaskName.GIVE_UP_UNANSWERED, tenant_bound=False, owns_transaction=False)
def give_up_unanswered() -> int:
    config = current_app.config
    return async_results.give_up_unanswered(
        unacknowledged_hours=config["ASYNC_UNANSWERED_HOURS"],
        unanswered_hours=config["ASYNC_NO_RESULT_HOURS"])
