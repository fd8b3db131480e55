"""What Africa's Talking tells us after a send, and what customers text back (SMS.md 3.2-3.4).

- **Delivery reports** move a text `sent -> delivered|failed` with the reason; several can
  arrive per message (`Sent`, `Submitted`, `Buffered`, then a final one), the latest final
  one wins. `UserInBlackList` means the subscriber blocked the sender: the customer is
  opted out (source `gateway`), as for a send answered `406 UserInBlacklist`.
- **Inbound texts**: `STOP` opts the phone out of every merchant that texts through the
  sender or shortcode it was sent to, `STOP <keyword>` of that merchant only, `START`
  (`START <keyword>`) opts back in (source `sms`). The shortcode is the platform's, shared
  by every merchant, and most merchants text through the platform's sender (an approved
  sender ID of their own is the exception), so a plain STOP stops every merchant that has
  this phone as a customer: when in doubt, silence. A keyword no merchant has is read as a
  plain STOP: the customer asked for silence.
- **Language**: `KISWAHILI` (or `SWAHILI`) and `ENGLISH` (or `KIINGEREZA`), with a merchant
  keyword or without, set the language of the customer's texts as STOP scopes it. Not a
  consent change, so nothing is added to the consent history.
- **The bulk opt-out notification** (senderId, phoneNumber): the subscriber blocked a sender
  ID through Safaricom's `*456#` menu; every merchant texting through it stops. A merchant's
  own approved sender ID names that merchant (blocking "MBOGA" says nothing about the other
  shops the customer pays); any other name (the platform's sender, or none) every merchant.

Callbacks carry no merchant: customers are found across merchants by phone hash (the one
bypass, `all_merchants()`), then each merchant's change runs as that merchant.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.models import (
    ConsentSource,
    Customer,
    Merchant,
    SenderId,
    SenderIdState,
    SmsMessage,
    SmsStatus,
)
from loyalty.models.base import utcnow
from loyalty.phones import InvalidPhone, hash_msisdn, normalise_msisdn
from loyalty.services import consent
from loyalty.services.webhooks import events as webhook_events
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import transactional

log = logging.getLogger(__name__)

DELIVERED = frozenset({"success"})
FAILED = frozenset({"rejected", "failed", "expired"})
BLACKLISTED = "userinblacklist"  # DLR spelling UserInBlackList, send spelling UserInBlacklist
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "SUBSCRIBE"})
LANGUAGE_WORDS = {"KISWAHILI": "sw", "SWAHILI": "sw", "ENGLISH": "en", "KIINGEREZA": "en"}


@dataclass(frozen=True)
class Outcome:
    """What a callback changed, for the answer and the log (never a phone number)."""

    action: str
    customers: int = 0


def _field(fields: dict, name: str, limit: int = 200) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    # What PostgreSQL text cannot hold (NUL, lone surrogates) never reaches a query.
    text = str(value).replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text.strip()[:limit]


@transactional
def delivery_report(fields: dict) -> Outcome:
    message_id, status = _field(fields, "id", 100), _field(fields, "status", 30)
    reason = _field(fields, "failureReason", 100) or None
    if not message_id:
        return Outcome("ignored")
    with all_merchants():  # AT's id is unique to one text; its merchant is read from it
        found = db.session.execute(sa.select(SmsMessage.id, SmsMessage.merchant_id,
                                             SmsMessage.customer_id, SmsMessage.status)
                                   .where(SmsMessage.provider_message_id == message_id)).first()
    if found is None:
        return Outcome("unknown message")
    lowered = status.lower()
    if lowered not in DELIVERED | FAILED:
        return Outcome("in progress")  # Sent, Submitted, Buffered: a final report follows
    with tenant_context(found.merchant_id):
        delivered = lowered in DELIVERED
        db.session.execute(
            sa.update(SmsMessage).where(SmsMessage.id == found.id).values(
                status=SmsStatus.DELIVERED if delivered else SmsStatus.FAILED,
                delivered_at=utcnow() if delivered else None,
                failure_reason=None if delivered else (reason or status),
                error=None if delivered else f"Not delivered: {reason or status}",
                updated_at=utcnow()),
            execution_options={"synchronize_session": False})
        if not delivered:  # the merchant's own systems hear of it too (sms.delivery_failed)
            webhook_events.sms_failed({found.id: f"Not delivered: {reason or status}"})
        changed = 0
        if not delivered and (reason or "").lower() == BLACKLISTED and found.customer_id:
            changed = opt_out_customer(found.customer_id, ConsentSource.GATEWAY,
                                       f"Delivery report: {reason} (blocked the sender)")
    return Outcome("delivered" if delivered else "failed", changed)


def opt_out_customer(customer_id: int, source: ConsentSource, detail: str) -> int:
    """Opt one customer of the current merchant out; 1 when it changed anything."""
    customer = db.session.scalar(sa.select(Customer).where(Customer.id == customer_id)
                                 .with_for_update())
    if customer is None:
        return 0
    return len(consent.change(customer, source=source, sms_opt_out=True, detail=detail))


@transactional
def inbound(fields: dict) -> Outcome:
    """A text a customer sent to the platform's shortcode."""
    phone = _phone(_field(fields, "from", 40))
    words = _field(fields, "text", 160).upper().split()
    to = _field(fields, "to", 20)
    if phone is None or not words or (
            words[0] not in STOP_WORDS | START_WORDS and words[0] not in LANGUAGE_WORDS):
        return Outcome("ignored")
    merchant_ids = _keyword_merchant(words[1] if len(words) > 1 else None)
    if words[0] in LANGUAGE_WORDS:
        return Outcome("language", _set_language(phone, LANGUAGE_WORDS[words[0]], merchant_ids))
    stop = words[0] in STOP_WORDS
    said = " ".join(words[:2]) + (f" to {to}" if to else "")
    changed = _set_opt_out(phone, stop, merchant_ids, ConsentSource.SMS, f"Texted {said}")
    return Outcome("stop" if stop else "start", changed)


