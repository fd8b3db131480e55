"""Payments, served as /api/v1/transactions: listing, replay, attaching masked payers;
analytics."""

from flask_smorest import Blueprint

from loyalty.schemas.payments import (
    AnalyticsArgsSchema,
    AttributeSchema,
    ChannelDaySchema,
    TransactionPageSchema,
    TransactionQueryArgsSchema,
    TransactionSchema,
)
from loyalty.services import crediting, transactions

blp = Blueprint("transactions", __name__, url_prefix="/api/v1/transactions",
                description="Payments received through the merchant's channels")
analytics_blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics",
                          description="Per-channel figures")


@blp.route("", methods=["GET"])
@blp.arguments(TransactionQueryArgsSchema, location="query")
@blp.response(200, TransactionPageSchema)
def list_transactions(args):
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    return transactions.list_transactions(**args)


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


@analytics_blp.route("/channels", methods=["GET"])
@analytics_blp.arguments(AnalyticsArgsSchema, location="query")
@analytics_blp.response(200, ChannelDaySchema(many=True))
def channel_analytics(args):
    """Per channel and day (Nairobi time): payments, amount, points, unique customers."""
    return transactions.channel_analytics(**args)
