"""Rotating a channel's callback token: a new one at once, the old one honoured for a while.

The token in /hooks/<token>/… is the only credential a Safaricom callback carries, so a
merchant who fears it leaked (a screenshot, a support ticket, a log) rotates it. Safaricom
keeps calling the registered URLs until they are registered again — and in production a
shortcode's URLs can be registered again only after the old registration is deleted on the
Daraja portal (DARAJA.md 4.2) — so the previous token keeps routing callbacks for
CALLBACK_TOKEN_GRACE_HOURS. One previous token is kept: rotating again within the grace
ends the older token's at once.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from loyalty import background
from loyalty.background import TaskName
from loyalty.crypto import new_callback_token
from loyalty.models import Actor, MpesaChannel, StepState
from loyalty.models.base import utcnow
from loyalty.services import channel_events
from loyalty.services.channels import get_channel
from loyalty.unit_of_work import transactional

URL_FIELDS = ("validation_url", "confirmation_url")


@transactional
def rotate_callback_token(channel_id: int) -> tuple[MpesaChannel, bool]:
    """Issue a new token; (the channel, True when its URLs are being registered again).
    The channel's history records the rotation (never the token)."""
    channel, registering = _rotate(get_channel(channel_id))
    channel_events.record(channel, channel_events.Kind.TOKEN_ROTATED, Actor.MERCHANT,
                          token="callback", reregistering=registering)
    return channel, registering


def _rotate(channel: MpesaChannel) -> tuple[MpesaChannel, bool]:
    old, new = channel.callback_token, new_callback_token()
    channel.previous_callback_token = old
    channel.previous_token_expires_at = utcnow() + timedelta(
        hours=current_app.config["CALLBACK_TOKEN_GRACE_HOURS"])
    channel.callback_token = new
    if not _move_own_urls(channel, old, new) or channel.urls_state == StepState.NONE:
        return channel, False  # nothing registered with Safaricom points at the old token
    if channel.verification_state != StepState.DONE:
        channel.urls_state = StepState.NONE
        channel.urls_error_code = "callback_token_changed"
        channel.urls_error = ("The callback token changed: verify the channel, then register "
                              "the callback URLs again before the old token expires.")
        return channel, False
    channel.urls_state = StepState.PENDING
    channel.urls_error = channel.urls_error_code = None
    background.enqueue(TaskName.REGISTER_URLS, channel.merchant_id, channel.id)
    return channel, True


def _move_own_urls(channel: MpesaChannel, old: str, new: str) -> bool:
    """Point the platform's own stored URLs at the new token; a merchant's own URLs (a
    relay of theirs) are left alone. True when any URL changed."""
    moved = False
    for field in URL_FIELDS:
        url = getattr(channel, field)
        if url and f"/hooks/{old}/" in url:
            setattr(channel, field, url.replace(f"/hooks/{old}/", f"/hooks/{new}/"))
            moved = True
    return moved

