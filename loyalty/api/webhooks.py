"""Webhook endpoints: the merchant's own URLs that receive signed events (docs/WEBHOOKS.md),
and each endpoint's delivery log."""

from __future__ import annotations

from flask_smorest import Blueprint

from loyalty.api.openapi import conflict
from loyalty.schemas.base import PageArgsSchema
from loyalty.schemas.webhooks import (
    DeliveryDetailSchema,
    DeliveryPageSchema,
    DeliveryQueryArgsSchema,
    DeliverySchema,
    EndpointCreateSchema,
    EndpointPageSchema,
    EndpointSchema,
    EndpointUpdateSchema,
    EndpointWithSecretSchema,
    RotateSecretSchema,
)
from loyalty.services.webhooks import endpoints as service

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhook-endpoints",
                description="Signed events to your own systems: payments as Safaricom "
                            "confirmed them, credits, reversals, channel status, failed texts")

# 400/401/404/415/422 and 429 are declared for every operation by api/openapi.py and
# ratelimits.OpenApiLimits; a 409 only where a view says it can happen.
_CONFLICT = "Not possible in the endpoint's current state (or at 10 endpoints); " \
            "`error.message` says why."


def _with_secret(result) -> dict:
    endpoint, secret = result
    return {"endpoint": endpoint, "secret": secret}


@blp.route("", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, EndpointPageSchema)
def list_endpoints(args):
    """List webhook endpoints

    Newest first, `{"items": [...], "next_cursor": …}`; pass `next_cursor` back as
    `cursor` for the next page."""
    return service.list_endpoints(**args)


@blp.route("", methods=["POST"])
@blp.arguments(EndpointCreateSchema)
@blp.response(201, EndpointWithSecretSchema)
@conflict(_CONFLICT)
def create_endpoint(args):
    """Register a webhook endpoint

    The answer holds the signing secret, shown only this once: verify each delivery's
    `Loyalty-Signature` with it (docs/WEBHOOKS.md). At most 10 endpoints (409)."""
    return _with_secret(service.create_endpoint(**args))


@blp.route("/<int:endpoint_id>", methods=["GET"])
@blp.response(200, EndpointSchema)
def get_endpoint(endpoint_id):
    """Get a webhook endpoint

    With its state: `disabled` with `disabled_reason` after failing for days."""
    return service.get_endpoint(endpoint_id)


@blp.route("/<int:endpoint_id>", methods=["PATCH"])
@blp.arguments(EndpointUpdateSchema)
@blp.response(200, EndpointSchema)
def update_endpoint(args, endpoint_id):
    """Change a webhook endpoint

    URL, events, description, channel; `state: "active"` enables it again and sends what
    waited meanwhile."""
    return service.update_endpoint(endpoint_id, **args)


@blp.route("/<int:endpoint_id>", methods=["DELETE"])
@blp.response(204)
def delete_endpoint(endpoint_id):
    """Delete a webhook endpoint

    Its delivery log goes with it; nothing more is sent to it."""
    service.delete_endpoint(endpoint_id)


@blp.route("/<int:endpoint_id>/rotate-secret", methods=["POST"])
@blp.arguments(RotateSecretSchema)
@blp.response(200, EndpointWithSecretSchema)
def rotate_secret(args, endpoint_id):
    """Rotate the signing secret

    A new secret, shown only this once; the old one keeps signing beside it (a second
    `v1` in `Loyalty-Signature`) for `expire_previous_in_hours` (default 24)."""
    return _with_secret(service.rotate_secret(endpoint_id, **args))


@blp.route("/<int:endpoint_id>/test", methods=["POST"])
@blp.response(202, DeliverySchema)
@conflict(_CONFLICT)
def send_test(endpoint_id):
    """Send a test event

    A signed `webhook.test` event, whatever events the endpoint chose; its outcome is in
    the delivery log."""
    return service.send_test(endpoint_id)


@blp.route("/<int:endpoint_id>/deliveries", methods=["GET"])
@blp.arguments(DeliveryQueryArgsSchema, location="query")
@blp.response(200, DeliveryPageSchema)
def list_deliveries(args, endpoint_id):
    """List an endpoint's deliveries

    The delivery log, newest first: each event with its status, attempts and your
    endpoint's last HTTP status code."""
    return service.list_deliveries(endpoint_id, **args)


@blp.route("/<int:endpoint_id>/deliveries/<int:delivery_id>", methods=["GET"])
@blp.response(200, DeliveryDetailSchema)
def get_delivery(endpoint_id, delivery_id):
    """Get a delivery

    With the exact body sent and every attempt's answer."""
    return service.delivery_detail(endpoint_id, delivery_id)


@blp.route("/<int:endpoint_id>/deliveries/<int:delivery_id>/replay", methods=["POST"])
@blp.response(202, DeliverySchema)
@conflict(_CONFLICT)
def replay_delivery(endpoint_id, delivery_id):
    """Replay a delivery

    Sends the same event (same id and body, signed afresh) again now, whatever its
    status; 409 while the endpoint is disabled or the delivery is being sent."""
    return service.replay_delivery(endpoint_id, delivery_id)
