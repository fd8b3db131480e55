"""The callback log: what Safaricom sent to the merchant's channels that is not a payment."""

from marshmallow import fields, validate

from loyalty.schemas.base import BaseSchema


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
