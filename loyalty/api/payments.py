"""Payments, served as /api/v1/transactions: listing, replay, attaching masked payers,
reversals; analytics."""

from flask_smorest import Blueprint

from loyalty import ratelimits
from loyalty.api.openapi import conflict
from loyalty.ratelimits import limited
from loyalty.schemas.messages import SmsMessagePageSchema, SmsMessageQueryArgsSchema
from loyalty.schemas.payments import (
    AnalyticsArgsSchema,
    AttributeSchema,
    ChannelDayPageSchema,
    ReversalRequestSchema,
    TransactionPageSchema,
    TransactionQueryArgsSchema,
    TransactionSchema,
)
from loyalty.services import crediting, message_log, payments, reversals

blp = Blueprint("transactions", __name__, url_prefix="/api/v1/transactions",
                description="Payments received through the merchant's channels")
analytics_blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics",
                          description="Per-channel figures")


@blp.route("", methods=["GET"])
@blp.arguments(TransactionQueryArgsSchema, location="query")
@blp.response(200, TransactionPageSchema)
def list_payments(args):
    """List payments (transactions), newest first.

    Each with what it earned (`points`, `stamps`, the `reward` its stamp completed), its
    status and, if any, its latest reversal. Filter by channel, status, customer and a
    `from`/`to` window of M-Pesa's transaction time."""
    return payments.list_payments(**args)


@blp.route("/<int:payment_id>/messages", methods=["GET"])
@blp.arguments(SmsMessageQueryArgsSchema, location="query")
@blp.response(200, SmsMessagePageSchema)
def messages(args, payment_id):
    """List the texts about a payment, newest first.

    Its receipt (with the reward text when it completed a stamp card) and its reversal
    notice, each with kind, status, delivery result (`delivered_at` or `failure_reason`)
    and cost when the gateway reported one."""
    return message_log.payment_messages(payment_id, **args)


@blp.route("/<int:payment_id>/replay", methods=["POST"])
@blp.response(200, TransactionSchema)
def replay(payment_id):
    """Credit a payment again.

    Runs crediting again: a failed payment is retried, one kept `skipped` while its channel
    was inactive is credited once the channel is active; a credited payment is left as it
    is (idempotent)."""
    return crediting.replay_payment(payment_id)


@blp.route("/<int:payment_id>/attribute", methods=["POST"])
@blp.arguments(AttributeSchema, example={"phone": "0712345678"})
@blp.response(200, TransactionSchema)
@conflict("`not_unattributed`: only a payment from a masked payer can be attached.")
def attribute(data, payment_id):
    """Attach a masked payer's payment to a phone.

    M-Pesa sometimes masks the payer's number: such a payment is `unattributed` until the
    merchant says whose it is; it is then credited to that customer."""
    return crediting.attribute_payment(payment_id, data["phone"])


@blp.route("/<int:payment_id>/reverse", methods=["POST"])
@limited(ratelimits.reverse)
@blp.arguments(ReversalRequestSchema, example={
    "reason": "Paid twice by mistake", "idempotency_key": "rev-76"})
@blp.response(202, TransactionSchema, description="Sent to M-Pesa: `reversal.state` is "
              "`requested` until its result arrives")
@blp.alt_response(200, schema=TransactionSchema,
                  description="The same idempotency key again, once the result is known")
@conflict("`initiator_missing` (the channel has no API operator), `not_credited`, "
          "`already_reversed`, `reversal_pending` or `idempotency_key_reused`.")
def reverse(data, payment_id):
    """Reverse a payment through M-Pesa.

    Sends (part of) a credited payment back to the payer with M-Pesa's Reversal API. The
    channel needs its initiator (API operator) credentials (409 `initiator_missing`).
    The points are taken back only when M-Pesa's result says the money went back; a result
    of `R000001` (already reversed) or `R000002` (unknown receipt) fails the reversal and
    `reversal.message` says so. At most RATE_LIMIT_CHANNEL_STEPS (10 a minute) per
    payment."""
    payment, _ = reversals.request_reversal(payment_id, **data)
    return payment, 202 if payment.reversal.state == "requested" else 200


@blp.route("/<int:payment_id>/mark-reversed", methods=["POST"])
@blp.arguments(ReversalRequestSchema, example={
    "reason": "Refunded at the counter", "amount": "2500.00", "idempotency_key": "rev-77"})
@blp.response(200, TransactionSchema)
@conflict("`not_credited`, `already_reversed`, `reversal_pending` or "
          "`idempotency_key_reused`.")
def mark_reversed(data, payment_id):
    """Record a reversal done elsewhere.

    For a reversal done by customer care or on the M-PESA portal: takes the points back
    now, in proportion to the amount (the whole payment by default)."""
    return reversals.mark_reversed(payment_id, **data)[0]


@analytics_blp.route("/channels", methods=["GET"])
@analytics_blp.arguments(AnalyticsArgsSchema, location="query")
@analytics_blp.response(200, ChannelDayPageSchema)
def channel_analytics(args):
    """Report payments per channel and day.

    Per channel and Nairobi day: payments, amount, points, unique customers; `from` and `to`
    are dates (default: the last 30 days). One page (`next_cursor` is null)."""
    return payments.analytics_page(**args)
