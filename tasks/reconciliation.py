"""Reconciliation tasks: Pull registration and runs on the `daraja` queue (they call
Safaricom), the beat fan-out on `callbacks` (it only lists channels and queues runs).

Registration and runs call Safaricom between steps that commit on their own (a run
commits each page with its counts), so they opt out of the task's transaction
(`owns_transaction=False`): none holds a transaction across an HTTP call. The fan-out
owns its transaction, as every task does by default.
"""

from __future__ import annotations

from celery import shared_task

from loyalty.background import TaskName
from loyalty.services import reconciliation
from tasks.channels import MAX_RETRIES, with_retries


@shared_task(name=TaskName.REGISTER_PULL, bind=True, acks_late=True, max_retries=MAX_RETRIES,
             owns_transaction=False)  # calls Safaricom between its steps
def register_pull(self, merchant_id: int, channel_id: int) -> None:
    with_retries(self, reconciliation.register_pull, channel_id)


# acks_late: a run killed half way is delivered again and resumes after its last page
# (every page is committed with the run's counts; inserts are idempotent).
@shared_task(name=TaskName.RECONCILE_CHANNEL, acks_late=True,
             owns_transaction=False)  # commits page by page, calling Safaricom between
def reconcile(merchant_id: int, run_id: int) -> None:
    reconciliation.reconcile(run_id)


@shared_task(name=TaskName.RECONCILE_ALL, tenant_bound=False)
def reconcile_all() -> int:
    return reconciliation.schedule_reconciliations()
