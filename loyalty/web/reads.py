"""Read models that only the merchant web UI's pages use (so they live beside them).

Only reads: the dashboard's per-channel summary (last payment, today's figures, channels
that have gone quiet), the SMS preview a merchant sees while writing a template, the
texts sent to one customer and the receipt texts of a page of payments. Everything is scoped to the current merchant by tenancy.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.models import MpesaChannel, Payment, SmsMessage
from loyalty.services.channels import list_channels
from loyalty.services.crediting.rules import Earned, points_for, render_receipt, template_for
from loyalty.services.merchants import get_current_merchant
from loyalty.services.payments import EAT, channel_analytics
from loyalty.sms.segments import (
    SINGLE_GSM7,
    SINGLE_UCS2,
    encoding,
    first_unicode_character,
    segment_count,
)
from loyalty.sms.templates import TemplateError, validate_template

# An active channel with no payment for this long is flagged: on a busy till a silent day
# usually means the URL registration or the Daraja app broke, not that customers stopped.
QUIET_AFTER = timedelta(hours=24)

# The preview uses the seed's own example so merchants recognise it:
# John pays KES 5,000 into the VIP program (x2) and ends on 2,847 points.
EXAMPLE_FIRST_NAME = "John"
EXAMPLE_AMOUNT = Decimal("5000")
EXAMPLE_PREVIOUS_POINTS = 2747
EXAMPLE_PREVIOUS_STAMPS = 2

# What one SMS costs a merchant, for the preview's "about KES … per customer": Africa's
# Talking's Kenyan rate in its own answers ("Total Cost: KES 0.8000", SMS.md 2). An estimate
# shown as one; the bill is the gateway's.
SMS_PRICE_KES = Decimal("0.80")

# Receipts go out on a transactional sender ID without marketing consent (SMS.md 4.5);
# these words suggest an offer crept in, which needs consent and an opt-out instead.
PROMOTIONAL_WORDS = ("offer", "deal", "discount", "promo", "bonus", "% off", "free", "sale")


@dataclass(frozen=True)
class ChannelSummary:
    channel: MpesaChannel
    last_payment: Payment | None
    today_payments: int
    today_amount: Decimal
    today_points: int
    quiet_for: timedelta | None  # set only for an active channel that has gone quiet


def channel_overview(now: datetime | None = None) -> list[ChannelSummary]:
    """Every channel with its newest payment, today's figures and a quiet warning."""
    now = now or datetime.now(timezone.utc)
    channels = list_channels()
    last = _last_payments()
    today = now.astimezone(EAT).date()
    figures = {row["channel_id"]: row for row in channel_analytics(today, today)}
    summaries = []
    for channel in channels:
        row = figures.get(channel.id, {})
        payment = last.get(channel.id)
        summaries.append(ChannelSummary(
            channel=channel, last_payment=payment,
            today_payments=int(row.get("payments", 0)),
            today_amount=Decimal(row.get("amount", 0)), today_points=int(row.get("points", 0)),
            quiet_for=_quiet_for(channel, payment, now)))
    return summaries


def _last_payments() -> dict[int, Payment]:
    # Ids grow in arrival order, so the highest id is the channel's newest payment.
    newest = sa.select(sa.func.max(Payment.id)).group_by(Payment.channel_id)
    return {p.channel_id: p for p in db.session.scalars(
        sa.select(Payment).where(Payment.id.in_(newest.scalar_subquery())))}


def _quiet_for(channel: MpesaChannel, payment: Payment | None, now: datetime) -> timedelta | None:
    if not channel.is_active:
        return None
    # With no payment yet, count from when the channel could first take payments.
    since = payment.created_at if payment else (channel.urls_registered_at or channel.created_at)
    silent = now - since
    return silent if silent >= QUIET_AFTER else None


@dataclass(frozen=True)
class SmsPreview:
    text: str
    encoding: str
    segments: int
    characters: int
    amount: Decimal
    points: int
    problems: tuple[str, ...]
    warnings: tuple[str, ...]
    cost: str = ""  # in shillings per text, when the text costs more than one plain SMS


