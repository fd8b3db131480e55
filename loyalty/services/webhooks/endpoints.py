"""A merchant's webhook endpoints: registering, changing, rotating the signing secret, and
reading and replaying their deliveries (current merchant throughout)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app

from loyalty.crypto import new_webhook_secret
from loyalty.daraja.url_rules import UrlRuleViolation, check_callback_url
from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import (
    DeliveryStatus,
    EndpointState,
    MpesaChannel,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from loyalty.models.base import utcnow
from loyalty.services.webhooks import events
from loyalty.unit_of_work import transactional

MAX_ENDPOINTS = 10

# Safaricom's words in the merchant's own terms: a webhook URL follows the rules of a
# callback URL, so an address that works here also works if it is ever given to Safaricom.
_RULE_MESSAGES = {
    "https_required": "Webhook URLs must start with https:// in production: deliveries "
                      "carry your customers' payments.",
    "private_address": "Webhook URLs must be a public internet address, not localhost or a "
                       "private network address.",
}


def check_url(url: str) -> None:
    """Refuse a URL the platform must not call: in production the rules of Safaricom's
    callback URLs (https, a public host, none of its forbidden words); elsewhere plain http
    and loopback are allowed too, for local receivers. Never credentials in the URL."""
    production = current_app.config["APP_ENV"] == "production"
    try:
        check_callback_url(url, "production" if production else "sandbox")
    except UrlRuleViolation as exc:
        message = _RULE_MESSAGES.get(exc.rule, str(exc).replace("callback URL", "webhook URL"))
        raise ValidationFailed("This webhook URL cannot be used.", fields={"url": [message]}) \
            from None
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValidationFailed("This webhook URL cannot be used.", fields={"url": [
            "Leave the user name and password out of the URL: deliveries are signed instead "
            "(Loyalty-Signature)."]})


def _check_channel(channel_id: int | None) -> None:
    if channel_id is not None and db.session.scalar(sa.select(MpesaChannel.id).where(
            MpesaChannel.id == channel_id, MpesaChannel.archived_at.is_(None))) is None:
        raise ValidationFailed("Unknown channel.", fields={
            "channel_id": [f"You have no M-Pesa channel {channel_id}."]})


def _events(chosen: list[str]) -> list[str]:
    return sorted(set(chosen))


@transactional
def create_endpoint(*, url: str, events: list[str], description: str | None = None,
                    channel_id: int | None = None) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; (the endpoint, its signing secret, shown this once)."""
    check_url(url)
    _check_channel(channel_id)
    count = db.session.scalar(sa.select(sa.func.count(WebhookEndpoint.id)))
    if count >= MAX_ENDPOINTS:
        raise Conflict(f"You have {MAX_ENDPOINTS} webhook endpoints already: delete one first.",
                       code="too_many_endpoints")
    secret = new_webhook_secret()
    endpoint = WebhookEndpoint(url=url, events=_events(events), description=description,
                               channel_id=channel_id, secret=secret)
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def list_endpoints(*, cursor: int | None = None, limit: int = 50) -> dict[str, Any]:
    """Newest first, keyset-paginated by id: {"items": [...], "next_cursor": id | None}."""
    query = sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(WebhookEndpoint.id < cursor)
    return _page(list(db.session.scalars(query)), limit)


def _page(rows: list, limit: int) -> dict[str, Any]:
    items = rows[:limit]
    return {"items": items, "next_cursor": items[-1].id if len(rows) > limit else None}


def get_endpoint(endpoint_id: int, *, lock: bool = False) -> WebhookEndpoint:
    query = sa.select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)
    endpoint = db.session.scalar(query.with_for_update() if lock else query)
    if endpoint is None:
        raise NotFound("Webhook endpoint not found.")
    return endpoint


def disabled_endpoints() -> list[WebhookEndpoint]:
    """Endpoints the platform disabled after they kept failing (the dashboard's notice)."""
    return list(db.session.scalars(sa.select(WebhookEndpoint).where(
        WebhookEndpoint.state == EndpointState.DISABLED,
        WebhookEndpoint.disabled_reason.is_not(None)).order_by(WebhookEndpoint.id)))


@transactional
def update_endpoint(endpoint_id: int, **changes: Any) -> WebhookEndpoint:
    """Change the URL, events, description, channel or state; enabling an endpoint sends
    what waited while it was disabled."""
    endpoint = get_endpoint(endpoint_id, lock=True)
    if "url" in changes:
        check_url(changes["url"])
    if "channel_id" in changes:
        _check_channel(changes["channel_id"])
    if "events" in changes:
        changes["events"] = _events(changes["events"])
    state = changes.pop("state", None)
    for name, value in changes.items():
        setattr(endpoint, name, value)
    if state is not None and EndpointState(state) != endpoint.state:
        _set_state(endpoint, EndpointState(state))
    db.session.flush()
    return endpoint


