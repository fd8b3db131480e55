"""Bulk import of channel configurations, and moving legacy environment credentials in."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loyalty.errors import DomainError, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Actor, ChannelType, Environment, Merchant, MpesaChannel
from loyalty.services import channels
from loyalty.services.setup_templates import new_channels
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import transactional


@transactional
def import_channels(rows: list[dict[str, Any]]) -> list[MpesaChannel]:
    """Create every row or none; ValidationFailed lists the problems per row index."""
    created, problems = [], {}
    for index, row in enumerate(rows):
        try:
            with db.session.begin_nested():
                created.append(new_channels.create_channel(row, via="import"))
        except DomainError as exc:
            problems[str(index)] = exc.fields or {"_row": [exc.message]}
    if problems:
        raise ValidationFailed(f"{len(problems)} of {len(rows)} channel(s) are invalid; "
                               "nothing was imported.", fields={"channels": problems})
    return created


@transactional
def import_env_credentials(merchant_id: int, consumer_key: str, consumer_secret: str) -> MpesaChannel:
    """Move the old single-credential setup's keys into the merchant's legacy channel
    (created as a draft till by the migration, or here when missing), encrypted."""
    with tenant_context(merchant_id):
        merchant = db.session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound(f"No merchant with id {merchant_id}.")
        channel = db.session.scalar(sa.select(MpesaChannel).where(
            MpesaChannel.name == "Legacy Channel", MpesaChannel.archived_at.is_(None)))
        changes = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}
        if channel is not None:
            return channels.update_channel(channel.id, changes, actor=Actor.OPERATOR)
        if not merchant.mpesa_till_number:
            raise NotFound("This merchant has no legacy till number; add a channel instead.")
        return channels.create_channel({
            "name": "Legacy Channel", "shortcode": merchant.mpesa_till_number,
            "channel_type": ChannelType.TILL, "environment": Environment.PRODUCTION, **changes},
            actor=Actor.OPERATOR)
