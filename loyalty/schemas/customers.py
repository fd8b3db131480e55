"""Customers, balances, ledger and redemptions."""

from marshmallow import fields, post_load, validate

from loyalty.schemas.base import BaseSchema, KenyanPhone, PageArgsSchema, TrimmedString, page_schema


class CustomerCreateSchema(BaseSchema):
    phone = KenyanPhone(required=True)
    first_name = TrimmedString(validate=validate.Length(1, 100))
    last_name = TrimmedString(validate=validate.Length(1, 100))
    sms_opt_out = fields.Boolean(load_default=False)


class CustomerQueryArgsSchema(PageArgsSchema):
    phone = KenyanPhone()
    after_id = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "deprecated: the same as `cursor`", "deprecated": True})

    @post_load
    def _old_cursor(self, data, **kwargs):
        after = data.pop("after_id", None)
        if after and "cursor" not in data:
            data["cursor"] = after
        return data


class BalanceSchema(BaseSchema):
    code = fields.String(data_key="program")
    name = fields.String(data_key="program_name")
    points = fields.Integer()
    lifetime_points = fields.Integer()
    stamps = fields.Integer()
    stamps_required = fields.Integer(allow_none=True)
    rewards_earned = fields.Integer()


class CustomerSchema(BaseSchema):
    id = fields.Integer()
    phone = fields.String(allow_none=True)
    phone_hash = fields.String()
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    sms_opt_out = fields.Boolean()
    enrolled = fields.Function(lambda c: c.enrolled_at is not None)
    enrolled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class CustomerDetailSchema(CustomerSchema):
    balances = fields.List(fields.Nested(BalanceSchema))


class LedgerEntrySchema(BaseSchema):
    id = fields.Integer()
    kind = fields.String()
    program = fields.String()
    points = fields.Integer()
    stamps = fields.Integer()
    payment_id = fields.Integer(allow_none=True)
    redemption_id = fields.Integer(allow_none=True)
    adjustment_id = fields.Integer(allow_none=True)
    description = fields.String(allow_none=True)
    created_at = fields.DateTime()


class LedgerQueryArgsSchema(PageArgsSchema):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500),
                           metadata={"description": "items per page (1 to 500)"})
    before_id = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "deprecated: the same as `cursor`", "deprecated": True})

    @post_load
    def _old_cursor(self, data, **kwargs):
        before = data.pop("before_id", None)
        if before and "cursor" not in data:
            data["cursor"] = before
        return data


class RedemptionCreateSchema(BaseSchema):
    program = fields.String(required=True)
    points = fields.Integer(required=True, validate=validate.Range(min=1))
    description = TrimmedString(validate=validate.Length(1, 200))
    idempotency_key = fields.String(required=True, validate=validate.Length(1, 100))


class RedemptionSchema(BaseSchema):
    id = fields.Integer()
    program = fields.String()
    points = fields.Integer()
    description = fields.String(allow_none=True)
    idempotency_key = fields.String()
    balance = fields.Integer()
    created_at = fields.DateTime()


class AdjustmentCreateSchema(BaseSchema):
    program = fields.String(required=True)
    points = fields.Integer(required=True, validate=[
        validate.Range(-1_000_000_000, 1_000_000_000),
        validate.NoneOf([0], error="Add or take away at least one point.")],
        metadata={"description": "signed: positive adds points, negative takes them away"})
    reason = TrimmedString(required=True, validate=validate.Length(1, 200))
    idempotency_key = fields.String(required=True, validate=validate.Length(1, 100))


class AdjustmentSchema(BaseSchema):
    id = fields.Integer()
    program = fields.String()
    points = fields.Integer()
    reason = fields.String()
    idempotency_key = fields.String()
    balance = fields.Integer()
    created_at = fields.DateTime()


CustomerPageSchema = page_schema(CustomerSchema, "CustomerPageSchema")
LedgerPageSchema = page_schema(LedgerEntrySchema, "LedgerPageSchema")
