"""The callback log: bodies sent to the merchant's channels that did not become payments,
and replaying a stored confirmation or STK result."""

from flask import jsonify
from flask_smorest import Blueprint

from loyalty.api.openapi import conflict
from loyalty.schemas.callback_log import (
    CallbackLogPageSchema,
    CallbackLogQueryArgsSchema,
    CallbackReplaySchema,
)
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
# anyOf, not oneOf: a Transaction's fields are all optional, so an envelope would match
# both. The envelope first, its fields required: a generated client tries it first.
@blp.response(200, {"anyOf": [CallbackReplaySchema, TransactionSchema]},
              description="A payment's body: the payment it produced (a Transaction). An async "
                          "result or timeout: what applying it did (a CallbackReplay).")
@blp.alt_response(422, description="Not what Safaricom sends, or another business's shortcode")
@conflict("Not replayable: a C2B validation (`not_replayable`), a body kept only in part "
          "(`body_truncated`), a channel that is gone (`channel_gone`), a push that had "
          "settled already or that failed.")
def replay(entry_id):
    """Replay a stored callback body.

    Feeds a stored C2B confirmation or STK result through the normal path and answers its
    payment; replaying it again finds the same payment (credited once). A stored balance,
    status or reversal result (or queue timeout) is applied to the request that asked, as
    when it came, and the answer says whether it was (`applied`, else the `note`);
    replaying it again applies nothing. 422 when the body is not what Safaricom sends or
    names another business's shortcode."""
    replayed = callback_review.replay_entry(entry_id)
    if isinstance(replayed, callback_review.ResultReplay):
        return jsonify(CallbackReplaySchema().dump(replayed))
    return jsonify(TransactionSchema().dump(replayed))
