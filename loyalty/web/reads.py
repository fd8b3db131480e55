"""Read models that only the merchant web UI's pages use (so they live beside them).

Only reads: the dashboard's per-channel summary (last payment, today's figures, channels
that have gone quiet, their health in plain words), its live feed of recent payments and
today against yesterday, the SMS preview a merchant sees while writing a template, the
texts sent to one customer and the receipt texts of a page of payments. Everything is scoped to the current merchant by tenancy.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext

from loyalty.extensions import db
from loyalty.models import (
    ChannelStatus,
    Customer,
    HealthState,
    MpesaChannel,
    Payment,
    SmsMessage,
    SmsStatus,
    StepState,
)
from loyalty.phones import display_phone
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
from loyalty.sms.templates import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    TemplateError,
    validate_template,
)

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


# How many payments the dashboard's live feed shows (the Transactions page has the rest).
FEED_SIZE = 10
# A text counts as sent once the gateway took it, whether or not a delivery report came.
SENT_STATUSES = (SmsStatus.SENT, SmsStatus.DELIVERED)


@dataclass(frozen=True)
class Health:
    level: str  # ok | info | warning | error: the colour of the sentence
    words: str


def channel_health(s: ChannelSummary, now: datetime | None = None) -> Health:
    """Where a channel stands, in one sentence a shop owner can act on (in the page's
    language; what Safaricom said stays as Safaricom said it)."""
    channel, now = s.channel, now or datetime.now(timezone.utc)
    if channel.status == ChannelStatus.DRAFT:
        return Health("info", _("Not connected yet: add the consumer key and secret from "
                                "your Daraja app."))
    if channel.verification_state == StepState.FAILED:
        return Health("error", _("Safaricom did not accept the credentials: %(why)s.",
                                 why=channel.verification_error
                                 or _("check them and try again")))
    if channel.status == ChannelStatus.CONFIGURED:
        return Health("info", _("Not checked with Safaricom yet: verify the credentials."))
    if channel.urls_state == StepState.FAILED:
        return Health("error", _("Safaricom could not register where to send payments: "
                                 "%(why)s.", why=channel.urls_error
                                 or _("try registering the URLs again")))
    if not channel.is_active:
        if channel.urls_state != StepState.DONE:
            return Health("info", _("Credentials work. Next: register the URLs so Safaricom "
                                    "tells us about payments."))
        return Health("info", _("Ready: activate it so payments start earning points."))
    if channel.health_state == HealthState.FAILING:
        return Health("error", _("Safaricom is not answering for this number: %(why)s.",
                                 why=channel.health_error or _("the last check failed")))
    if s.quiet_for:
        return Health("warning", _("Taking payments, but none for %(span)s.",
                                   span=_ago(s.quiet_for)))
    if s.last_payment is None:
        return Health("ok", _("Working: waiting for the first payment."))
    return Health("ok", _("Working: last payment %(span)s ago.",
                          span=_ago(now - s.last_payment.created_at)))


def _ago(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 1:
        return _("less than a minute")
    if minutes < 60:
        return ngettext("%(num)s minute", "%(num)s minutes", minutes)
    hours = minutes // 60
    if hours < 48:
        return ngettext("%(num)s hour", "%(num)s hours", hours)
    return _("%(num)s days", num=hours // 24)


@dataclass(frozen=True)
class FeedItem:
    payment: Payment
    who: str          # the customer's name, their phone, or "M-Pesa customer"
    customer_id: int | None
    text: SmsMessage | None  # the receipt text, if one was queued


def recent_payments(limit: int = FEED_SIZE) -> list[FeedItem]:
    """The newest payments with who paid and the receipt text: the dashboard's live feed."""
    rows = db.session.execute(
        sa.select(Payment, Customer).outerjoin(Customer, Customer.id == Payment.customer_id)
        .order_by(Payment.id.desc()).limit(limit)).all()
    texts = receipts_for([payment.id for payment, _ in rows])
    return [FeedItem(payment, _who(payment, customer), payment.customer_id,
                     texts.get(payment.id)) for payment, customer in rows]


