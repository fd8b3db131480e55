"""The texts sent to a customer or about a payment (GET …/messages)."""

from marshmallow import fields

from loyalty.schemas.base import BaseSchema, PageArgsSchema, page_schema


class SmsMessageSchema(BaseSchema):
    id = fields.Integer()
    customer_id = fields.Integer(allow_none=True)
    payment_id = fields.Integer(allow_none=True)
    purpose = fields.String(metadata={"description": "what the text is for, e.g. "
                                                     "`payment_receipt` (with the reward "
                                                     "when a stamp card completes) or "
                                                     "`reversal_notice`"})
    kind = fields.String(metadata={"description": "`transactional` (any time) or "
                                                  "`promotional` (08:00-18:00 Nairobi time, "
                                                  "with marketing consent only)"})
    status = fields.String(metadata={"description": "`queued`, `sent`, `delivered`, `failed`, "
                                                    "`skipped` or `cancelled`"})
    body = fields.String(metadata={"description": "the words of the text (empty once the "
                                                  "customer was erased)"})
    segments = fields.Integer(metadata={"description": "SMS parts it is billed as"})
    attempts = fields.Integer()
    reason = fields.String(allow_none=True, metadata={
        "description": "why a skipped text was not sent: `opted_out`, `masked`, `sandbox`, "
                       "`quota`, `link`, `no_consent` or `hashed`"})
    error = fields.String(allow_none=True, metadata={"description": "what went wrong, in words"})
    cost = fields.Decimal(as_string=True, allow_none=True, metadata={
        "description": "what the gateway charged, when it said (e.g. `0.8000`)"})
    cost_currency = fields.String(allow_none=True, metadata={"description": "e.g. `KES`"})
    created_at = fields.DateTime()
    not_before = fields.DateTime(allow_none=True, metadata={
        "description": "a promotional text held until its sending window opens"})
    sent_at = fields.DateTime(allow_none=True, metadata={
        "description": "when the gateway accepted it"})
    delivered_at = fields.DateTime(allow_none=True, metadata={
        "description": "when the delivery report said it reached the phone"})
    failure_reason = fields.String(allow_none=True, metadata={
        "description": "the delivery report's reason it did not, e.g. `UserInBlackList`"})


class SmsMessageQueryArgsSchema(PageArgsSchema):
    pass


SmsMessagePageSchema = page_schema(SmsMessageSchema, "SmsMessagePageSchema")
