"""Back-tests: a program's past payments re-earned under another rule."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from marshmallow import ValidationError, fields, validate, validates_schema

from loyalty.schemas.base import BaseSchema

EAT = timezone(timedelta(hours=3))  # a bare date is a Nairobi day, as in the analytics
LONGEST_WINDOW = timedelta(days=366)
NOT_A_MOMENT = "Must be a date or a date and time, e.g. 2026-11-01 or 2026-11-01T08:00:00Z."


class RuleSchema(BaseSchema):
    """What a rule may override of the program's, with the program form's bounds (the
    shape an experiment's variant uses: `{}` is the program's own rule)."""

    points_per_unit = fields.Integer(validate=validate.Range(0, 1_000_000))
    unit_amount = fields.Decimal(validate=validate.Range(min=1, max=1_000_000), places=2,
                                 as_string=True)
    multiplier = fields.Decimal(validate=validate.Range(min=0, max=100), as_string=True)
    min_amount = fields.Decimal(validate=validate.Range(min=0, max=10_000_000), places=2,
                                as_string=True)
    stamps_required = fields.Integer(allow_none=True, validate=validate.Range(1, 1000),
                                     metadata={"description": "null: no stamp card"})


class Moment(fields.Field):
    """An ISO date (00:00 in Nairobi) or date and time (UTC when it names no offset)."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        if not isinstance(value, str) or len(value) > 40 or "\x00" in value:
            raise ValidationError(NOT_A_MOMENT)
        text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
        try:
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), time(), EAT).astimezone(timezone.utc)
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError(NOT_A_MOMENT) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc)

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.isoformat()


class BacktestArgsSchema(BaseSchema):
    rule = fields.Nested(RuleSchema, load_default=dict, metadata={
        "description": "what to change of the program's rule; `{}` re-earns under its own"})
    start = Moment(data_key="from", metadata={
        "description": "start of the window (default: 30 days before `to`)",
        "type": "string", "example": "2026-11-01"})
    end = Moment(data_key="to", metadata={
        "description": "end of the window, exclusive (default: now); at most 366 days after "
                       "`from`", "type": "string", "example": "2026-12-01"})

    @validates_schema
    def _window(self, data, **kwargs):
        start, end = data.get("start"), data.get("end")
        if start is None or end is None:
            return
        if end <= start:
            raise ValidationError("Must be after `from`.", "to")
        if end - start > LONGEST_WINDOW:
            raise ValidationError("Must be at most 366 days after `from`.", "to")


class _Compared(BaseSchema):
    actual = fields.Integer(metadata={"description": "what the payments really earned"})
    under_rule = fields.Integer()
    difference = fields.Integer(metadata={"description": "under_rule - actual"})


class _PerCustomer(BaseSchema):
    p50 = fields.Float(allow_none=True, metadata={
        "description": "median over customers of (points under the rule - points earned)"})
    p90 = fields.Float(allow_none=True)


class BacktestSchema(BaseSchema):
    program = fields.String()
    start = fields.DateTime(data_key="from")
    end = fields.DateTime(data_key="to")
    rule = fields.Nested(RuleSchema, metadata={"description": "the rule back-tested, in full"})
    payments = fields.Integer(metadata={"description": "credited payments in the window"})
    customers = fields.Integer()
    points = fields.Nested(_Compared)
    difference_per_customer = fields.Nested(_PerCustomer)
    stamps = fields.Nested(_Compared)
    rewards = fields.Nested(_Compared, metadata={"description": "stamp cards completed"})
    texts_changed = fields.Integer(metadata={
        "description": "payments whose receipt text would differ: other points, no longer "
                       "qualifying (no text), or completing a stamp card where it did not "
                       "(or the reverse)"})
