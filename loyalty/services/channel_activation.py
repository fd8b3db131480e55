"""Activating and pausing a channel: by the merchant, or by itself once Safaricom accepted
it (`auto_activate`); and what a health check's change of state tells the merchant.

Auto-activation happens in the worker's unit of work that records the last of the two
steps (verification, URL registration) to succeed. Both record under a row lock on the
channel (`locked_channel`), so when the two finish at the same moment the second one waits,
sees the first's outcome, and exactly one of them activates the channel and writes the
event. A channel the merchant paused (`paused_at`) is left paused: a later verification —
after a credential change, say — never switches on what the merchant switched off; the
merchant's own Activate (API or web) clears the pause. A health check that fails tells
the merchant (event, dashboard notice, SMS if asked) and never deactivates: the payments
keep arriving while someone looks.
"""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.errors import Conflict, NotFound
from loyalty.extensions import db
from loyalty.models import Actor, ChannelStatus, HealthState, MpesaChannel, StepState
from loyalty.models.base import utcnow
from loyalty.services import channel_events
from loyalty.services.channels import get_channel
from loyalty.unit_of_work import transactional

Kind = channel_events.Kind


def locked_channel(channel_id: int) -> MpesaChannel:
    """The channel, its row locked until the transaction ends (fresh from the database)."""
    channel = db.session.scalar(
        sa.select(MpesaChannel).where(MpesaChannel.id == channel_id,
                                      MpesaChannel.archived_at.is_(None))
        .with_for_update().execution_options(populate_existing=True))
    if channel is None:
        raise NotFound("M-Pesa channel not found.")
    return channel


def ready(channel: MpesaChannel) -> bool:
    return (channel.verification_state == StepState.DONE
            and channel.urls_state == StepState.DONE)


def activate_if_ready(channel: MpesaChannel) -> bool:
    """After a step succeeded (the caller holds the row lock): activate the channel when
    it asks for that, both steps are done, and the merchant has not paused it."""
    if not (channel.auto_activate and ready(channel)) or channel.is_active \
            or channel.paused_at is not None:
        return False
    channel.status, channel.is_active = ChannelStatus.ACTIVE, True
    channel_events.record(channel, Kind.ACTIVATED, Actor.AUTO)
    channel_events.text_merchant(channel, (
        f"Your M-Pesa channel {channel.name} ({channel.shortcode}) is now active: Safaricom "
        "confirmed your details, and payments to it earn points from now on."))
    return True


@transactional
def activate_channel(channel_id: int) -> MpesaChannel:
    """Start taking payments; needs a verified channel with registered URLs."""
    channel = locked_channel(channel_id)
    if channel.verification_state != StepState.DONE:
        raise Conflict("Verify the channel with Safaricom before activating it.",
                       code="not_verified")
    if channel.urls_state != StepState.DONE:
        raise Conflict("Register the callback URLs with Safaricom before activating the channel.",
                       code="urls_not_registered")
    channel.paused_at = None
    if not channel.is_active:
        channel.status, channel.is_active = ChannelStatus.ACTIVE, True
        channel_events.record(channel, Kind.ACTIVATED, Actor.MERCHANT)
    return channel


@transactional
def deactivate_channel(channel_id: int) -> MpesaChannel:
    """Stop crediting payments from this channel (callbacks are still stored). It stays
    paused until the merchant activates it again, whatever a later verification finds."""
    channel = locked_channel(channel_id)
    if channel.paused_at is None:
        channel.paused_at = utcnow()
    if channel.is_active:
        channel_events.record(channel, Kind.DEACTIVATED, Actor.MERCHANT)
    channel.is_active = False
    if channel.status == ChannelStatus.ACTIVE:
        channel.status = ChannelStatus.VERIFIED
    return channel


def record_health(channel_id: int, error: str | None, code: str | None) -> None:
    """A health check's outcome (in the worker's unit of work). A change of state is an
    event; turning failing texts the merchant when it asked. Never deactivates."""
    channel = get_channel(channel_id)
    if error is None and channel.urls_state != StepState.DONE:
        error, code = "The callback URLs are not registered with Safaricom.", "urls_not_registered"
    before = channel.health_state
    after = HealthState.FAILING if error else HealthState.HEALTHY
    channel.health_state, channel.health_error = after, error
    channel.health_checked_at = utcnow()
    if before == after:
        return
    channel_events.record(channel, Kind.HEALTH_CHANGED, Actor.SYSTEM, **{
        "from": before.value, "to": after.value, **({"code": code} if code else {})})
    if after == HealthState.FAILING:
        channel_events.text_merchant(channel, (
            f"Your M-Pesa channel {channel.name} ({channel.shortcode}) failed its check with "
            "Safaricom. It is still active; open the app to see what to fix."))