def _keyword_merchant(keyword: str | None) -> list[int] | None:
    """[the merchant whose keyword it is], or None (every merchant) for none or an unknown
    one: the customer's wish still stands."""
    if not keyword:
        return None
    with all_merchants():
        merchant = db.session.scalar(sa.select(Merchant.id).where(Merchant.sms_keyword == keyword))
    return [merchant] if merchant is not None else None


def _set_language(phone: str, language: str, merchant_ids: list[int] | None) -> int:
    """The language of the phone's texts at these merchants, or every merchant that knows
    it; how many customers changed. One statement: the text names a phone, not a merchant."""
    query = sa.update(Customer).where(Customer.phone_hash == hash_msisdn(phone),
                                      Customer.language.is_distinct_from(language))
    if merchant_ids is not None:
        query = query.where(Customer.merchant_id.in_(merchant_ids))
    with all_merchants():  # the one bypass, as for STOP
        return db.session.execute(query.values(language=language, updated_at=utcnow()),
                                  execution_options={"synchronize_session": False}).rowcount


@transactional
def bulk_opt_out(fields: dict) -> Outcome:
    """AT's "Bulk SMS Opt Out" notification: the subscriber blocked our sender ID."""
    phone = _phone(_field(fields, "phoneNumber", 40))
    if phone is None:
        return Outcome("ignored")
    sender = _field(fields, "senderId", 20)
    changed = _set_opt_out(phone, True, _sender_merchants(sender), ConsentSource.GATEWAY,
                           f"Opted out of sender ID {sender}".strip())
    return Outcome("stop", changed)


def _sender_merchants(sender: str) -> list[int] | None:
    """The merchants whose approved sender ID this is, or None (every merchant) for the
    platform's sender or a name no merchant has: the subscriber blocked it, so stop."""
    name = " ".join(sender.upper().split())
    if not name:
        return None
    with all_merchants():
        found = db.session.scalars(sa.select(SenderId.merchant_id).where(
            sa.func.upper(SenderId.sender_id) == name,
            SenderId.state == SenderIdState.APPROVED).distinct()).all()
    return list(found) or None


def _phone(text: str) -> str | None:
    try:
        return normalise_msisdn(text)
    except InvalidPhone:
        return None


def _set_opt_out(phone: str, value: bool, merchant_ids: list[int] | None,
                 source: ConsentSource, detail: str) -> int:
    """Opt the phone out (or back in) at these merchants, or every merchant that knows it."""
    query = sa.select(Customer.merchant_id, Customer.id).where(
        Customer.phone_hash == hash_msisdn(phone))
    if merchant_ids is not None:
        query = query.where(Customer.merchant_id.in_(merchant_ids))
    with all_merchants():  # the one bypass: the text names a phone, not a merchant
        found = db.session.execute(query.order_by(Customer.merchant_id)).all()
    changed = 0
    for merchant_id, customer_id in found:
        with tenant_context(merchant_id):
            customer = db.session.scalar(sa.select(Customer).where(Customer.id == customer_id)
                                         .with_for_update())
            changed += bool(consent.change(customer, source=source, sms_opt_out=value,
                                           detail=detail))
    return changed


def opt_out_blacklisted(message_ids: list[int]) -> int:
    """The senders of texts answered `406 UserInBlacklist` (current merchant): opted out."""
    customers = db.session.scalars(sa.select(SmsMessage.customer_id).where(
        SmsMessage.id.in_(message_ids), SmsMessage.customer_id.is_not(None))).all()
    return sum(opt_out_customer(c, ConsentSource.GATEWAY,
                                "Send refused: 406 UserInBlacklist (blocked the sender)")
               for c in set(customers))
