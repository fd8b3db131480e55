"""Merchant and API key shapes."""

from marshmallow import fields, post_load, validate

from loyalty.models.merchants import BusinessType
from loyalty.schemas.base import BaseSchema, KenyanPhone, TrimmedString, page_schema
from loyalty.schemas.base import sms_language as language_field
from loyalty.schemas.branding import BrandingSchema, BrandingUpdateSchema


def password_field(**kwargs) -> fields.String:
    """A password as a merchant chooses it (sign-up, change, reset): 8 to 128 characters."""
    return fields.String(required=True, load_only=True, validate=validate.Length(8, 128),
                         **kwargs)


class MerchantCreateSchema(BaseSchema):
    business_name = TrimmedString(required=True, validate=validate.Length(1, 200))
    owner_name = TrimmedString(required=True, validate=validate.Length(1, 200))
    email = fields.Email(required=True, validate=validate.Length(max=254))
    phone = KenyanPhone(required=True)
    business_type = fields.Enum(BusinessType, by_value=True, required=True)
    password = password_field()


MAX_TEST_NUMBERS = 5


class MerchantUpdateSchema(BaseSchema):
    business_name = TrimmedString(validate=validate.Length(1, 200))
    owner_name = TrimmedString(validate=validate.Length(1, 200))
    phone = KenyanPhone()
    business_type = fields.Enum(BusinessType, by_value=True)
    sms_test_numbers = fields.List(
        KenyanPhone(), validate=validate.Length(max=MAX_TEST_NUMBERS),
        metadata={"description": "up to 5 phones a sandbox channel's receipts may go to "
                                 "besides your own (SANDBOX_SMS_POLICY=restricted)"})
    sms_keyword = TrimmedString(allow_none=True, validate=[
        validate.Regexp(r"^[A-Za-z0-9]{2,20}$",
                        error="2 to 20 letters or digits, no spaces (customers text STOP <keyword>)."),
        validate.NoneOf(["STOP", "START", "ALL", "stop", "start", "all"],
                        error="STOP, START and ALL are the commands themselves.")],
        metadata={"description": "customers text `STOP <keyword>` to stop your texts only; "
                                 "unique across merchants (409 when taken)"})
    sms_language = language_field("the language of texts to customers who have not chosen "
                                  "one: `en` (English, the default) or `sw` (Swahili)")
    branding = fields.Nested(BrandingUpdateSchema, metadata={
        "description": "display name and colours; only the fields sent change"})

    @post_load
    def _each_number_once(self, data, **kwargs):
        if "sms_test_numbers" in data:
            data["sms_test_numbers"] = list(dict.fromkeys(data["sms_test_numbers"]))
        if data.get("sms_keyword"):
            data["sms_keyword"] = data["sms_keyword"].upper()
        elif "sms_keyword" in data:
            data["sms_keyword"] = None
        return data


class MerchantSchema(BaseSchema):
    id = fields.Integer(dump_only=True)
    business_name = fields.String()
    owner_name = fields.String()
    email = fields.String()
    phone = fields.String()
    business_type = fields.Enum(BusinessType, by_value=True)
    sms_test_numbers = fields.List(fields.String())
    sms_keyword = fields.String(allow_none=True)
    sms_language = fields.String(metadata={
        "description": "the language of texts to customers who have not chosen one"})
    public_id = fields.String(metadata={"description": "names you in public URLs (your logo)"})
    branding = fields.Nested(BrandingSchema)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PasswordChangeSchema(BaseSchema):
    current_password = fields.String(required=True, load_only=True,
                                     validate=validate.Length(1, 128))
    new_password = password_field()


class PasswordResetRequestSchema(BaseSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class PasswordResetConfirmSchema(BaseSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    code = fields.String(required=True, load_only=True,
                         validate=validate.Regexp(r"^[0-9]{6}$", error="Six digits."),
                         metadata={"description": "the six digits texted to the phone"})
    new_password = password_field()


class MessageSchema(BaseSchema):
    message = fields.String()


class ApiKeyCreateSchema(BaseSchema):
    name = TrimmedString(load_default="API key", validate=validate.Length(1, 100))


class ApiKeySchema(BaseSchema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String(metadata={"description": "first characters, to tell keys apart"})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(metadata={"description": "the API key; shown only this once"})


class MerchantRegisteredSchema(BaseSchema):
    merchant = fields.Nested(MerchantSchema)
    api_key = fields.String(metadata={"description": "shown only this once; store it safely"})


ApiKeyPageSchema = page_schema(ApiKeySchema, "ApiKeyPageSchema")
