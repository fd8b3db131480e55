"""Retention of the callback log: beat deletes rows older than CALLBACK_LOG_RETENTION_DAYS."""

from __future__ import annotations

from celery import shared_task
from flask import current_app

from loyalty.background import TaskName
from loyalty.services import callback_log


# Commits a batch of deletes at a time (owns_transaction=False): a purge of months of
# callbacks never holds one long transaction.
@shared_task(name=TaskName.PURGE_CALLBACK_LOG, tenant_bound=False, owns_transaction=False)
def purge_callback_log() -> int:
    return callback_log.purge_older_than(current_app.config["CALLBACK_LOG_RETENTION_DAYS"])
