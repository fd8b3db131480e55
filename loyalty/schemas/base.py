"""Project base schema and shared field types."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from loyalty.phones import InvalidPhone, normalise_msisdn
from loyalty.sms.templates import LANGUAGES

# What PostgreSQL columns hold: INTEGER ids and counts, NUMERIC(14, 2) amounts.
INT32_MAX = 2**31 - 1
INT32 = validate.Range(-INT32_MAX - 1, INT32_MAX, error="Must be between {min} and {max}.")
LARGEST_AMOUNT = Decimal("999999999999.99")
AMOUNT = validate.Range(-LARGEST_AMOUNT, LARGEST_AMOUNT, error="Must be between {min} and {max}.")

# One wording per kind of problem, for the API's fields and the web forms' own (WTForms)
# checks alike (web/forms.py uses these too): a merchant never reads two sentences for one
# mistake.
REQUIRED = "Please fill this in."
NOT_A_NUMBER = "Must be a number, e.g. 250 or 99.50."
NOT_A_WHOLE_NUMBER = "Must be a whole number, e.g. 100."
NOT_A_DATE = "Must be a date, e.g. 03 Dec 2026."
NOT_AN_EMAIL = "Must be an email address, e.g. name@example.com."
NOT_A_CHOICE = "Must be one of the options listed."
WORDING = {
    fields.Integer: {"invalid": NOT_A_WHOLE_NUMBER},
    fields.Decimal: {"invalid": NOT_A_NUMBER, "special": NOT_A_NUMBER},
    fields.Float: {"invalid": NOT_A_NUMBER, "special": NOT_A_NUMBER},
    fields.Date: {"invalid": NOT_A_DATE},
    fields.Email: {"invalid": NOT_AN_EMAIL},
}


def too_short(minimum: int) -> str:
    return f"At least {minimum} characters."


def too_long(maximum: int) -> str:
    return f"At most {maximum:,} characters."


class PlainLength(validate.Length):
    """marshmallow's Length, saying which way the text is off ("At most 100 characters.")
    instead of "Length must be between 1 and 100."."""

    def __call__(self, value):
        if self.equal is None and self.error is None:
            if self.min is not None and len(value) < self.min:
                raise ValidationError(REQUIRED if not value else too_short(self.min))
            if self.max is not None and len(value) > self.max:
                raise ValidationError(too_long(self.max))
        return super().__call__(value)


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
        plain_words(field_obj)


def _reworded(validator):
    if type(validator) is validate.Length and validator.error is None \
            and validator.equal is None:
        return PlainLength(validator.min, validator.max)
    if type(validator) is validate.Email:  # fields.Email builds it before binding
        return validate.Email(error=NOT_AN_EMAIL)
    return validator


def plain_words(field: fields.Field) -> None:
    """Give a field (and those inside a List or Dict) the project's wording (WORDING)."""
    field.error_messages = {**field.error_messages, "required": REQUIRED, "null": REQUIRED}
    for kind, messages in WORDING.items():
        if isinstance(field, kind):
            field.error_messages.update(messages)
    field.validators = [_reworded(v) for v in field.validators]
    for inner in (getattr(field, "inner", None), getattr(field, "key_field", None),
                  getattr(field, "value_field", None)):
        if isinstance(inner, fields.Field):
            plain_words(inner)


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
            raise ValidationError(REQUIRED)
        return text


def sms_language(description: str, **kwargs) -> fields.String:
    """The language texts are written in: `en` (English) or `sw` (Swahili)."""
    return fields.String(validate=validate.OneOf(
        LANGUAGES, error="Must be en (English) or sw (Swahili)."),
        metadata={"description": description}, **kwargs)


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
