"""Payments, served as /api/v1/transactions: listing, replay, attaching masked payers,
reversals; analytics."""

from flask_smorest import Blueprint

from loyalty import ratelimits
from loyalty.ratelimits import limited
from loyalty.schemas.payments import (
    AnalyticsArgsSchema,
    AttributeSchema,
    ChannelDayPageSchema,
    ReversalRequestSchema,
    TransactionPageSchema,
    TransactionQueryArgsSchema,
    TransactionSchema,
)
from loyalty.services import crediting, payments, reversals

blp = Blueprint("transactions", __name__, url_prefix="/api/v1/transactions",
                description="Payments received through the merchant's channels")
analytics_blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics",
                          description="Per-channel figures")


@blp.route("", methods=["GET"])
@blp.arguments(TransactionQueryArgsSchema, location="query")
@blp.response(200, TransactionPageSchema)
def list_payments(args):
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    return payments.list_payments(**args)


@blp.route("/<int:payment_id>/replay", methods=["POST"])
@blp.response(200, TransactionSchema)
def replay(payment_id):
    """Run crediting again; a credited payment is left as it is (idempotent)."""
    return crediting.replay_payment(payment_id)


@blp.route("/<int:payment_id>/attribute", methods=["POST"])
@blp.arguments(AttributeSchema)
@blp.response(200, TransactionSchema)
def attribute(data, payment_id):
    """Attach an unattributed (masked payer) payment to a phone and credit it."""
    return crediting.attribute_payment(payment_id, data["phone"])


@blp.route("/<int:payment_id>/reverse", methods=["POST"])
@limited(ratelimits.reverse)
@blp.arguments(ReversalRequestSchema)
@blp.response(202, TransactionSchema, description="Sent to M-Pesa: `reversal.state` is "
              "`requested` until its result arrives")
@blp.alt_response(200, schema=TransactionSchema,
                  description="The same idempotency key again, once the result is known")
def reverse(data, payment_id):
    """Send (part of) a credited payment back to the payer with M-Pesa's Reversal API.

    The channel needs its initiator (API operator) credentials (409 `initiator_missing`).
    The points are taken back only when M-Pesa's result says the money went back; a result
    of `R000001` (already reversed) or `R000002` (unknown receipt) fails the reversal and
    `reversal.message` says so. At most RATE_LIMIT_CHANNEL_STEPS (10 a minute) per
    payment."""
    payment, _ = reversals.request_reversal(payment_id, **data)
    return payment, 202 if payment.reversal.state == "requested" else 200


@blp.route("/<int:payment_id>/mark-reversed", methods=["POST"])
@blp.arguments(ReversalRequestSchema)
@blp.response(200, TransactionSchema)
def mark_reversed(data, payment_id):
    """Record a reversal done elsewhere (customer care, the M-PESA portal) and take the
    points back now, in proportion to the amount (the whole payment by default)."""
    return reversals.mark_reversed(payment_id, **data)[0]


@analytics_blp.route("/channels", methods=["GET"])
@analytics_blp.arguments(AnalyticsArgsSchema, location="query")
@analytics_blp.response(200, ChannelDayPageSchema)
def channel_analytics(args):
    """Per channel and day (Nairobi time): payments, amount, points, unique customers."""
    return payments.analytics_page(**args)
