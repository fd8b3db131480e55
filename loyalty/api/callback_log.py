"""The callback log: bodies sent to the merchant's channels that did not become payments,
and replaying a stored confirmation or STK result."""

from flask_smorest import Blueprint

from loyalty.schemas.callback_log import CallbackLogPageSchema, CallbackLogQueryArgsSchema
from loyalty.schemas.payments import TransactionSchema
from loyalty.services import callback_review

blp = Blueprint("callback_log", __name__, url_prefix="/api/v1/callback-log",
                description="What Safaricom sent that did not become a payment")


@blp.route("", methods=["GET"])
@blp.arguments(CallbackLogQueryArgsSchema, location="query")
@blp.response(200, CallbackLogPageSchema)
def list_entries(args):
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    return callback_review.list_entries(**args)


@blp.route("/<int:entry_id>/replay", methods=["POST"])
@blp.response(200, TransactionSchema, description="The payment the body produced")
@blp.alt_response(409, description="Not a payment: another kind of body, a push that had "
                  "settled already, or one that failed")
@blp.alt_response(422, description="Not what Safaricom sends, or another business's shortcode")
def replay(entry_id):
    """Feed a stored C2B confirmation or STK result through the normal path; replaying it
    again finds the same payment (credited once)."""
    return callback_review.replay_entry(entry_id)
