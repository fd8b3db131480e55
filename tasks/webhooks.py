"""Webhook tasks on the `webhooks` queue, apart from crediting: a merchant's server that
answers slowly (up to WEBHOOK_TIMEOUT) holds only this queue's work."""

from __future__ import annotations

from celery import shared_task

from loyalty.background import TaskName
from loyalty.services.webhooks import delivery


# Commits in steps of its own (owns_transaction=False): a delivery is claimed and committed
# before the merchant's server is called, so no transaction is held open across a request
# and no other sender takes the same delivery. acks_late: a delivery whose worker died is
# sent again (receivers deduplicate by the Loyalty-Event-Id header).
@shared_task(name=TaskName.DELIVER_WEBHOOKS, acks_late=True, owns_transaction=False)
def deliver(merchant_id: int, delivery_ids: list, trigger: str = "auto") -> int:
    """Send these deliveries of the merchant (each one due and not held by another)."""
    return delivery.deliver([int(i) for i in delivery_ids], trigger=trigger)


@shared_task(name=TaskName.SWEEP_WEBHOOKS, tenant_bound=False)
def sweep() -> int:
    return delivery.sweep()
