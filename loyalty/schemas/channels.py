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
from loyalty.schemas.base import BaseSchema, TrimmedString, page_schema
from loyalty.schemas.programs import CODE

SHORTCODE = validate.Regexp(r"^\d{5,7}$", error="Must be a 5 to 7 digit M-Pesa number.")
SECRET = dict(load_only=True, allow_none=True, validate=validate.Length(1, 500))
MAPPING = {
    "description": (
        "Which loyalty program a payment's account reference earns in. Keys: `default`, an "
        "exact reference (`CORPORATE`) or a prefix ending in `*` (`VIP*`): letters, digits, "
        "spaces or - _ . / # &, up to 20 characters, `*` only at the end; Till and Buy Goods "
        "payments carry no reference, so they map `default` only. Values: program codes of "
        "the same merchant (an unknown code is a 422 listing the known ones). Matching trims "
        "and ignores case: exact, then the longest prefix, then `default`, then the "
        "merchant's default program."),
    "example": {"default": "loyalty", "VIP*": "vip", "PREMIUM": "premium"}}


AUTO_ACTIVATE = (
    "Activate by itself once Safaricom accepted the credentials and the URLs are registered "
    "(default true). A channel you deactivate stays paused until you activate it again.")
NOTIFY_BY_SMS = ("Text the merchant's own phone when the channel activates itself or starts "
                 "failing its health check (default false; the web UI tells either way).")


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
    account_mapping = fields.Dict(keys=fields.String(), values=fields.String(validate=CODE),
                                  metadata=MAPPING)
    validation_policy = fields.Enum(ValidationPolicy, by_value=True)
    is_primary = fields.Boolean()
    auto_activate = fields.Boolean(metadata={"description": AUTO_ACTIVATE})
    notify_by_sms = fields.Boolean(metadata={"description": NOTIFY_BY_SMS})


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
    account_mapping = fields.Dict(keys=fields.String(), values=fields.String(), metadata=MAPPING)
    validation_policy = fields.Enum(ValidationPolicy, by_value=True)
    is_primary = fields.Boolean()
    auto_activate = fields.Boolean(metadata={"description": AUTO_ACTIVATE})
    notify_by_sms = fields.Boolean(metadata={"description": NOTIFY_BY_SMS})


class StepErrorSchema(BaseSchema):
    """Why a step failed, shaped like every error of the API."""

    code = fields.String(metadata={"description": "stable, snake_case (e.g. bad_credentials, "
                                                  "urls_already_registered, safaricom_unreachable)"})
    message = fields.String(metadata={"description": "what happened and what to do, in words"})


class _Part(fields.Nested):
    """A part of the channel JSON worked out from the channel by `build` (documented as
    its nested schema, so a client generator gets its fields and types)."""

    def __init__(self, nested, build, **kwargs):
        super().__init__(nested, **kwargs)
        self.build = build

    def serialize(self, attr, obj, accessor=None, **kwargs):
        return self._serialize(self.build(obj), attr, obj, **kwargs)


def _error_field(description: str):
    return fields.Nested(StepErrorSchema, allow_none=True, metadata={"description": description})


class CredentialsSchema(BaseSchema):
    consumer_key = fields.String(allow_none=True, metadata={"description": "'****' + last 4"})
    consumer_secret = fields.Boolean(metadata={"description": "set or not (never shown)"})
    passkey = fields.Boolean(metadata={"description": "set or not (never shown)"})
    initiator_name = fields.String(allow_none=True)
    initiator_password = fields.Boolean(metadata={"description": "set or not (never shown)"})


class VerificationSchema(BaseSchema):
    state = fields.String(metadata={"description": "not_started, pending, verified or failed"})
    verified_at = fields.DateTime(allow_none=True)
    details = fields.Dict(allow_none=True, metadata={
        "description": "shortcode, account_balance_accessible, account_balance, verified_at"})
    error = _error_field("why the last verification failed (null unless failed)")


class UrlsSchema(BaseSchema):
    state = fields.String(metadata={"description": "not_registered, pending, registered or "
                                                   "failed"})
    validation_url = fields.String(allow_none=True)
    confirmation_url = fields.String(allow_none=True)
    response_type = fields.String(allow_none=True)
    registered_at = fields.DateTime(allow_none=True)
    error = _error_field("why the last registration failed")


class HealthSchema(BaseSchema):
    state = fields.String(metadata={"description": "unknown, healthy or failing"})
    checked_at = fields.DateTime(allow_none=True)
    error = _error_field("what the last health check found")


class PullSchema(BaseSchema):
    state = fields.String(metadata={"description": "not_registered, pending, registered or "
                                                   "failed"})
    nominated_number = fields.String(allow_none=True)
    registered_at = fields.DateTime(allow_none=True)
    last_run_at = fields.DateTime(allow_none=True)
    error = _error_field("why the last Pull registration or run failed")


