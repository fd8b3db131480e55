"""Pull registration and reconciliation runs: request and response shapes."""

from datetime import timezone

from marshmallow import fields, validate

from loyalty.schemas.base import BaseSchema, KenyanPhone
from loyalty.schemas.channels import ChannelSchema


class PullRegisterSchema(BaseSchema):
    nominated_number = KenyanPhone(required=True, metadata={
        "description": "the Safaricom phone on the shortcode's M-Pesa KYC details (not the "
                       "shortcode)"})


class PullRegistrationResultSchema(BaseSchema):
    """The answer to `?wait=N` once Safaricom answered."""

    registered = fields.Boolean()
    nominated_number = fields.String(allow_none=True)
    registered_at = fields.DateTime(allow_none=True)
    channel = fields.Nested(ChannelSchema, metadata={
        "description": "the channel; a failure's {code, message} is in `pull.error`"})


class ReconcileSchema(BaseSchema):
    # A time without a zone is UTC, like every time the API shows.
    since = fields.AwareDateTime(data_key="from", default_timezone=timezone.utc,
                                 metadata={"description": "default: 24 hours before `to`"})
    until = fields.AwareDateTime(data_key="to", default_timezone=timezone.utc,
                                 metadata={"description": "default: now"})


class RunSchema(BaseSchema):
    id = fields.Integer()
    channel_id = fields.Integer()
    trigger = fields.String(attribute="trigger.value")
    window_from = fields.DateTime()
    window_to = fields.DateTime()
    state = fields.String(attribute="state.value")
    pages = fields.Integer()
    rows_seen = fields.Integer()
    already_known = fields.Integer()
    recovered = fields.Integer()
    ignored = fields.Integer(metadata={"description": "readable rows that are not C2B payments"})
    skipped = fields.Integer(metadata={"description": "rows that could not be read"})
    skipped_reasons = fields.Dict(keys=fields.String(), values=fields.Integer())
    error = fields.String(allow_none=True)
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)


class RunEnvelopeSchema(BaseSchema):
    run = fields.Nested(RunSchema)


class RunQueryArgsSchema(BaseSchema):
    channel_id = fields.Integer()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    cursor = fields.Integer(validate=validate.Range(min=1),
                            metadata={"description": "the next_cursor of the previous page"})


class RunsByStateSchema(BaseSchema):
    running = fields.Integer()
    done = fields.Integer()
    failed = fields.Integer()


class RunTotalsSchema(BaseSchema):
    runs = fields.Nested(RunsByStateSchema, metadata={"description": "runs by state"})
    recovered = fields.Integer(metadata={
        "description": "payments recovered by reconciliation: confirmations that never arrived"})


class RunPageSchema(BaseSchema):
    items = fields.List(fields.Nested(RunSchema))
    next_cursor = fields.Integer(allow_none=True)
    totals = fields.Nested(RunTotalsSchema, metadata={
        "description": "over every run (of the channel, with `channel_id`), not only this page"})
