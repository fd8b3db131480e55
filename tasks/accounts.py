"""Merchant account tasks on the `default` queue."""

from __future__ import annotations

from celery import shared_task

from loyalty.background import TaskName
from loyalty.services import passwords


@shared_task(name=TaskName.SEND_PASSWORD_RESET, tenant_bound=False)
def send_password_reset(email: str) -> None:
    # Not bound to a merchant: the email may belong to none, and the request that queued
    # this answered the same either way.
    passwords.send_reset_code(email)
