"""Sending webhook deliveries (the `webhooks` queue), retrying them, and giving up.

A delivery is claimed (`claimed_until`) and committed before its request is sent, so the
sweep and a redelivered task never send it twice at once; the request runs outside any
transaction; its outcome is written in a unit of work of its own. Deliveries have their own
queue so a slow merchant server (up to WEBHOOK_TIMEOUT per request) never delays crediting.

Retries: exponential backoff with jitter (WEBHOOK_RETRY_BASE_SECONDS doubling, at most
6 h apart) for WEBHOOK_RETRY_HOURS after the event (3 days); then the delivery is `failed`
(replayable). An endpoint with no successful delivery for WEBHOOK_RETRY_HOURS is disabled,
with the reason shown on it and on the dashboard, until the merchant enables it again.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import timedelta

import requests
import sqlalchemy as sa
from flask import current_app

from loyalty import webhook_http
from loyalty.background import TaskName, enqueue
from loyalty.db import webhooks as sql
from loyalty.errors import Conflict, NotFound
from loyalty.extensions import db
from loyalty.models import (
    DeliveryStatus,
    EndpointState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from loyalty.models.base import utcnow
from loyalty.services.webhooks import events
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

MAX_DELAY = 6 * 3600
# A retry sooner than this is a task with a countdown (well under the broker's visibility
# timeout, 1,200 s); a later one is left to the sweep, which runs every minute or so.
COUNTDOWN_MAX = 600


@dataclass(frozen=True)
class Claimed:
    id: int
    merchant_id: int
    event_id: str
    event_type: str
    body: str
    attempt: int
    url: str
    secrets: list[str]


def backoff(attempt: int) -> float:
    """Seconds before the next try after `attempt` failed: base x 2^(attempt-1), at most
    6 h, times a jitter of ±20% so endpoints that failed together do not retry together."""
    base = current_app.config["WEBHOOK_RETRY_BASE_SECONDS"]
    return min(base * 2 ** (attempt - 1), MAX_DELAY) * random.uniform(0.8, 1.2)


def _http() -> requests.Session:
    session = current_app.extensions.get("webhook_http")
    if session is None:
        session = current_app.extensions["webhook_http"] = requests.Session()
    return session


def deliver(delivery_ids: list[int], *, trigger: str = "auto") -> int:
    """Worker (current merchant): send each of these deliveries that is due and not held
    by another sender; how many were sent."""
    sent = 0
    for delivery_id in delivery_ids:
        claimed = _claim(delivery_id)
        if claimed is None:
            continue  # delivered, not due, held by another sender, or its endpoint disabled
        outcome = send(claimed)
        with unit_of_work():
            _record(claimed, outcome, trigger)
        sent += 1
    return sent


def send(claimed: Claimed) -> webhook_http.Outcome:
    """One signed request (no transaction is open meanwhile)."""
    headers = webhook_http.headers_for(event_id=claimed.event_id, event_type=claimed.event_type,
                                       attempt=claimed.attempt, secrets=claimed.secrets,
                                       body=claimed.body)
    outcome = webhook_http.post(_http(), claimed.url, claimed.body, headers,
                                timeout=current_app.config["WEBHOOK_TIMEOUT"],
                                public_only=current_app.config["APP_ENV"] == "production")
    log.info("webhook %s (%s) attempt %d: %s in %d ms", claimed.event_id, claimed.event_type,
             claimed.attempt, outcome.status_code or outcome.error, outcome.duration_ms)
    return outcome


def _claim(delivery_id: int) -> Claimed | None:
    now = utcnow()
    with unit_of_work():
        delivery = db.session.scalar(
            sa.select(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
                sa.or_(WebhookDelivery.claimed_until.is_(None),
                       WebhookDelivery.claimed_until < now))
            .with_for_update(skip_locked=True))
        if delivery is None:
            return None
        endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
        if endpoint.state != EndpointState.ACTIVE:
            return None
        delivery.claimed_until = now + timedelta(
            seconds=current_app.config["WEBHOOK_TIMEOUT"] * 2 + 30)
        return Claimed(delivery.id, delivery.merchant_id, delivery.event_id,
                       delivery.event_type, delivery.body, delivery.attempts + 1,
                       endpoint.url, signing_secrets(endpoint, now))


def signing_secrets(endpoint: WebhookEndpoint, now) -> list[str]:
    """The current secret, and the previous one while it is still honoured."""
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at \
            and endpoint.previous_secret_expires_at > now:
        secrets.append(endpoint.previous_secret)
    return secrets


def _record(claimed: Claimed, outcome: webhook_http.Outcome, trigger: str) -> None:
    now = utcnow()
    delivery = db.session.get(WebhookDelivery, claimed.id, with_for_update=True)
    if delivery is None:
        return  # the merchant deleted the endpoint (and its log) while it was being sent
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id, with_for_update=True)
    db.session.add(WebhookAttempt(
        merchant_id=delivery.merchant_id, delivery_id=delivery.id, number=claimed.attempt,
        trigger=trigger, requested_at=now - timedelta(milliseconds=outcome.duration_ms),
        status_code=outcome.status_code, error=outcome.error, duration_ms=outcome.duration_ms))
    delivery.attempts = claimed.attempt
    delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
    delivery.last_attempt_at, delivery.claimed_until = now, None
    if outcome.ok:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
        endpoint.failing_since, endpoint.last_success_at = None, now
        return
    endpoint.last_failure_at = now
    endpoint.failing_since = endpoint.failing_since or now
    window = timedelta(hours=current_app.config["WEBHOOK_RETRY_HOURS"])
    if now - delivery.created_at >= window:
        delivery.status = DeliveryStatus.FAILED
    else:
        delay = backoff(delivery.attempts)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        if delay <= COUNTDOWN_MAX:
            enqueue(TaskName.DELIVER_WEBHOOKS, delivery.merchant_id, [delivery.id], "auto",
                    countdown=delay)
    if endpoint.state == EndpointState.ACTIVE and now - endpoint.failing_since >= window:
        _disable(endpoint, now, window)


def _disable(endpoint: WebhookEndpoint, now, window: timedelta) -> None:
    endpoint.state, endpoint.disabled_at = EndpointState.DISABLED, now
    hours = int(window.total_seconds() // 3600)
    endpoint.disabled_reason = (
        f"Disabled automatically: no delivery to {endpoint.url} succeeded for {hours} hours "
        f"(failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC). Fix the receiver, then "
        "enable the endpoint again: the deliveries still waiting are sent then.")
    log.warning("webhook endpoint %s disabled after failing for %d hours", endpoint.id, hours)


def sweep(limit: int = 1000) -> int:
    """Beat: queue the deliveries that are due (retries, and sends whose task was lost)."""
    now = utcnow()
    with all_merchants():  # lists ids only; each delivery is sent as its merchant
        rows = db.session.execute(
            sa.select(WebhookDelivery.merchant_id, WebhookDelivery.id)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING,
                   WebhookDelivery.next_attempt_at <= now,
                   sa.or_(WebhookDelivery.claimed_until.is_(None),
                          WebhookDelivery.claimed_until < now),
                   WebhookEndpoint.state == EndpointState.ACTIVE)
            .order_by(WebhookDelivery.next_attempt_at).limit(limit)).all()
    events.queue([(merchant_id, delivery_id) for merchant_id, delivery_id in rows])
    return len(rows)


def send_test_now(endpoint_id: int) -> WebhookDelivery:
    """`flask webhooks test`: a signed webhook.test event to this endpoint of any merchant,
    sent from this process now; the delivery with its outcome."""
    with all_merchants():  # the operator names an endpoint, not a merchant
        merchant_id = db.session.scalar(sa.select(WebhookEndpoint.merchant_id).where(
            WebhookEndpoint.id == endpoint_id))
    if merchant_id is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.")
    with tenant_context(merchant_id):
        with unit_of_work():
            endpoint = db.session.get(WebhookEndpoint, endpoint_id)
            if endpoint.state != EndpointState.ACTIVE:
                raise Conflict(f"Webhook endpoint {endpoint_id} is disabled: enable it first.",
                               code="endpoint_disabled")
            [(_, delivery_id)] = sql.insert_deliveries([events.test_row(endpoint)])
        deliver([delivery_id])
        with unit_of_work():
            return db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
