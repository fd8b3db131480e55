"""M-Pesa Express requests (STK pushes), looked up after the push's 202."""

from flask_smorest import Blueprint

from loyalty.schemas.payments import (
    PaymentRequestPageSchema,
    PaymentRequestQueryArgsSchema,
    PaymentRequestSchema,
)
from loyalty.services import stk

blp = Blueprint("payment_requests", __name__, url_prefix="/api/v1/payment-requests",
                description="M-Pesa Express prompts sent to customers' phones")


@blp.route("", methods=["GET"])
@blp.arguments(PaymentRequestQueryArgsSchema, location="query")
@blp.response(200, PaymentRequestPageSchema)
def list_requests(args):
    """List M-Pesa Express prompts, newest first.

    Filter by `channel_id` and `status` (pending, succeeded, failed, cancelled, expired);
    pass `next_cursor` back as `cursor` for the next page."""
    return stk.list_payment_requests(**args)


@blp.route("/<int:request_id>", methods=["GET"])
@blp.response(200, PaymentRequestSchema)
def get(request_id):
    """Show an M-Pesa Express prompt.

    Where a prompt stands: `pending`, then `succeeded` (with its `receipt` and `payment_id`
    once known), `failed`, `cancelled` or `expired`, which never changes; `result_code` and
    `result_desc` are Safaricom's."""
    return stk.get_payment_request(request_id)
