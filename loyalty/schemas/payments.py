"""Transactions (payments), their reversals, STK push requests, analytics and the routing
dry run."""

from decimal import Decimal

from marshmallow import fields, validate

from loyalty.models import PaymentRequestStatus, PaymentStatus
from loyalty.schemas.base import BaseSchema, KenyanPhone, PageArgsSchema, TrimmedString, page_schema

MONEY = dict(as_string=True, places=2)


class TransactionQueryArgsSchema(BaseSchema):
    channel_id = fields.Integer()
    status = fields.Enum(PaymentStatus, by_value=True)
    customer_id = fields.Integer()
    since = fields.DateTime(data_key="from")
    until = fields.DateTime(data_key="to")
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.Integer(validate=validate.Range(min=1),
                            metadata={"description": "the next_cursor of the previous page"})


class ReversalSchema(BaseSchema):
    id = fields.Integer()
    state = fields.String(attribute="state.value",
                          metadata={"description": "requested, done or failed"})
    method = fields.String(attribute="method.value", metadata={
        "description": "mpesa (asked of Safaricom's Reversal API) or manual (marked reversed)"})
    amount = fields.Decimal(**MONEY)
    reason = fields.String()
    idempotency_key = fields.String()
    points = fields.Integer(metadata={"description": "points taken back"})
    stamps = fields.Integer(metadata={"description": "stamps taken back (0 or 1)"})
    result_code = fields.String(allow_none=True)
    result_desc = fields.String(allow_none=True)
    message = fields.String(metadata={"description": "where the reversal stands, in words"})
    receipt = fields.String(allow_none=True,
                            metadata={"description": "the reversal's own M-Pesa receipt"})
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)


class TransactionSchema(BaseSchema):
    id = fields.Integer()
    trans_id = fields.String()
    source = fields.String(attribute="source.value")
    channel_id = fields.Integer()
    trans_time = fields.DateTime()
    amount = fields.Decimal(**MONEY)
    bill_ref = fields.String(allow_none=True)
    msisdn_form = fields.String(allow_none=True)
    first_name = fields.String(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    program_id = fields.Integer(allow_none=True)
    matched_pattern = fields.String(allow_none=True)
    points = fields.Integer(metadata={"description": "points the payment earned"})
    stamps = fields.Integer(attribute="stamps_earned", metadata={
        "description": "stamps it put on a stamp card (0 or 1)"})
    reward = fields.String(attribute="reward_issued", allow_none=True, metadata={
        "description": "the reward its stamp completed the card for (e.g. 'free delivery'), "
                       "else null"})
    status = fields.String(attribute="status.value")
    error = fields.String(allow_none=True, metadata={
        "description": "why it was skipped, is unattributed or failed, in words"})
    credited_at = fields.DateTime(allow_none=True)
    reversed_amount = fields.Decimal(allow_none=True, **MONEY)
    reversal = fields.Nested(ReversalSchema, allow_none=True,
                             metadata={"description": "the latest reversal, if any"})
    created_at = fields.DateTime()


class TransactionPageSchema(BaseSchema):
    items = fields.List(fields.Nested(TransactionSchema))
    next_cursor = fields.Integer(allow_none=True)


class AttributeSchema(BaseSchema):
    phone = KenyanPhone(required=True)


class ReversalRequestSchema(BaseSchema):
    reason = TrimmedString(required=True, validate=validate.Length(2, 100),
                           metadata={"description": "why (sent to M-Pesa as the Remarks)"})
    amount = fields.Decimal(validate=validate.Range(min=Decimal("0.01"), max=10_000_000),
                            metadata={"description": "KES to reverse; the whole payment when "
                                      "left out"}, **MONEY)
    idempotency_key = fields.String(required=True, validate=validate.Length(1, 100))


class StkPushSchema(BaseSchema):
    phone = KenyanPhone(required=True)
    amount = fields.Decimal(required=True, validate=validate.Range(min=1, max=250000), **MONEY)
    account_reference = fields.String(validate=validate.Length(1, 12))


class PaymentRequestSchema(BaseSchema):
    id = fields.Integer()
    channel_id = fields.Integer()
    phone = fields.String()
    amount = fields.Decimal(**MONEY)
    account_reference = fields.String()
    status = fields.String(attribute="status.value", metadata={
        "description": "pending, then one of succeeded, failed, cancelled or expired, "
                       "which never changes"})
    checkout_request_id = fields.String(allow_none=True)
    result_code = fields.String(allow_none=True)
    result_desc = fields.String(allow_none=True)
    receipt = fields.String(allow_none=True)
    payment_id = fields.Integer(allow_none=True, metadata={
        "description": "the payment the receipt was credited through (see /transactions)"})
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


PaymentRequestPageSchema = page_schema(PaymentRequestSchema, "PaymentRequestPageSchema")


class PaymentRequestQueryArgsSchema(PageArgsSchema):
    channel_id = fields.Integer(validate=validate.Range(min=1))
    status = fields.Enum(PaymentRequestStatus, by_value=True)


class ResolveArgsSchema(BaseSchema):
    account = fields.String(load_default="")
    amount = fields.Decimal(load_default=None, allow_none=True, validate=validate.Range(min=0))


class ResolveSchema(BaseSchema):
    program = fields.String()
    program_name = fields.String()
    matched_pattern = fields.String(allow_none=True)
    amount = fields.Decimal(allow_none=True, **MONEY)
    points = fields.Integer(allow_none=True)
    stamps = fields.Integer(allow_none=True)


class AnalyticsArgsSchema(BaseSchema):
    since = fields.Date(data_key="from")
    until = fields.Date(data_key="to")


class ChannelDaySchema(BaseSchema):
    channel_id = fields.Integer()
    day = fields.Date()
    payments = fields.Integer()
    amount = fields.Decimal(**MONEY)
    points = fields.Integer()
    unique_customers = fields.Integer()


ChannelDayPageSchema = page_schema(ChannelDaySchema, "ChannelDayPageSchema")
