"""M-Pesa channel shapes. Secrets are load-only; responses show them masked."""

from flask import current_app
from marshmallow import fields, validate

from loyalty.models.channels import (
    C2BVersion,
    ChannelType,
    Environment,
    StepState,
    ValidationPolicy,
    callback_urls,
)
from loyalty.schemas.base import BaseSchema, TrimmedString

SHORTCODE = validate.Regexp(r"^\d{5,7}$", error="Must be a 5 to 7 digit M-Pesa number.")
SECRET = dict(load_only=True, allow_none=True, validate=validate.Length(1, 500))


class _ChannelFields(BaseSchema):
    name = TrimmedString(validate=validate.Length(1, 100))
    shortcode = fields.String(validate=SHORTCODE)
    channel_type = fields.Enum(ChannelType, by_value=True)
    environment = fields.Enum(Environment, by_value=True)
    store_number = fields.String(allow_none=True, validate=SHORTCODE)
    c2b_version = fields.Enum(C2BVersion, by_value=True)
    consumer_key = fields.String(**SECRET)
    consumer_secret = fields.String(**SECRET)
    passkey = fields.String(**SECRET)
    initiator_name = fields.String(allow_none=True, validate=validate.Length(1, 100))
    initiator_password = fields.String(**SECRET)
    account_mapping = fields.Dict(keys=fields.String(), values=fields.String())
    validation_policy = fields.Enum(ValidationPolicy, by_value=True)
    is_primary = fields.Boolean()


class ChannelCreateSchema(_ChannelFields):
    name = TrimmedString(required=True, validate=validate.Length(1, 100))
    shortcode = fields.String(required=True, validate=SHORTCODE)
    channel_type = fields.Enum(ChannelType, by_value=True, required=True)
    environment = fields.Enum(Environment, by_value=True, load_default=Environment.SANDBOX)


class ChannelUpdateSchema(_ChannelFields):
    pass


class ChannelImportSchema(BaseSchema):
    channels = fields.List(fields.Nested(ChannelCreateSchema), required=True,
                           validate=validate.Length(1, 500))


_VERIFICATION_STATES = {StepState.NONE: "not_started", StepState.PENDING: "pending",
                        StepState.DONE: "verified", StepState.FAILED: "failed"}
_URL_STATES = {StepState.NONE: "not_registered", StepState.PENDING: "pending",
               StepState.DONE: "registered", StepState.FAILED: "failed"}


class ChannelExportSchema(BaseSchema):
    """A channel's configuration only, never a secret (what export writes)."""

    name = fields.String()
    shortcode = fields.String()
    channel_type = fields.Enum(ChannelType, by_value=True)
    environment = fields.Enum(Environment, by_value=True)
    store_number = fields.String(allow_none=True)
    c2b_version = fields.Enum(C2BVersion, by_value=True)
    initiator_name = fields.String(allow_none=True)
    account_mapping = fields.Dict()
    validation_policy = fields.Enum(ValidationPolicy, by_value=True)
    is_primary = fields.Boolean()


class ChannelSchema(ChannelExportSchema):
    class Meta:
        exclude = ("initiator_name",)  # shown under `credentials`

    id = fields.Integer()
    status = fields.String(attribute="status.value")
    is_active = fields.Boolean()
    credentials = fields.Method("_credentials")
    verification = fields.Method("_verification")
    urls = fields.Method("_urls")
    health = fields.Method("_health")
    pull = fields.Method("_pull")
    callback_urls = fields.Method("_callback_urls")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _credentials(self, channel):
        hint = channel.consumer_key_hint
        return {"consumer_key": f"****{hint}" if hint else None,
                "consumer_secret": channel.consumer_secret is not None,
                "passkey": channel.passkey is not None,
                "initiator_name": channel.initiator_name,
                "initiator_password": channel.initiator_password is not None}

    def _verification(self, channel):
        return {"state": _VERIFICATION_STATES[channel.verification_state],
                "verified_at": _iso(channel.verified_at), "details": channel.verification_details,
                "error": channel.verification_error}

    def _urls(self, channel):
        return {"state": _URL_STATES[channel.urls_state], "validation_url": channel.validation_url,
                "confirmation_url": channel.confirmation_url, "response_type": channel.response_type,
                "registered_at": _iso(channel.urls_registered_at), "error": channel.urls_error}

    def _health(self, channel):
        return {"state": channel.health_state.value, "checked_at": _iso(channel.health_checked_at),
                "error": channel.health_error}

    def _pull(self, channel):
        return {"state": _URL_STATES[channel.pull_state],
                "nominated_number": channel.pull_nominated_number,
                "registered_at": _iso(channel.pull_registered_at),
                "last_run_at": _iso(channel.pull_last_run_at), "error": channel.pull_error}

    def _callback_urls(self, channel):
        urls = callback_urls(current_app.config["CALLBACK_BASE_URL"], channel.callback_token)
        return {"validation_url": urls["validation"], "confirmation_url": urls["confirmation"],
                "stk_callback_url": urls["stk"],
                # After a rotation, the old URLs still work until then (null: they do not).
                "previous_token_expires_at": _iso(channel.previous_token_valid_until)}


class RegisterUrlsSchema(BaseSchema):
    validation_url = fields.String(validate=validate.Length(1, 500))
    confirmation_url = fields.String(validate=validate.Length(1, 500))
    response_type = fields.String(load_default="Completed",
                                  validate=validate.OneOf(["Completed", "Cancelled"]))


MAX_WAIT = 10  # seconds one `?wait` may hold a web thread (DESIGN.md section 10)


class ClampedSeconds(fields.Integer):
    """Whole seconds, clamped to 0..MAX_WAIT: asking for longer is not an error."""

    def _deserialize(self, value, attr, data, **kwargs):
        return max(0, min(super()._deserialize(value, attr, data, **kwargs), MAX_WAIT))


class WaitArgsSchema(BaseSchema):
    wait = ClampedSeconds(load_default=0, metadata={
        "description": f"seconds to wait for the worker's result; larger values are clamped "
                       f"to {MAX_WAIT}", "maximum": MAX_WAIT, "minimum": 0})


class VerificationResultSchema(BaseSchema):
    """The seed's answer once verification is done."""

    verified = fields.Boolean()
    status = fields.String()
    verification_details = fields.Dict(allow_none=True)
    error = fields.String(allow_none=True)


class RegistrationResultSchema(BaseSchema):
    registered = fields.Boolean()
    status = fields.String()
    urls = fields.Dict()
    error = fields.String(allow_none=True)


def _iso(value):
    return value.isoformat() if value else None
