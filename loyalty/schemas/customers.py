"""Customers, balances, ledger and redemptions."""

from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from loyalty.schemas.base import (
    BaseSchema,
    KenyanPhone,
    PageArgsSchema,
    TrimmedString,
    page_schema,
    sms_language,
)

LANGUAGE = ("the language of the customer's texts, `en` or `sw`; null follows the "
            "merchant's `sms_language`")


class CustomerCreateSchema(BaseSchema):
    phone = KenyanPhone(required=True)
    first_name = TrimmedString(validate=validate.Length(1, 100))
    last_name = TrimmedString(validate=validate.Length(1, 100))
    # Left out: unchanged (enrolling again never flips a customer's opt-out).
    sms_opt_out = fields.Boolean()
    marketing_consent = fields.Boolean(metadata={
        "description": "the customer's express consent to offers and reminders (never "
                       "implied by a payment)"})
    # Left out: unchanged, like the consent fields.
    language = sms_language(LANGUAGE, allow_none=True)


class CustomerUpdateSchema(BaseSchema):
    phone = KenyanPhone()
    first_name = TrimmedString(allow_none=True, validate=validate.Length(max=100))
    last_name = TrimmedString(allow_none=True, validate=validate.Length(max=100))
    sms_opt_out = fields.Boolean()
    marketing_consent = fields.Boolean()
    language = sms_language(LANGUAGE, allow_none=True)


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
    rewards_redeemed = fields.Integer()
    rewards_available = fields.Integer(metadata={
        "description": "stamp-card rewards earned and not yet handed over"})


class CustomerSchema(BaseSchema):
    id = fields.Integer()
    phone = fields.String(allow_none=True)
    phone_hash = fields.String()
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    sms_opt_out = fields.Boolean()
    marketing_consent = fields.Boolean()
    language = fields.String(allow_none=True, metadata={"description": LANGUAGE})
    enrolled = fields.Function(lambda c: c.enrolled_at is not None)
    enrolled_at = fields.DateTime(allow_none=True)
    erased = fields.Function(lambda c: c.erased_at is not None)
    erased_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class ConsentEventSchema(BaseSchema):
    kind = fields.String(metadata={"description": "`sms_opt_out` or `marketing_consent`"})
    value = fields.Boolean()
    source = fields.String(metadata={"description": "`api`, `web`, `sms` or `gateway`"})
    detail = fields.String(allow_none=True)
    created_at = fields.DateTime()


class CustomerDetailSchema(CustomerSchema):
    balances = fields.List(fields.Nested(BalanceSchema))
    consent_history = fields.List(fields.Nested(ConsentEventSchema), metadata={
        "description": "every change of consent, newest first (the last 50)"})


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
    points = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "points to spend; required unless `reward` is true"})
    reward = fields.Boolean(load_default=False, metadata={
        "description": "hand over one stamp-card reward instead of spending points"})
    description = TrimmedString(validate=validate.Length(1, 200))
    idempotency_key = fields.String(required=True, validate=validate.Length(1, 100))

    @validates_schema
    def _points_or_reward(self, data, **kwargs):
        if data.get("reward") and "points" in data:
            raise ValidationError("Send either points or reward: true, not both.", "points")
        if not data.get("reward") and "points" not in data:
            raise ValidationError("Missing data for required field.", "points")


class RedemptionSchema(BaseSchema):
    id = fields.Integer()
    program = fields.String()
    points = fields.Integer()
    reward = fields.Boolean()
    description = fields.String(allow_none=True)
    idempotency_key = fields.String()
    balance = fields.Integer()
    rewards_available = fields.Integer()
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
