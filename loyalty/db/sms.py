"""The SMS outbox's statements: what merchants may text today (services/sms_allowance.py),
and sending (services/messages.py claims, services/sms_outcomes.py records and releases).

The sending ones each run as a unit of work of their own (alone.execute_alone) and name
the current merchant themselves, as tenancy.py would add to an ORM statement. Their
parameters are prefixed (`c_`, `m_`, `r_`) because a Core UPDATE may not bind a parameter
by a column's name.
"""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.db.statements import ANY_OF, Statement
from loyalty.models import (
    Environment,
    Merchant,
    MpesaChannel,
    SenderId,
    SenderIdState,
    SmsDayCount,
    SmsMessage,
    SmsStatus,
)
from loyalty.models.messages import QUOTA_EXEMPT_PURPOSE

_SMS = SmsMessage.__table__
_MERCHANTS = Merchant.__table__
_CHANNELS = MpesaChannel.__table__
_SENDERS = SenderId.__table__
_DAY_COUNTS = SmsDayCount.__table__

def _allowances(name: str, texts_today, doc: str) -> Statement:
    return Statement(
        name,
        sa.select(
            _MERCHANTS.c.id,
            # `{merchant}` in texts: the display name when the merchant set one (branding).
            sa.func.coalesce(_MERCHANTS.c.brand_display_name, _MERCHANTS.c.business_name)
            .label("business_name"), _MERCHANTS.c.phone,
            _MERCHANTS.c.sms_test_numbers, _MERCHANTS.c.sms_language,
            sa.exists().where(_CHANNELS.c.merchant_id == _MERCHANTS.c.id,
                              _CHANNELS.c.environment == Environment.PRODUCTION,
                              _CHANNELS.c.is_active.is_(True), _CHANNELS.c.archived_at.is_(None))
            .label("production"),
            texts_today.label("texts_today"))
        .where(_MERCHANTS.c.id.in_(sa.bindparam("merchant_id", expanding=True))),
        doc="Per merchant: its name, its own numbers, its texts' default language, whether "
            "a production channel is active and " + doc + " One statement for a whole "
            "crediting batch, however many payments it has.",
        tenant="merchant_id", form=ANY_OF)


ALLOWANCES = _allowances(
    "sms.allowances",
    sa.func.coalesce(
        sa.select(_DAY_COUNTS.c.texts)
        .where(_DAY_COUNTS.c.merchant_id == _MERCHANTS.c.id,
               _DAY_COUNTS.c.day == sa.bindparam("day"))
        .scalar_subquery(), 0),
    "how many of its texts count against its quota on the Nairobi day `day` (one row of "
    "sms_day_counts, which triggers keep: migration 0032).")

# SQLite has no such triggers (`make run`): the same figure, counted.
ALLOWANCES_COUNTED = _allowances(
    "sms.allowances_counted",
    sa.select(sa.func.count()).where(_SMS.c.merchant_id == _MERCHANTS.c.id,
                                     _SMS.c.created_at >= sa.bindparam("since"),
                                     _SMS.c.status != SmsStatus.SKIPPED,
                                     _SMS.c.purpose != QUOTA_EXEMPT_PURPOSE)
    .scalar_subquery(),
    "how many texts it has had since `since` (skipped ones and its own password-reset "
    "texts do not count: the partial index ix_sms_messages_counted holds exactly the "
    "counted rows).")

CLAIM = Statement(
    "sms.claim",
    sa.update(_SMS)
    .where(_SMS.c.id.in_(sa.bindparam("c_ids", expanding=True)),
           _SMS.c.merchant_id == sa.bindparam("c_merchant"),
           _SMS.c.status == SmsStatus.QUEUED,
           sa.or_(_SMS.c.claimed_until.is_(None), _SMS.c.claimed_until < sa.bindparam("c_now")),
           # A promotional text held until its window opens is not sent before.
           sa.or_(_SMS.c.not_before.is_(None), _SMS.c.not_before <= sa.bindparam("c_now")))
    # updated_at stays: it tells the outbox sweep how long the message has been waiting.
    .values(claimed_until=sa.bindparam("c_until"), updated_at=_SMS.c.updated_at)
    .returning(_SMS.c.id, _SMS.c.recipient, _SMS.c.recipient_form, _SMS.c.body,
               _SMS.c.attempts, _SMS.c.purpose, _SMS.c.kind),
    doc="Claim these messages that are still queued, due, and not held by another sender: the "
        "outbox sweep or a redelivered task that reads them meanwhile gets nothing, so no "
        "text goes out twice at once.",
    tenant="c_merchant")

