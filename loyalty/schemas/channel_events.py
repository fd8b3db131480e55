"""A channel's history, as GET /mpesa-channels/{id}/events lists it."""

from marshmallow import fields

from loyalty.models.channel_events import Actor, ChannelEventKind
from loyalty.schemas.base import BaseSchema, page_schema


class ChannelEventSchema(BaseSchema):
    id = fields.Integer()
    channel_id = fields.Integer()
    kind = fields.Enum(ChannelEventKind, by_value=True, metadata={
        "description": "created, verified, verification_failed, urls_registered, urls_failed, "
                       "activated, deactivated, health_changed, credentials_changed, "
                       "token_rotated"})
    actor = fields.Enum(Actor, by_value=True, metadata={
        "description": "merchant (you asked), auto (auto_activate), system (Safaricom's "
                       "answer, a health check) or operator (the platform's staff)"})
    detail = fields.Dict(metadata={
        "description": "names, states and codes only, never a secret: health_changed has "
                       "`from` and `to`, credentials_changed the `fields` that changed, a "
                       "failure its `code`"})
    summary = fields.String(metadata={"description": "the event in words, as the web UI "
                                                     "shows it"})
    created_at = fields.DateTime()


ChannelEventPageSchema = page_schema(ChannelEventSchema, "ChannelEventPageSchema")