def _set_state(endpoint: WebhookEndpoint, state: EndpointState) -> None:
    endpoint.state = state
    if state == EndpointState.DISABLED:
        endpoint.disabled_at, endpoint.disabled_reason = utcnow(), None
        return
    endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
    waiting = db.session.scalars(sa.select(WebhookDelivery.id).where(
        WebhookDelivery.endpoint_id == endpoint.id,
        WebhookDelivery.status == DeliveryStatus.PENDING)).all()
    db.session.execute(sa.update(WebhookDelivery).where(WebhookDelivery.id.in_(waiting))
                       .values(next_attempt_at=utcnow(), claimed_until=None))
    events.queue([(endpoint.merchant_id, i) for i in waiting])


@transactional
def delete_endpoint(endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log."""
    db.session.delete(get_endpoint(endpoint_id, lock=True))
    db.session.flush()


@transactional
def rotate_secret(endpoint_id: int, *, expire_previous_in_hours: float = 24
                  ) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (shown once); the old one keeps signing beside it for
    `expire_previous_in_hours` (0: at once), so receivers can switch over."""
    endpoint = get_endpoint(endpoint_id, lock=True)
    secret = new_webhook_secret()
    if expire_previous_in_hours > 0:
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = utcnow() + timedelta(hours=expire_previous_in_hours)
    else:
        endpoint.previous_secret = endpoint.previous_secret_expires_at = None
    endpoint.secret = secret
    db.session.flush()
    return endpoint, secret


# --- deliveries --------------------------------------------------------------------------


def list_deliveries(endpoint_id: int, *, status: str | None = None, cursor: int | None = None,
                    limit: int = 50) -> dict[str, Any]:
    """An endpoint's deliveries, newest first: {"items": [...], "next_cursor": id | None}."""
    get_endpoint(endpoint_id)
    query = (sa.select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
             .order_by(WebhookDelivery.id.desc()).limit(limit + 1))
    if status is not None:
        query = query.where(WebhookDelivery.status == DeliveryStatus(status))
    if cursor is not None:
        query = query.where(WebhookDelivery.id < cursor)
    return _page(list(db.session.scalars(query)), limit)


def get_delivery(endpoint_id: int, delivery_id: int, *, lock: bool = False) -> WebhookDelivery:
    query = sa.select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                             WebhookDelivery.endpoint_id == endpoint_id)
    delivery = db.session.scalar(query.with_for_update() if lock else query)
    if delivery is None:
        raise NotFound("Webhook delivery not found.")
    return delivery


def delivery_detail(endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """A delivery with its `attempt_log` (every request and its answer, oldest first)."""
    delivery = get_delivery(endpoint_id, delivery_id)
    delivery.attempt_log = attempt_logs([delivery_id]).get(delivery_id, [])
    return delivery


def attempt_logs(delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    """The attempts of these deliveries, oldest first, by delivery id (one query)."""
    logs: dict[int, list[WebhookAttempt]] = {}
    for attempt in db.session.scalars(sa.select(WebhookAttempt).where(
            WebhookAttempt.delivery_id.in_(delivery_ids)).order_by(WebhookAttempt.id)):
        logs.setdefault(attempt.delivery_id, []).append(attempt)
    return logs


@transactional
def replay_delivery(endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again now (the same event id and body, signed afresh)."""
    endpoint = get_endpoint(endpoint_id)
    if endpoint.state != EndpointState.ACTIVE:
        raise Conflict("This endpoint is disabled: enable it first, then replay.",
                       code="endpoint_disabled")
    delivery = get_delivery(endpoint_id, delivery_id, lock=True)
    if delivery.claimed_until is not None and delivery.claimed_until > utcnow():
        raise Conflict("This delivery is being sent right now; look again in a moment.",
                       code="delivery_in_flight")
    delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, utcnow()
    db.session.flush()
    events.queue([(delivery.merchant_id, delivery.id)], trigger="replay")
    return delivery


@transactional
def send_test(endpoint_id: int) -> WebhookDelivery:
    """Queue a signed `webhook.test` event to this endpoint."""
    endpoint = get_endpoint(endpoint_id)
    if endpoint.state != EndpointState.ACTIVE:
        raise Conflict("This endpoint is disabled: enable it first.", code="endpoint_disabled")
    [(_, delivery_id)] = events.write([events.test_row(endpoint)])
    return get_delivery(endpoint_id, delivery_id)
