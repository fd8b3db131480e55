"""Sandbox shortcodes are shared: a warning before test traffic moves between channels.

Every Daraja sandbox app uses the same test shortcodes (600000, 174379…), and Safaricom
keeps one URL pair per shortcode: whoever registered last receives its test payments. On
this platform two channels (of one merchant or of two) may both be set up on such a
shortcode; registering URLs for one silently takes the test traffic from the other. Not an
error (sandbox shortcodes are meant to be shared), so the registration goes ahead and the
caller is told.
"""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.models import ChannelType, Environment, MpesaChannel, StepState
from loyalty.services.channels import get_channel
from loyalty.tenancy import all_merchants

SHARED = "sandbox_shortcode_shared"


def _c2b_number():
    """MpesaChannel.c2b_shortcode as SQL: the number its C2B URLs are registered for."""
    return sa.case((MpesaChannel.channel_type == ChannelType.PAYBILL, MpesaChannel.shortcode),
                   else_=sa.func.coalesce(MpesaChannel.store_number, MpesaChannel.shortcode))


def channels_receiving(shortcode: str, *, besides: int) -> int:
    """How many other live sandbox channels of the platform have URLs registered for this
    C2B number. Across merchants on purpose (the shortcode is theirs too); only a count is
    read, nothing that names them."""
    with all_merchants():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(MpesaChannel).where(
                MpesaChannel.environment == Environment.SANDBOX,
                MpesaChannel.archived_at.is_(None),
                MpesaChannel.urls_state == StepState.DONE,
                MpesaChannel.id != besides,
                _c2b_number() == shortcode)) or 0


def registration_warnings(channel_id: int) -> list[dict[str, str]]:
    """What registering this channel's URLs does to the platform's other channels:
    [{code, message}], empty unless it takes a shared sandbox shortcode's traffic."""
    channel = get_channel(channel_id)
    if channel.environment != Environment.SANDBOX:
        return []
    others = channels_receiving(channel.c2b_shortcode, besides=channel.id)
    if not others:
        return []
    which = "another channel" if others == 1 else f"{others} other channels"
    return [{"code": SHARED, "message": (
        f"Sandbox shortcode {channel.c2b_shortcode} is shared by every Daraja sandbox app, and "
        f"{which} on this platform has its URLs registered for it. Safaricom keeps one URL "
        f"pair per shortcode: registering this channel's URLs moves the shortcode's test "
        f"payments here, and the other stops receiving them until its URLs are registered "
        f"again.")}]
