"""White-label shapes: branding, sender IDs and a merchant's own SMS account."""

from marshmallow import fields, validate

from loyalty.models import SenderIdCategory, SenderIdState
from loyalty.schemas.base import BaseSchema, TrimmedString

COLOR = validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="Must be a colour written #rrggbb, e.g. #0b5394.")


class BrandingUpdateSchema(BaseSchema):
    display_name = TrimmedString(allow_none=True, validate=validate.Length(max=60), metadata={
        "description": "the name `{merchant}` renders in texts and the UI shows (null: the "
                       "business name)"})
    primary_color = fields.String(allow_none=True, validate=COLOR, metadata={
        "description": "`#rrggbb`; refused (422 with the ratio) unless white or #111111 "
                       "text on it reaches WCAG AA 4.5:1"})
    accent_color = fields.String(allow_none=True, validate=COLOR, metadata={
        "description": "`#rrggbb`, the buttons' colour; the same contrast rule"})


class BrandingSchema(BaseSchema):
    display_name = fields.String(allow_none=True)
    primary_color = fields.String(allow_none=True)
    accent_color = fields.String(allow_none=True)
    logo_url = fields.String(allow_none=True, metadata={
        "description": "the re-encoded PNG (at most 256 px), served with nosniff"})


class LogoUploadSchema(BaseSchema):
    """Documentation only: the body is the image itself, or multipart field `logo`."""

    logo = fields.Raw(metadata={"type": "string", "format": "binary"})


class SenderIdRequestSchema(BaseSchema):
    sender_id = fields.String(required=True, validate=validate.Length(1, 40), metadata={
        "description": "at most 11 letters, digits and spaces; names imitating M-PESA, "
                       "Safaricom, banks or the government are refused"})
    category = fields.Enum(SenderIdCategory, by_value=True, required=True)


class SenderIdSchema(BaseSchema):
    sender_id = fields.String()
    category = fields.Enum(SenderIdCategory, by_value=True)
    state = fields.Enum(SenderIdState, by_value=True, metadata={
        "description": "`pending` until the platform's operator approves or rejects it"})
    reason = fields.String(allow_none=True)
    requested_at = fields.DateTime(attribute="updated_at")
    decided_at = fields.DateTime(allow_none=True)


class SenderIdListSchema(BaseSchema):
    """A page as every list is (issue 15), always the only one: a request per category."""

    items = fields.List(fields.Nested(SenderIdSchema))
    next_cursor = fields.Integer(allow_none=True, metadata={"description": "always null"})
    default_sender = fields.String(allow_none=True, metadata={
        "description": "the platform's sender, the `from` of any category without an "
                       "approved ID (null: Africa's Talking's shared one)"})


# Africa's Talking usernames are app names (letters, digits, `_ . -`) and its API keys are
# hex; refusing anything else here keeps control characters out of the HTTP header we send.
AT_USERNAME = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
                              error="Letters, digits, '_', '.' and '-' only, as on your "
                                    "Africa's Talking dashboard.")
AT_API_KEY = validate.Regexp(r"^[!-~]+$", error="Printable characters without spaces only, "
                                                "as Africa's Talking shows the key.")


class SmsProviderSchema(BaseSchema):
    username = TrimmedString(required=True, validate=[validate.Length(1, 100), AT_USERNAME])
    api_key = TrimmedString(required=True, load_only=True,
                            validate=[validate.Length(8, 200), AT_API_KEY])


class SmsAccountSchema(BaseSchema):
    own = fields.Boolean(metadata={"description": "true: texts go through your own account"})
    username = fields.String(allow_none=True)
