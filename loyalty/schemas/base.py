"""Project base schema and shared field types."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from loyalty.phones import InvalidPhone, normalise_msisdn

# What PostgreSQL columns hold: INTEGER ids and counts, NUMERIC(14, 2) amounts.
INT32_MAX = 2**31 - 1
INT32 = validate.Range(-INT32_MAX - 1, INT32_MAX, error="Must be between {min} and {max}.")
LARGEST_AMOUNT = Decimal("999999999999.99")
AMOUNT = validate.Range(-LARGEST_AMOUNT, LARGEST_AMOUNT, error="Must be between {min} and {max}.")


class BaseSchema(Schema):
    """Unknown fields are an error, never silently dropped.

    Every number field of every schema is bounded by what the database holds, whatever
    range its own validator allows: an id of 759121185484426 or an amount of 1e400 is a 422
    naming the field, never PostgreSQL's "integer out of range" or a Decimal overflow (a
    500). Non-finite numbers (NaN, Infinity) are refused by marshmallow itself."""

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        bound_numbers(field_obj)


def bound_numbers(field: fields.Field) -> None:
    """Add the database's range to a number field (and to those inside a List or Dict);
    apispec documents it, the tighter of two ranges wins."""
    if isinstance(field, fields.Integer):
        field.validators = [*field.validators, INT32]
    elif isinstance(field, fields.Decimal):
        field.validators = [*field.validators, AMOUNT]
    for inner in (getattr(field, "inner", None), getattr(field, "key_field", None),
                  getattr(field, "value_field", None)):
        if isinstance(inner, fields.Field):
            bound_numbers(inner)


class KenyanPhone(fields.String):
    """A Kenyan mobile number in any common form, loaded as `2547XXXXXXXX`."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalise_msisdn(text)
        except InvalidPhone as exc:
            raise ValidationError(str(exc)) from None


class TrimmedString(fields.String):
    """A string with surrounding whitespace removed; blank counts as missing."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if not text and self.required:
            raise ValidationError("Must not be blank.")
        return text


class PageArgsSchema(BaseSchema):
    """`limit` and `cursor`, as every paged collection takes them."""

    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200),
                           metadata={"description": "items per page (1 to 200)"})
    cursor = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "the `next_cursor` of the previous page; leave out for the first"})


_PAGES: dict[str, type] = {}


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """The page schema of a collection: `{"items": [item, ...], "next_cursor": int|null}`.
    `name` is its name in the OpenAPI document (one class per name)."""
    if name not in _PAGES:
        _PAGES[name] = type(name, (BaseSchema,), {
            "items": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.Integer(allow_none=True, required=True, metadata={
                "description": "pass as `cursor` for the next page; null on the last page"}),
            "__doc__": "One page of a collection; pass `next_cursor` back as `cursor`."})
    return _PAGES[name]
