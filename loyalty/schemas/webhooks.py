"""Webhook endpoints and their deliveries: request and response shapes."""

from marshmallow import fields, validate

from loyalty.models import DeliveryStatus, EndpointState, EventType
from loyalty.schemas.base import BaseSchema, PageArgsSchema, TrimmedString, page_schema

EVENTS = [e.value for e in EventType]
EVENTS_DOC = (
    "what this endpoint receives: `payment.received` (Safaricom's confirmation relayed with "
    "its original body), `payment.credited`, `payment.reversed`, `channel.status_changed`, "
    "`sms.delivery_failed`")


def _url(required: bool = True):
    return TrimmedString(required=required, validate=validate.Length(1, 2048), metadata={
        "description": "https:// and a public host in production (the rules of Safaricom's "
                       "callback URLs); http and loopback are allowed in development",
        "example": "https://pos.example.com/loyalty/webhooks"})


class EndpointCreateSchema(BaseSchema):
    url = _url()
    events = fields.List(fields.String(validate=validate.OneOf(EVENTS)), required=True,
                         validate=validate.Length(min=1, max=len(EVENTS)),
                         metadata={"description": EVENTS_DOC, "example": ["payment.received"]})
    description = TrimmedString(validate=validate.Length(max=200), allow_none=True)
    channel_id = fields.Integer(allow_none=True, metadata={
        "description": "only this channel's payments and status (leave out: every channel)"})


class EndpointUpdateSchema(BaseSchema):
    url = _url(required=False)
    events = fields.List(fields.String(validate=validate.OneOf(EVENTS)),
                         validate=validate.Length(min=1, max=len(EVENTS)),
                         metadata={"description": EVENTS_DOC})
    description = TrimmedString(validate=validate.Length(max=200), allow_none=True)
    channel_id = fields.Integer(allow_none=True)
    state = fields.String(validate=validate.OneOf([s.value for s in EndpointState]), metadata={
        "description": "`active` enables an endpoint again (what waited is sent then), "
                       "`disabled` pauses it"})


class RotateSecretSchema(BaseSchema):
    expire_previous_in_hours = fields.Float(load_default=24, validate=validate.Range(0, 72),
                                            metadata={"description": "how long the old secret "
                                                      "keeps signing beside the new one "
                                                      "(0: stop at once)"})


class EndpointSchema(BaseSchema):
    id = fields.Integer()
    url = fields.String()
    description = fields.String(allow_none=True)
    events = fields.List(fields.String())
    channel_id = fields.Integer(allow_none=True)
    state = fields.String(attribute="state.value", metadata={
        "description": "`active`, or `disabled` (by you, or by the platform after failing "
                       "for WEBHOOK_RETRY_HOURS: `disabled_reason` says so)"})
    disabled_reason = fields.String(allow_none=True)
    disabled_at = fields.DateTime(allow_none=True)
    failing_since = fields.DateTime(allow_none=True)
    last_success_at = fields.DateTime(allow_none=True)
    last_failure_at = fields.DateTime(allow_none=True)
    previous_secret_expires_at = fields.DateTime(allow_none=True, metadata={
        "description": "after a rotation, the old secret signs too until then"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class EndpointWithSecretSchema(BaseSchema):
    endpoint = fields.Nested(EndpointSchema)
    secret = fields.String(metadata={"description": "the signing secret, shown only now"})


class DeliveryQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf([s.value for s in DeliveryStatus]))




class DeliverySchema(BaseSchema):
    id = fields.Integer()
    endpoint_id = fields.Integer()
    event_id = fields.String(metadata={"description": "also sent as Loyalty-Event-Id: "
                                                      "deduplicate on it"})
    event_type = fields.String()
    status = fields.String(attribute="status.value", metadata={
        "description": "`pending` (to be sent, or retried at `next_attempt_at`), `delivered` "
                       "(a 2xx answer) or `failed` (no 2xx within the retry window)"})
    attempts = fields.Integer()
    last_status_code = fields.Integer(allow_none=True, metadata={
        "description": "your endpoint's HTTP status on the last attempt (null: no answer)"})
    last_error = fields.String(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    next_attempt_at = fields.Method("_next", metadata={"type": "string", "format": "date-time",
                                                       "nullable": True})
    delivered_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()

    def _next(self, delivery):
        if delivery.status != DeliveryStatus.PENDING:
            return None
        return fields.DateTime().serialize("next_attempt_at", delivery)


class AttemptSchema(BaseSchema):
    number = fields.Integer()
    trigger = fields.String(metadata={"description": "`auto` or `replay`"})
    requested_at = fields.DateTime()
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()


class DeliveryDetailSchema(DeliverySchema):
    body = fields.String(metadata={"description": "the exact body sent (and signed)"})
    attempt_log = fields.List(fields.Nested(AttemptSchema))


EndpointPageSchema = page_schema(EndpointSchema, "WebhookEndpointPage")
DeliveryPageSchema = page_schema(DeliverySchema, "WebhookDeliveryPage")
