"""M-Pesa channels: creating, changing and archiving them, and the status rules.

Status moves draft -> configured (consumer key and secret present) -> verified (Safaricom
accepted them) -> active (URLs registered, taking payments). Changing a credential or the
number sends a channel back to configured (or draft) and inactive, because what was
verified is no longer what is stored.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from loyalty.errors import Conflict, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import (
    Actor,
    ChannelStatus,
    ChannelType,
    Environment,
    LoyaltyProgram,
    MpesaChannel,
    StepState,
)
from loyalty.models.base import utcnow
from loyalty.services import channel_events
from loyalty.services.account_mapping import normalise_mapping
from loyalty.services.pages import keyset_page
from loyalty.tenancy import all_merchants, current_merchant_id
from loyalty.unit_of_work import transactional

SECRET_FIELDS = ("consumer_key", "consumer_secret", "passkey", "initiator_password")
# Changing any of these invalidates the verification; the identity ones also the URLs.
CREDENTIAL_FIELDS = (*SECRET_FIELDS, "initiator_name")
IDENTITY_FIELDS = ("shortcode", "environment", "channel_type", "store_number")


def list_channels() -> list[MpesaChannel]:
    """The current merchant's channels (archived ones excluded), primary first."""
    return list(db.session.scalars(
        sa.select(MpesaChannel).where(MpesaChannel.archived_at.is_(None))
        .order_by(MpesaChannel.is_primary.desc(), MpesaChannel.id)))


def channel_page(*, limit: int = 50, cursor: int | None = None) -> dict[str, Any]:
    """The API's list: live channels oldest first (`is_primary` marks the primary),
    {"items", "next_cursor"} (services/pages.py)."""
    return keyset_page(sa.select(MpesaChannel).where(MpesaChannel.archived_at.is_(None)),
                       MpesaChannel.id, limit=limit, cursor=cursor, newest_first=False)


def get_channel(channel_id: int) -> MpesaChannel:
    """One of the current merchant's channels; NotFound for anything else."""
    channel = db.session.scalar(sa.select(MpesaChannel).where(
        MpesaChannel.id == channel_id, MpesaChannel.archived_at.is_(None)))
    if channel is None:
        raise NotFound("M-Pesa channel not found.")
    return channel


@transactional
def create_channel(data: dict[str, Any], *, actor: Actor = Actor.MERCHANT,
                   via: str | None = None, **event_detail: Any) -> MpesaChannel:
    """Add a channel; the merchant's first one becomes primary. `event_detail` is added to
    its `created` event (codes only: the setup templates its account rules came from).

    Raises ValidationFailed (mapping, Till rules) and Conflict (production shortcode taken).
    """
    data = dict(data)
    wants_primary = data.pop("is_primary", False)
    channel = MpesaChannel(account_mapping={}, **{k: v for k, v in data.items()
                                                  if k not in ("account_mapping",)})
    channel.account_mapping = _checked_mapping(data.get("account_mapping") or {},
                                               channel.channel_type)
    _check_type_rules(channel)
    _check_shortcode_free(channel)
    _refresh_credential_state(channel)
    has_primary = db.session.scalar(sa.select(sa.exists().where(
        MpesaChannel.is_primary.is_(True), MpesaChannel.archived_at.is_(None))))
    if wants_primary or not has_primary:
        _unset_primary()
        channel.is_primary = True
    db.session.add(channel)
    _flush_or_conflict()
    channel_events.record(channel, channel_events.Kind.CREATED, actor,
                          channel_type=channel.channel_type.value,
                          environment=channel.environment.value,
                          **({"via": via} if via else {}), **event_detail)
    return channel


@transactional
def update_channel(channel_id: int, changes: dict[str, Any], *,
                   actor: Actor = Actor.MERCHANT) -> MpesaChannel:
    """Apply changes; a changed credential or number sends the channel back to configured."""
    channel = get_channel(channel_id)
    was_active = channel.is_active
    changes = dict(changes)
    wants_primary = changes.pop("is_primary", None)
    changed = {name for name, value in changes.items() if getattr(channel, name) != value}
    for name in changed:
        setattr(channel, name, changes[name])
    if "account_mapping" in changed or "channel_type" in changed:
        channel.account_mapping = _checked_mapping(channel.account_mapping, channel.channel_type)
    _check_type_rules(channel)
    if changed & set(IDENTITY_FIELDS):
        _check_shortcode_free(channel)
        _reset_urls(channel)
    if changed & set(CREDENTIAL_FIELDS + IDENTITY_FIELDS):
        _reset_verification(channel)
    _refresh_credential_state(channel)
    if wants_primary is True and not channel.is_primary:
        _unset_primary()
        channel.is_primary = True
    elif wants_primary is False and channel.is_primary:
        raise Conflict("A merchant always has one primary channel: make another channel "
                       "primary instead.", code="primary_required")
    _flush_or_conflict()
    _record_changes(channel, changed, was_active, actor)
    return channel


