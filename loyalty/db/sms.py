"""Sending from the SMS outbox (services/notifications.py): claim, outcomes, release.

Each runs as a unit of work of its own (alone.execute_alone) and names the current
merchant itself, as tenancy.py would add to an ORM statement. The parameters are prefixed
(`c_`, `m_`, `r_`) because a Core UPDATE may not bind a parameter by a column's name.
"""

from __future__ import annotations

import sqlalchemy as sa

from loyalty.db.statements import Statement
from loyalty.models import SmsMessage, SmsStatus

_SMS = SmsMessage.__table__

CLAIM = Statement(
    "sms.claim",
    sa.update(_SMS)
    .where(_SMS.c.id.in_(sa.bindparam("c_ids", expanding=True)),
           _SMS.c.merchant_id == sa.bindparam("c_merchant"),
           _SMS.c.status == SmsStatus.QUEUED,
           sa.or_(_SMS.c.claimed_until.is_(None), _SMS.c.claimed_until < sa.bindparam("c_now")))
    # updated_at stays: it tells the outbox sweep how long the message has been waiting.
    .values(claimed_until=sa.bindparam("c_until"), updated_at=_SMS.c.updated_at)
    .returning(_SMS.c.id, _SMS.c.recipient, _SMS.c.recipient_form, _SMS.c.body,
               _SMS.c.attempts, _SMS.c.purpose),
    doc="Claim these messages that are still queued and not held by another sender: the "
        "outbox sweep or a redelivered task that reads them meanwhile gets nothing, so no "
        "text goes out twice at once.",
    tenant="c_merchant")

RECORD = Statement(
    "sms.record",
    sa.update(_SMS)
    .where(_SMS.c.id == sa.bindparam("m_id"), _SMS.c.merchant_id == sa.bindparam("m_merchant"))
    .values(attempts=_SMS.c.attempts + 1, updated_at=sa.bindparam("m_now"),
            claimed_until=None, status=sa.bindparam("m_status"), error=sa.bindparam("m_error"),
            provider_message_id=sa.bindparam("m_provider"),
            sent_at=sa.bindparam("m_sent_at")),
    doc="One send's outcome (SQLite; run once per outcome in one call).",
    tenant="m_merchant")

RECORD_ALL = Statement("sms.record_all", sa.text("""
    UPDATE sms_messages AS s
    SET attempts = s.attempts + 1, updated_at = CAST(:now AS timestamptz), claimed_until = NULL,
        status = v.status, error = v.error, provider_message_id = v.provider,
        sent_at = v.sent_at
    FROM unnest(CAST(:id AS integer[]), CAST(:status AS text[]), CAST(:error AS text[]),
                CAST(:provider AS text[]), CAST(:sent_at AS timestamptz[]))
         AS v(id, status, error, provider, sent_at)
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

MASK = Statement(
    "sms.mask",
    sa.update(_SMS)
    .where(_SMS.c.id == sa.bindparam("k_id"), _SMS.c.merchant_id == sa.bindparam("k_merchant"))
    .values(body=sa.bindparam("k_body"), updated_at=_SMS.c.updated_at),
    doc="A sent (or given up) text whose body held a secret (a password-reset code) keeps "
        "its body masked: run once per such text, in one call, only when there are some.",
    tenant="k_merchant")