class CallbackUrlsSchema(BaseSchema):
    validation_url = fields.String()
    confirmation_url = fields.String()
    stk_callback_url = fields.String()
    previous_token_expires_at = fields.DateTime(allow_none=True, metadata={
        "description": "after a rotation, the old URLs still work until then (null: they "
                       "do not)"})


def _credentials(channel):
    hint = channel.consumer_key_hint
    return {"consumer_key": f"****{hint}" if hint else None,
            "consumer_secret": channel.consumer_secret is not None,
            "passkey": channel.passkey is not None,
            "initiator_name": channel.initiator_name,
            "initiator_password": channel.initiator_password is not None}


def _verification(channel):
    return {"state": _VERIFICATION_STATES[channel.verification_state],
            "verified_at": channel.verified_at, "details": channel.verification_details,
            "error": step_error(channel.verification_error, channel.verification_error_code,
                                "verification_failed")}


def _urls(channel):
    return {"state": _URL_STATES[channel.urls_state], "validation_url": channel.validation_url,
            "confirmation_url": channel.confirmation_url, "response_type": channel.response_type,
            "registered_at": channel.urls_registered_at,
            "error": step_error(channel.urls_error, channel.urls_error_code,
                                "registration_failed")}


def _health(channel):
    return {"state": channel.health_state.value, "checked_at": channel.health_checked_at,
            "error": step_error(channel.health_error, None, "health_check_failed")}


def _pull(channel):
    return {"state": _URL_STATES[channel.pull_state],
            "nominated_number": channel.pull_nominated_number,
            "registered_at": channel.pull_registered_at, "last_run_at": channel.pull_last_run_at,
            "error": step_error(channel.pull_error, None, "pull_failed")}


def _callback_urls(channel):
    urls = callback_urls(current_app.config["CALLBACK_BASE_URL"], channel.callback_token)
    return {"validation_url": urls["validation"], "confirmation_url": urls["confirmation"],
            "stk_callback_url": urls["stk"],
            "previous_token_expires_at": channel.previous_token_valid_until}


def step_error(message: str | None, code: str | None, fallback: str) -> dict | None:
    """A step's failure as the API shows every error: {code, message} (None: no error).
    The code is the stored one, else the step's own."""
    return {"code": code or fallback, "message": message} if message else None


class ChannelSchema(ChannelExportSchema):
    class Meta:
        exclude = ("initiator_name",)  # shown under `credentials`

    id = fields.Integer()
    status = fields.String(attribute="status.value", metadata={
        "description": "draft, configured, verified or active"})
    is_active = fields.Boolean()
    paused_at = fields.DateTime(allow_none=True, metadata={
        "description": "when the merchant deactivated it (null: not paused); auto-activation "
                       "leaves a paused channel alone"})
    credentials = _Part(CredentialsSchema, _credentials)
    verification = _Part(VerificationSchema, _verification)
    urls = _Part(UrlsSchema, _urls)
    health = _Part(HealthSchema, _health)
    pull = _Part(PullSchema, _pull)
    callback_urls = _Part(CallbackUrlsSchema, _callback_urls,
                          metadata={"description": "the platform's own URLs for this channel"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


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


class WarningSchema(BaseSchema):
    code = fields.String(metadata={"description": "stable, snake_case (sandbox_shortcode_shared)"})
    message = fields.String()


class ChannelAnswerSchema(ChannelSchema):
    """A channel as a step answers it: its JSON, plus what the caller should know."""

    warnings = fields.List(fields.Nested(WarningSchema), metadata={
        "description": "things that went through but deserve a look; e.g. registering URLs "
                       "on a sandbox shortcode another channel of the platform uses moves "
                       "Safaricom's test traffic to this channel"})


class VerificationResultSchema(BaseSchema):
    """The seed's answer once verification is done; a failure's {code, message} is in
    `channel.verification.error`."""

    verified = fields.Boolean()
    status = fields.String()
    verification_details = fields.Dict(allow_none=True)
    channel = fields.Nested(ChannelSchema)


class RegistrationResultSchema(BaseSchema):
    """The answer once URL registration is done; a failure's {code, message} is in
    `channel.urls.error`."""

    registered = fields.Boolean()
    status = fields.String()
    urls = fields.Dict()
    channel = fields.Nested(ChannelSchema)
    warnings = fields.List(fields.Nested(WarningSchema))


ChannelPageSchema = page_schema(ChannelSchema, "ChannelPageSchema")
ChannelExportPageSchema = page_schema(ChannelExportSchema, "ChannelExportPageSchema")
