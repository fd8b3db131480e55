"""The callback log: bodies sent to the merchant's channels that did not become payments,
and replaying a stored confirmation or STK result."""

from flask_smorest import Blueprint

from loyalty.api.openapi import conflict
from loyalty.schemas.callback_log import CallbackLogPageSchema, CallbackLogQueryArgsSchema
from loyalty.schemas.payments import TransactionSchema
from loyalty.services import callback_review

blp = Blueprint("callback_log", __name__, url_prefix="/api/v1/callback-log",
                description="What Safaricom sent that did not become a payment")


@blp.route("", methods=["GET"])
@blp.arguments(CallbackLogQueryArgsSchema, location="query")
@blp.response(200, CallbackLogPageSchema)
def list_entries(args):
    """List the callback log, newest first.

    What Safaricom sent to the merchant's channels that did not become a payment: bodies
    refused (with the reason), async results, late STK callbacks. Filter by `channel_id`,
    `kind` and a `from`/`to` window."""
    return callback_review.list_entries(**args)


@blp.route("/<int:entry_id>/replay", methods=["POST"])
@blp.response(200, TransactionSchema, description="The payment the body produced")
@blp.alt_response(422, description="Not what Safaricom sends, or another business's shortcode")
@conflict("Not a payment: another kind of body (`not_replayable`), a body kept only in part "
          "(`body_truncated`), a channel that is gone (`channel_gone`), a push that had "
          "settled already or that failed.")
def replay(entry_id):
    """Replay a stored callback body.

    Feeds a stored C2B confirmation or STK result through the normal path; replaying it
    again finds the same payment (credited once). 422 when the body is not what Safaricom
    sends or names another business's shortcode."""
    return callback_review.replay_entry(entry_id)
