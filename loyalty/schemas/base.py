"""Project base schema and shared field types."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields

from loyalty.phones import InvalidPhone, normalise_msisdn


class BaseSchema(Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE


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