def _who(payment: Payment, customer: Customer | None) -> str:
    if customer is not None and customer.erased_at is None:
        name = " ".join(n for n in (customer.first_name, customer.last_name) if n)
        if name:
            return name
    if payment.first_name:
        return payment.first_name
    if customer is not None and customer.phone:
        return display_phone(customer.phone)
    # Safaricom sends a hash (or masks the number) instead of the payer's phone.
    return "M-Pesa customer"


@dataclass(frozen=True)
class Day:
    payments: int = 0
    amount: Decimal = Decimal(0)
    points: int = 0
    texts: int = 0


def today_and_yesterday(now: datetime | None = None) -> tuple[Day, Day]:
    """Payments, shillings, points and texts sent on the merchant's (Nairobi) today and
    yesterday, so the dashboard can say whether today is busier."""
    today = (now or datetime.now(timezone.utc)).astimezone(EAT).date()
    yesterday = today - timedelta(days=1)
    sums: dict[date, dict] = {}
    for row in channel_analytics(yesterday, today):
        day = sums.setdefault(row["day"], {"payments": 0, "amount": Decimal(0), "points": 0})
        day["payments"] += int(row["payments"])
        day["amount"] += Decimal(row["amount"])
        day["points"] += int(row["points"])
    return tuple(Day(**sums.get(day, {}), texts=_texts_sent(day)) for day in (today, yesterday))


def _texts_sent(day: date) -> int:
    start = datetime.combine(day, time(), EAT)
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(SmsMessage)
        .where(SmsMessage.status.in_(SENT_STATUSES), SmsMessage.sent_at >= start,
               SmsMessage.sent_at < start + timedelta(days=1))) or 0


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


def sms_previews(*, translations: dict | None = None, **rules) -> list[tuple[str, SmsPreview]]:
    """(language, preview) of the receipt in the merchant's default text language, which
    most customers get; when the program has texts of its own in another language
    (programs.sms_translations, which setup templates write), in every language too, the
    default first: a customer who chose the other one gets that text."""
    first = get_current_merchant().sms_language
    first = first if first in LANGUAGES else DEFAULT_LANGUAGE
    languages = [first]
    if any((translations or {}).get(language) for language in LANGUAGES
           if language != DEFAULT_LANGUAGE):
        languages += [language for language in LANGUAGES if language != first]
    return [(language, sms_preview(language=language, translations=translations, **rules))
            for language in languages]


def sms_preview(*, template: str | None, name: str, points_per_unit: int = 1,
                unit_amount: Decimal = Decimal("100"), multiplier: Decimal = Decimal("1"),
                min_amount: Decimal = Decimal("0"), stamps_required: int | None = None,
                stamp_reward: str | None = None, language: str = DEFAULT_LANGUAGE,
                translations: dict | None = None) -> SmsPreview:
    """The receipt a customer texted in `language` would get for the example payment under
    these rules, rendered by the same code that renders real receipts (so the same choice
    of text: the program's own in that language, else its English one, else the built-in
    one), with its encoding and SMS count."""
    program = SimpleNamespace(sms_template=(template or "").strip() or None, name=name or "Loyalty",
                              stamps_required=stamps_required, stamp_reward=stamp_reward,
                              sms_translations=translations)
    chosen = template_for(program, language)
    try:
        validate_template(chosen)
    except TemplateError as exc:
        return SmsPreview("", "GSM-7", 0, 0, EXAMPLE_AMOUNT, 0, tuple(exc.problems), ())
    points = points_for(EXAMPLE_AMOUNT, points_per_unit=points_per_unit, unit_amount=unit_amount,
                        multiplier=multiplier, min_amount=min_amount)
    text = render_receipt(program, first_name=EXAMPLE_FIRST_NAME,
                          earned=_example_earned(points, stamps_required),
                          merchant_name=get_current_merchant().sender_name,
                          language=language)
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
