"""The callback log: what Safaricom sent to the merchant's channels that is not a payment."""

from marshmallow import fields, validate

from loyalty.schemas.base import BaseSchema
from loyalty.schemas.payments import TransactionSchema


class CallbackLogQueryArgsSchema(BaseSchema):
    channel_id = fields.Integer(validate=validate.Range(min=1))
    kind = fields.String(validate=validate.Length(1, 40), metadata={
        "description": "c2b_confirmation, c2b_validation, stk_result, result_balance, "
                       "result_status, result_reversal, timeout_balance, timeout_status, "
                       "timeout_reversal"})
    since = fields.DateTime(data_key="from")
    until = fields.DateTime(data_key="to")
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.Integer(validate=validate.Range(min=1),
                            metadata={"description": "the next_cursor of the previous page"})


class CallbackLogEntrySchema(BaseSchema):
    id = fields.Integer()
    channel_id = fields.Integer(allow_none=True)
    kind = fields.String()
    received_at = fields.DateTime()
    outcome = fields.String(attribute="outcome.value", metadata={
        "description": "rejected (not what Safaricom sends, or another business's shortcode), "
                       "refused_ip (the first 4 KiB of a body from a refused address), result "
                       "(an async result), duplicate (a second or late M-Pesa Express callback), "
                       "store_failed (the database could not store it when it came)"})
    error = fields.String(allow_none=True)
    body = fields.String()
    replayed_at = fields.DateTime(allow_none=True)
    payment_id = fields.Integer(allow_none=True)


class CallbackLogPageSchema(BaseSchema):
    items = fields.List(fields.Nested(CallbackLogEntrySchema))
    next_cursor = fields.Integer(allow_none=True)


class CallbackReplaySchema(BaseSchema):
    """What replaying a kept async result or timeout did (a payment's replay answers the
    Transaction itself)."""

    kind = fields.String(required=True, metadata={"description": "the entry's kind: result_balance, "
                                                  "result_status, result_reversal, "
                                                  "timeout_balance, timeout_status, "
                                                  "timeout_reversal"})
    applied = fields.Boolean(required=True, metadata={
        "description": "true when the result was applied to the request that asked (and "
                       "what it decides: a reversal's points taken back, a channel's balance "
                       "check, an STK push's receipt); false when it changed nothing"})
    note = fields.String(required=True, allow_none=True, metadata={
        "description": "why it was not applied (answered already, no request of the channel "
                       "has its ids, ...), or what applying it left undone"})
    transaction = fields.Nested(TransactionSchema, required=True, allow_none=True, metadata={
        "description": "the payment the request is about (the one reversed, an STK push's), "
                       "when any"})
