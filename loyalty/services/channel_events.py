"""A channel's history (`channel_events`), the notices it gives the merchant, and the
texts to the merchant's own phone when it asked for them (`notify_by_sms`).

Events are written in the same transaction as the change they describe, so the history
never shows something that was rolled back. `detail` holds names, states and codes only:
never a credential's value, never Safaricom's free text (which could echo one).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.errors import NotFound
from loyalty.extensions import db
from loyalty.models import (
    Actor,
    ChannelEvent,
    ChannelEventKind,
    HealthState,
    Merchant,
    MpesaChannel,
    SmsMessage,
)
from loyalty.models.base import utcnow
from loyalty.services.pages import keyset_page
from loyalty.sms.segments import encoding, segment_count
from loyalty.tenancy import current_merchant_id

Kind = ChannelEventKind
# The outbox purpose of a text to the merchant about its own channel: no customer, so no
# consent rule applies (it is the account holder's own notice, like a password reset).
CHANNEL_NOTICE = "channel_notice"
NOTICE_DAYS = 7  # how long the dashboard shows that a channel activated itself


def record(channel: MpesaChannel, kind: ChannelEventKind, actor: Actor,
           **detail: Any) -> ChannelEvent:
    """Append one event to the channel's history (in the caller's transaction)."""
    event = ChannelEvent(channel_id=channel.id, merchant_id=channel.merchant_id, kind=kind,
                         actor=actor, detail=detail, created_at=utcnow())
    db.session.add(event)
    return event


def events_page(channel_id: int, *, limit: int = 50, cursor: int | None = None) -> dict:
    """The channel's events newest first; NotFound for another merchant's channel."""
    # services/channels.py records events, so its get_channel is not imported here.
    if db.session.scalar(sa.select(MpesaChannel.id).where(
            MpesaChannel.id == channel_id, MpesaChannel.archived_at.is_(None))) is None:
        raise NotFound("M-Pesa channel not found.")
    page = keyset_page(sa.select(ChannelEvent).where(ChannelEvent.channel_id == channel_id),
                       ChannelEvent.id, limit=limit, cursor=cursor)
    for event in page["items"]:
        event.summary = describe(event)  # the words the web timeline shows, for the API too
    return page


def recent_events(channel_id: int, limit: int = 20) -> list[ChannelEvent]:
    return events_page(channel_id, limit=limit)["items"]


def activated_automatically(channel_id: int) -> bool:
    """Whether the channel's latest activation was auto_activate's."""
    actor = db.session.scalar(sa.select(ChannelEvent.actor).where(
        ChannelEvent.channel_id == channel_id, ChannelEvent.kind == Kind.ACTIVATED)
        .order_by(ChannelEvent.id.desc()).limit(1))
    return actor == Actor.AUTO


def notices() -> list[dict[str, Any]]:
    """What the dashboard tells the merchant about its channels: each channel failing its
    health check (it stays active), and each that activated itself in the last week."""
    found = []
    for channel in db.session.scalars(sa.select(MpesaChannel).where(
            MpesaChannel.archived_at.is_(None), MpesaChannel.health_state == HealthState.FAILING)
            .order_by(MpesaChannel.id)):
        found.append({"level": "warning", "channel_id": channel.id,
                      "text": f"{channel.name} ({channel.shortcode}) failed its last check with "
                              "Safaricom. It is still taking payments; open it to see why."})
    since = utcnow() - timedelta(days=NOTICE_DAYS)
    rows = db.session.execute(
        sa.select(ChannelEvent.channel_id, MpesaChannel.name, MpesaChannel.shortcode,
                  ChannelEvent.created_at)
        .join(MpesaChannel, MpesaChannel.id == ChannelEvent.channel_id)
        .where(ChannelEvent.kind == Kind.ACTIVATED, ChannelEvent.actor == Actor.AUTO,
               ChannelEvent.created_at >= since, MpesaChannel.archived_at.is_(None),
               MpesaChannel.is_active.is_(True))
        .order_by(ChannelEvent.id.desc())).all()
    for channel_id, name, shortcode, _ in rows:
        found.append({"level": "success", "channel_id": channel_id,
                      "text": f"{name} ({shortcode}) activated automatically after Safaricom "
                              "confirmed your details: payments to it now earn points."})
    return found


def text_merchant(channel: MpesaChannel, body: str) -> SmsMessage | None:
    """Queue a text to the merchant's own phone through the outbox, if the channel asks
    for notices by SMS. Sent after the commit; no customer, so no consent rule applies."""
    if not channel.notify_by_sms:
        return None
    merchant = db.session.get(Merchant, current_merchant_id())
    if merchant is None or not merchant.phone:
        return None
    text = SmsMessage(purpose=CHANNEL_NOTICE, recipient=merchant.phone, recipient_form="plain",
                      body=body, encoding=encoding(body), segments=segment_count(body))
    db.session.add(text)
    db.session.flush()
    background.enqueue(TaskName.SEND_SMS_BATCH, [[merchant.id, text.id]])
    return text


# --- merchant words ---------------------------------------------------------------------------

_STEP_WORDS = {"bad_credentials": "Safaricom refused the consumer key and secret",
               "safaricom_unreachable": "Safaricom could not be reached",
               "urls_already_registered": "Safaricom already has URLs for this number",
               "urls_refused": "Safaricom refused the URLs"}
_HEALTH_WORDS = {"healthy": "working", "failing": "failing", "unknown": "not checked yet"}
_FIELD_WORDS = {"consumer_key": "consumer key", "consumer_secret": "consumer secret",
                "passkey": "passkey", "initiator_name": "API operator name",
                "initiator_password": "API operator password"}


def describe(event: ChannelEvent) -> str:
    """One sentence a shop owner understands."""
    detail, actor = event.detail or {}, event.actor
    kind = event.kind
    if kind == Kind.CREATED:
        if detail.get("templates"):  # whole sentences: the web page translates each
            return ("Channel added from an imported file, with the account rules of the setup "
                    "template you applied before it." if detail.get("via") == "import" else
                    "Channel added with the account rules of the setup template you applied "
                    "before it.")
        return "Channel added" + (" from an imported file." if detail.get("via") == "import"
                                  else " by the platform operator." if actor == Actor.OPERATOR
                                  else ".")
    if kind == Kind.VERIFIED:
        return "Safaricom confirmed your consumer key and secret."
    if kind == Kind.VERIFICATION_FAILED:
        return f"Checking your details failed: {_why(detail)}."
    if kind == Kind.URLS_REGISTERED:
        return "Safaricom now sends your payments here (URLs registered)."
    if kind == Kind.URLS_FAILED:
        return f"Registering the payment URLs failed: {_why(detail)}."
    if kind == Kind.ACTIVATED:
        if actor == Actor.AUTO:
            return "Activated automatically after Safaricom confirmed your details."
        return "You activated the channel: payments earn points."
    if kind == Kind.DEACTIVATED:
        if actor == Actor.MERCHANT:
            return "You paused the channel: payments are kept but earn no points."
        if detail.get("reason") == "credentials_changed":
            return "Paused because its details changed: Safaricom must confirm them again."
        return "The channel was paused."
    if kind == Kind.HEALTH_CHANGED:
        words = (f"Safaricom check: {_HEALTH_WORDS.get(detail.get('from'), 'unknown')} → "
                 f"{_HEALTH_WORDS.get(detail.get('to'), 'unknown')}")
        if detail.get("to") == "failing":
            words += " (the channel stays active)"
        return words + "."
    if kind == Kind.CREDENTIALS_CHANGED:
        names = ", ".join(_FIELD_WORDS.get(name, name) for name in detail.get("fields", []))
        return f"Changed: {names}." if names else "Details changed."
    if kind == Kind.TOKEN_ROTATED:
        return ("New callback address issued; the old one works for a while"
                + (" and the URLs are being registered again." if detail.get("reregistering")
                   else "."))
    return kind.value


def _why(detail: dict[str, Any]) -> str:
    return _STEP_WORDS.get(detail.get("code"), "see the channel's setup page")