CLAIM_NEXT = Statement(
    "sms.claim_next",
    sa.update(_SMS)
    .where(_SMS.c.id.in_(
        sa.select(_SMS.c.id)
        .where(_SMS.c.status == SmsStatus.QUEUED,
               sa.or_(_SMS.c.claimed_until.is_(None), _SMS.c.claimed_until < sa.bindparam("now")),
               sa.or_(_SMS.c.not_before.is_(None), _SMS.c.not_before <= sa.bindparam("now")),
               _SMS.c.merchant_id.not_in(sa.bindparam("skip", expanding=True)))
        # the partial index of queued messages (ix_sms_messages_queued) is on updated_at
        .order_by(_SMS.c.updated_at).limit(sa.bindparam("limit"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()))
    .values(claimed_until=sa.bindparam("until"), updated_at=_SMS.c.updated_at)
    .returning(_SMS.c.merchant_id, _SMS.c.id, _SMS.c.recipient, _SMS.c.recipient_form,
               _SMS.c.body, _SMS.c.attempts, _SMS.c.purpose, _SMS.c.kind),
    doc="Claim up to `limit` messages waiting to be sent and free to claim, longest waiting "
        "first, except those of the merchants in `skip`: what a draining sender with room "
        "in its window takes on next (services/messages.py). SKIP LOCKED: senders draining "
        "at once get different messages, none waits on another.",
    cross_tenant="one sender keeps its gateway calls busy with every merchant's waiting "
                 "texts; each one's outcome is then written as its own merchant.")

RECORD = Statement(
    "sms.record",
    sa.update(_SMS)
    .where(_SMS.c.id == sa.bindparam("m_id"), _SMS.c.merchant_id == sa.bindparam("m_merchant"))
    .values(attempts=_SMS.c.attempts + 1, updated_at=sa.bindparam("m_now"),
            claimed_until=None, status=sa.bindparam("m_status"), error=sa.bindparam("m_error"),
            reason=sa.bindparam("m_reason"), provider_message_id=sa.bindparam("m_provider"),
            sent_at=sa.bindparam("m_sent_at"), cost=sa.bindparam("m_cost")),
    doc="One send's outcome (SQLite; run once per outcome in one call).",
    tenant="m_merchant")

RECORD_ALL = Statement("sms.record_all", sa.text("""
    UPDATE sms_messages AS s
    SET attempts = s.attempts + 1, updated_at = CAST(:now AS timestamptz), claimed_until = NULL,
        status = v.status, error = v.error, reason = v.reason, provider_message_id = v.provider,
        sent_at = v.sent_at, cost = v.cost
    FROM unnest(CAST(:id AS integer[]), CAST(:status AS text[]), CAST(:error AS text[]),
                CAST(:reason AS text[]), CAST(:provider AS text[]),
                CAST(:sent_at AS timestamptz[]), CAST(:cost AS text[]))
         AS v(id, status, error, reason, provider, sent_at, cost)
    WHERE s.id = v.id AND s.merchant_id = CAST(:merchant AS integer)"""),
    doc="PostgreSQL: RECORD for a whole flush in one statement of constant text (one array "
        "per column, as the crediting writes), not one execution per text.",
    tenant="merchant")

RELEASE = Statement(
    "sms.release",
    sa.update(_SMS)
    .where(_SMS.c.id.in_(sa.bindparam("r_ids", expanding=True)),
           _SMS.c.merchant_id == sa.bindparam("r_merchant"))
    .values(claimed_until=None, updated_at=_SMS.c.updated_at),
    doc="Messages claimed but not attempted: back to the queue at once, attempts unchanged.",
    tenant="r_merchant")

HOLD = Statement(
    "sms.hold",
    sa.update(_SMS)
    .where(_SMS.c.id == sa.bindparam("h_id"), _SMS.c.merchant_id == sa.bindparam("h_merchant"))
    .values(claimed_until=None, not_before=sa.bindparam("h_until"), updated_at=_SMS.c.updated_at),
    doc="A promotional text claimed outside its sending window (a retry that slipped past "
        "18:00 Nairobi time): back to the queue, held until the window opens.",
    tenant="h_merchant")

MASK = Statement(
    "sms.mask",
    sa.update(_SMS)
    .where(_SMS.c.id == sa.bindparam("k_id"), _SMS.c.merchant_id == sa.bindparam("k_merchant"))
    .values(body=sa.bindparam("k_body"), updated_at=_SMS.c.updated_at),
    doc="A sent (or given up) text whose body held a secret (a password-reset code) keeps "
        "its body masked: run once per such text, in one call, only when there are some.",
    tenant="k_merchant")


def _approved(category: str) -> sa.ScalarSelect:
    return (sa.select(_SENDERS.c.sender_id)
            .where(_SENDERS.c.merchant_id == _MERCHANTS.c.id, _SENDERS.c.category == category,
                   _SENDERS.c.state == SenderIdState.APPROVED.value)
            .scalar_subquery())


SENDING_ROUTE = Statement(
    "sms.sending_route",
    sa.select(_MERCHANTS.c.sms_username, _MERCHANTS.c.sms_api_key,
              _approved("transactional").label("transactional"),
              _approved("promotional").label("promotional"))
    .where(_MERCHANTS.c.id == sa.bindparam("r_merchant")),
    doc="How a merchant's texts go out (services/sms_accounts.py): its own Africa's Talking "
        "account if it has one (the key decrypted by the column type) and its approved "
        "sender ID per category. One round trip before each chunk is claimed.",
    tenant="r_merchant")