def sms_preview(*, template: str | None, name: str, points_per_unit: int = 1,
                unit_amount: Decimal = Decimal("100"), multiplier: Decimal = Decimal("1"),
                min_amount: Decimal = Decimal("0"), stamps_required: int | None = None,
                stamp_reward: str | None = None) -> SmsPreview:
    """The receipt a customer would get for the example payment under these rules, rendered
    by the same code that renders real receipts, with its encoding and SMS count."""
    program = SimpleNamespace(sms_template=(template or "").strip() or None, name=name or "Loyalty",
                              stamps_required=stamps_required, stamp_reward=stamp_reward)
    chosen = template_for(program)
    try:
        validate_template(chosen)
    except TemplateError as exc:
        return SmsPreview("", "GSM-7", 0, 0, EXAMPLE_AMOUNT, 0, tuple(exc.problems), ())
    points = points_for(EXAMPLE_AMOUNT, points_per_unit=points_per_unit, unit_amount=unit_amount,
                        multiplier=multiplier, min_amount=min_amount)
    text = render_receipt(program, first_name=EXAMPLE_FIRST_NAME,
                          earned=_example_earned(points, stamps_required),
                          merchant_name=get_current_merchant().business_name)
    return SmsPreview(text=text, encoding=encoding(text), segments=segment_count(text),
                      characters=len(text), amount=EXAMPLE_AMOUNT, points=points, problems=(),
                      warnings=_promotional(chosen), cost=sms_cost(text))


def sms_cost(text: str) -> str:
    """What the text costs per customer in shillings, and why, when it is more than one
    plain SMS: the character that made it Unicode (70 characters a text instead of 160)
    and the number of texts it is split into. Empty when it is one plain SMS."""
    parts, special = segment_count(text), first_unicode_character(text)
    if parts <= 1 and special is None:
        return ""
    said = []
    if special is not None:
        name = unicodedata.name(special, "").lower()
        said.append(f"“{special}”{f' ({name})' if name else ''} is not in the plain SMS "
                    f"alphabet, so the whole text goes as Unicode: {SINGLE_UCS2} characters "
                    f"a text instead of {SINGLE_GSM7}.")
    price = SMS_PRICE_KES * parts
    if parts > 1:
        said.append(f"It is sent as {parts} texts: about KES {price:.2f} per customer instead "
                    f"of KES {SMS_PRICE_KES:.2f}.")
    else:
        said.append(f"It still fits one text (about KES {price:.2f} per customer), but "
                    f"only {SINGLE_UCS2} characters do.")
    return " ".join(said)


def _example_earned(points: int, stamps_required: int | None) -> Earned:
    if not stamps_required:
        return Earned(points=points, balance=EXAMPLE_PREVIOUS_POINTS + points, stamps=0,
                      stamps_left=None, reward_earned=False)
    stamps = min(EXAMPLE_PREVIOUS_STAMPS, stamps_required - 1) + 1
    reward = stamps >= stamps_required
    stamps = 0 if reward else stamps
    return Earned(points=points, balance=EXAMPLE_PREVIOUS_POINTS + points, stamps=stamps,
                  stamps_left=stamps_required - stamps, reward_earned=reward)


def _promotional(template: str) -> tuple[str, ...]:
    lowered = template.lower()
    found = [word.strip() for word in PROMOTIONAL_WORDS if word in lowered]
    if not found:
        return ()
    return (f"This reads like a promotion ({', '.join(found)}). Payment receipts are "
            "transactional: keep them to the payment and points. Offers need the customer's "
            "marketing consent and a free opt-out in every message.",)


def messages_for_customer(customer_id: int, limit: int = 20) -> list[SmsMessage]:
    """The texts queued for a customer, newest first (status shows sent, failed or skipped)."""
    return list(db.session.scalars(
        sa.select(SmsMessage).where(SmsMessage.customer_id == customer_id)
        .order_by(SmsMessage.id.desc()).limit(limit)))


def messages_for_payment(payment_id: int, limit: int = 20) -> list[SmsMessage]:
    """The texts about a payment (its receipt, its reversal notice), newest first."""
    return list(db.session.scalars(
        sa.select(SmsMessage).where(SmsMessage.payment_id == payment_id)
        .order_by(SmsMessage.id.desc()).limit(limit)))


def receipts_for(payment_ids: list[int]) -> dict[int, SmsMessage]:
    """The receipt texts of these payments, by payment (one query for a page)."""
    if not payment_ids:
        return {}
    return {m.payment_id: m for m in db.session.scalars(
        sa.select(SmsMessage).where(SmsMessage.payment_id.in_(payment_ids)))}
