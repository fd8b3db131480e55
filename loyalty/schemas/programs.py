"""Loyalty program shapes."""

from marshmallow import ValidationError, fields, validate, validates_schema

from loyalty.schemas.base import BaseSchema, TrimmedString, page_schema

CODE = validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,39}$",
                       error="Use 1-40 lower-case letters, digits, '-' or '_'.")
MONEY = dict(as_string=True, places=2)


class _ProgramFields(BaseSchema):
    name = TrimmedString(validate=validate.Length(1, 100))
    points_per_unit = fields.Integer(validate=validate.Range(0, 1_000_000))
    unit_amount = fields.Decimal(validate=validate.Range(min=1, max=1_000_000), **MONEY)
    multiplier = fields.Decimal(validate=validate.Range(min=0, max=100), as_string=True)
    min_amount = fields.Decimal(validate=validate.Range(min=0, max=10_000_000), **MONEY)
    stamps_required = fields.Integer(allow_none=True, validate=validate.Range(1, 1000))
    stamp_reward = TrimmedString(allow_none=True, validate=validate.Length(1, 100))
    points_expiry_days = fields.Integer(allow_none=True, validate=validate.Range(1, 3650))
    sms_template = fields.String(allow_none=True, validate=validate.Length(1, 480))
    reward_template = fields.String(allow_none=True, validate=validate.Length(1, 480), metadata={
        "description": "the text sent the moment a stamp card completes; default "
                       "`Congrats {first_name}! Your {reward} is ready.`"})
    sms_on_reversal = fields.Boolean(metadata={
        "description": "text the customer when a payment is reversed and its points taken back"})
    is_default = fields.Boolean()

    @validates_schema
    def _stamps_need_a_reward(self, data, **kwargs):
        if data.get("stamps_required") and not data.get("stamp_reward"):
            if "stamp_reward" in data or not self.partial:
                raise ValidationError("Say what the customer gets, e.g. 'free delivery'.",
                                      "stamp_reward")


class ProgramCreateSchema(_ProgramFields):
    code = fields.String(required=True, validate=CODE)
    name = TrimmedString(required=True, validate=validate.Length(1, 100))


class ProgramUpdateSchema(_ProgramFields):
    pass


class ProgramSchema(BaseSchema):
    code = fields.String()
    name = fields.String()
    points_per_unit = fields.Integer()
    unit_amount = fields.Decimal(**MONEY)
    multiplier = fields.Decimal(as_string=True)
    min_amount = fields.Decimal(**MONEY)
    stamps_required = fields.Integer(allow_none=True)
    stamp_reward = fields.String(allow_none=True)
    points_expiry_days = fields.Integer(allow_none=True)
    sms_template = fields.String(allow_none=True)
    reward_template = fields.String(allow_none=True)
    sms_on_reversal = fields.Boolean()
    is_default = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


ProgramPageSchema = page_schema(ProgramSchema, "ProgramPageSchema")