def _record_changes(channel: MpesaChannel, changed: set[str], was_active: bool,
                    actor: Actor) -> None:
    """Which credentials changed (names, never values), and the pause that follows."""
    credentials = sorted(changed & set(CREDENTIAL_FIELDS))
    if credentials:
        channel_events.record(channel, channel_events.Kind.CREDENTIALS_CHANGED, actor,
                              fields=credentials)
    if was_active and not channel.is_active:
        reason = "credentials_changed" if credentials else "details_changed"
        channel_events.record(channel, channel_events.Kind.DEACTIVATED, Actor.SYSTEM,
                              reason=reason)


@transactional
def archive_channel(channel_id: int) -> None:
    """Archive (soft-delete) a channel; the oldest remaining one becomes primary."""
    channel = get_channel(channel_id)
    was_primary = channel.is_primary
    channel.archived_at = utcnow()
    channel.is_active = False
    channel.is_primary = False
    db.session.flush()
    if was_primary:
        successor = db.session.scalar(sa.select(MpesaChannel).where(
            MpesaChannel.archived_at.is_(None)).order_by(MpesaChannel.id).limit(1))
        if successor is not None:
            successor.is_primary = True
            db.session.flush()


def _checked_mapping(mapping: dict[str, str], channel_type: ChannelType) -> dict[str, str]:
    codes = set(db.session.scalars(sa.select(LoyaltyProgram.code)))
    try:
        return normalise_mapping(mapping, channel_type=channel_type.value, program_codes=codes)
    except ValueError as exc:
        # One problem per argument: the message joins them into sentences (str() of a
        # ValueError with several arguments would show a Python tuple).
        raise ValidationFailed(" ".join(exc.args), fields={"account_mapping": list(exc.args)}) \
            from None


def _check_type_rules(channel: MpesaChannel) -> None:
    if channel.channel_type == ChannelType.PAYBILL and channel.store_number:
        raise ValidationFailed("A PayBill has no store number.",
                               fields={"store_number": ["Only Till and Buy Goods channels have "
                                                        "a store (head office) number."]})


def _check_shortcode_free(channel: MpesaChannel) -> None:
    """Production numbers belong to one merchant; sandbox ones (174379) are shared.

    The shortcode is unique among production channels. A store (head office) number is
    what a Till's C2B URLs are registered for and its callbacks carry, so it may not be
    another merchant's shortcode or store number either (the same merchant may put several
    tills under its own head office)."""
    if channel.environment != Environment.PRODUCTION:
        return
    numbers = [number for number in (channel.shortcode, channel.store_number) if number]
    another_merchants = sa.and_(MpesaChannel.merchant_id != current_merchant_id(),
                                sa.or_(MpesaChannel.shortcode.in_(numbers),
                                       MpesaChannel.store_number.in_(numbers)))
    # The rule spans merchants; only the clashing numbers are read. No autoflush: the
    # changed number must be checked here, not written into the unique index first.
    with all_merchants(), db.session.no_autoflush:
        clash = db.session.execute(sa.select(MpesaChannel.shortcode, MpesaChannel.store_number)
                                   .where(sa.or_(MpesaChannel.shortcode == channel.shortcode,
                                                 another_merchants),
                                          MpesaChannel.environment == Environment.PRODUCTION,
                                          MpesaChannel.archived_at.is_(None),
                                          MpesaChannel.id != (channel.id or -1)).limit(1)).first()
    if clash is not None:
        # The message names the caller's own number, nothing about the other channel.
        raise _shortcode_taken(next(number for number in numbers if number in clash))


def _shortcode_taken(shortcode: str) -> Conflict:
    return Conflict(f"The production number {shortcode} is already connected on this "
                    "platform. If it is yours, contact support.", code="shortcode_taken")


def _refresh_credential_state(channel: MpesaChannel) -> None:
    key = channel.consumer_key
    channel.consumer_key_hint = key[-4:] if key else None
    if not channel.has_credentials:
        channel.status, channel.is_active = ChannelStatus.DRAFT, False
    elif channel.status == ChannelStatus.DRAFT or channel.status is None:
        channel.status = ChannelStatus.CONFIGURED


def _reset_verification(channel: MpesaChannel) -> None:
    channel.status = ChannelStatus.CONFIGURED if channel.has_credentials else ChannelStatus.DRAFT
    channel.is_active = False
    channel.verification_state = StepState.NONE
    channel.verified_at = None
    channel.verification_details = None
    channel.verification_error = channel.verification_error_code = None


def _reset_urls(channel: MpesaChannel) -> None:
    # Both registrations belong to the shortcode Safaricom knows, not to the channel.
    channel.urls_state = StepState.NONE
    channel.urls_registered_at = None
    channel.urls_error = channel.urls_error_code = None
    channel.pull_state = StepState.NONE
    channel.pull_registered_at = None
    channel.pull_error = None


def _unset_primary() -> None:
    # Flushed before the new primary is set: the partial unique index checks every row.
    for other in db.session.scalars(sa.select(MpesaChannel).where(
            MpesaChannel.is_primary.is_(True), MpesaChannel.archived_at.is_(None))):
        other.is_primary = False
    db.session.flush()


def _flush_or_conflict() -> None:
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:
        # A concurrent request took the production shortcode between check and insert.
        if "production_shortcode" in str(exc.orig) or "production_store_number" in str(exc.orig):
            raise Conflict("The production shortcode is already connected on this platform.",
                           code="shortcode_taken") from None
        raise
