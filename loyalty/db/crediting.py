"""The set-wise crediting batch's statements (services/crediting/batch.py), PostgreSQL.

One statement per table whatever the batch's size: each column travels as one array
parameter expanded with `unnest(…)`, so the SQL text never changes with the row count
(psycopg converts it once and prepares it, PostgreSQL keeps its plan), where one
execution per row or a VALUES list as long as the batch cost most of a batch's CPU.
Every statement carries the merchant of each of its rows (`merchant_id`, one per row)
and matches on it, which is what tenancy.py adds to ORM statements; only the batch's
first read, which takes waiting payments of any merchant, is cross-tenant.
"""

from __future__ import annotations

from typing import Any, Iterable

import sqlalchemy as sa

from loyalty.db.statements import ANY_OF, PER_ROW, Statement
from loyalty.models import LoyaltyProgram, MpesaChannel, Payment, PaymentStatus

_PAYMENTS = Payment.__table__
_CHANNELS = MpesaChannel.__table__
_PROGRAMS = LoyaltyProgram.__table__


def arrays(rows: Iterable[Any], names: Iterable[str], *, attrs: bool = False) -> dict[str, list]:
    """The rows (dicts, or objects with `attrs`) as one array per column: the shape the
    unnest() statements take."""
    rows = list(rows)
    if attrs:
        return {name: [getattr(row, name) for row in rows] for name in names}
    return {name: [row[name] for row in rows] for name in names}


# --- reads: the batch, and what routing and receipts need ---------------------------------

PAYMENT_COLUMNS = ("id", "merchant_id", "channel_id", "trans_id", "amount", "bill_ref",
                   "msisdn", "msisdn_form", "first_name", "middle_name", "last_name",
                   "status", "error", "attempts", "program_id", "matched_pattern",
                   "customer_id", "points", "credited_at", "created_at")

WAITING = Statement(
    "crediting.waiting",
    sa.select(*(_PAYMENTS.c[name] for name in PAYMENT_COLUMNS))
    .where(_PAYMENTS.c.status == PaymentStatus.RECEIVED)
    .order_by(_PAYMENTS.c.id).limit(sa.bindparam("limit"))
    .with_for_update(skip_locked=True),
    doc="Take up to `limit` waiting payments, oldest first, locked; SKIP LOCKED lets "
        "several worker processes share a backlog without waiting on each other.",
    cross_tenant="one worker drains the waiting payments of every merchant (a busy "
                 "merchant's backlog must not wait for a quiet one's task); every later "
                 "statement of the batch is bound to each payment's own merchant.")

CHANNELS = Statement(
    "crediting.channels",
    sa.select(_CHANNELS.c.id, _CHANNELS.c.merchant_id, _CHANNELS.c.name,
              _CHANNELS.c.environment, _CHANNELS.c.is_active, _CHANNELS.c.account_mapping)
    .where(_CHANNELS.c.id.in_(sa.bindparam("ids", expanding=True)),
           _CHANNELS.c.merchant_id.in_(sa.bindparam("merchant_id", expanding=True))),
    doc="The batch's channels, among its merchants' (batch.py checks each payment's "
        "channel is its own merchant's).",
    tenant="merchant_id", form=ANY_OF)

PROGRAMS = Statement(
    "crediting.programs",
    sa.select(_PROGRAMS).where(
        _PROGRAMS.c.merchant_id.in_(sa.bindparam("merchant_id", expanding=True))),
    doc="Every program of the batch's merchants, for routing in memory.",
    tenant="merchant_id", form=ANY_OF)

# --- writes ----------------------------------------------------------------------------------

OUTCOME = ("status", "error", "attempts", "program_id", "matched_pattern", "customer_id",
           "points", "credited_at")

PAYMENT_UPDATE = Statement("crediting.payment_update", sa.text("""
    UPDATE payments AS p
    SET status = v.status, error = v.error, attempts = v.attempts, program_id = v.program_id,
        matched_pattern = v.matched_pattern, customer_id = v.customer_id, points = v.points,
        credited_at = v.credited_at, updated_at = CAST(:now AS timestamptz)
    FROM unnest(CAST(:id AS integer[]), CAST(:merchant_id AS integer[]),
                CAST(:status AS text[]), CAST(:error AS text[]), CAST(:attempts AS integer[]),
                CAST(:program_id AS integer[]), CAST(:matched_pattern AS text[]),
                CAST(:customer_id AS integer[]), CAST(:points AS integer[]),
                CAST(:credited_at AS timestamptz[]))
         AS v(id, merchant_id, status, error, attempts, program_id, matched_pattern,
              customer_id, points, credited_at)
    WHERE p.id = v.id AND p.merchant_id = v.merchant_id"""),
    doc="Every payment's outcome, matched on id and merchant (the payments were locked in "
        "id order when the batch was taken).",
    tenant="merchant_id", form=PER_ROW)

CUSTOMER_NAMES = ("phone", "first_name", "middle_name", "last_name")

CUSTOMER_INSERT = Statement("crediting.customer_insert", sa.text("""
    INSERT INTO customers (merchant_id, phone_hash, phone, first_name, middle_name, last_name,
                           sms_opt_out, created_at, updated_at)
    SELECT v.merchant_id, v.phone_hash, v.phone, v.first_name, v.middle_name, v.last_name,
           false, CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:phone_hash AS text[]),
                CAST(:phone AS text[]), CAST(:first_name AS text[]),
                CAST(:middle_name AS text[]), CAST(:last_name AS text[])) WITH ORDINALITY
         AS v(merchant_id, phone_hash, phone, first_name, middle_name, last_name, n)
    ORDER BY v.n
    ON CONFLICT (merchant_id, phone_hash) DO NOTHING"""),
    doc="The new customers, in the order given (sorted by the batch: one order for every "
        "worker); those known already are left alone.",
    tenant="merchant_id", form=PER_ROW)

CUSTOMER_SELECT = Statement("crediting.customer_select", sa.text("""
    SELECT c.id, c.merchant_id, c.phone_hash, c.phone, c.first_name, c.middle_name,
           c.last_name, c.sms_opt_out, c.language
    FROM customers AS c
    JOIN unnest(CAST(:merchant_id AS integer[]), CAST(:phone_hash AS text[]))
         AS v(merchant_id, phone_hash)
      ON c.merchant_id = v.merchant_id AND c.phone_hash = v.phone_hash"""),
    doc="All of the batch's customers, new or not, matched on (merchant, phone hash), with "
        "the language their receipt is written in.",
    tenant="merchant_id", form=PER_ROW)

CUSTOMER_UPDATE = Statement("crediting.customer_update", sa.text("""
    UPDATE customers AS c
    SET phone = v.phone, first_name = v.first_name, middle_name = v.middle_name,
        last_name = v.last_name, updated_at = CAST(:now AS timestamptz)
    FROM unnest(CAST(:id AS integer[]), CAST(:merchant_id AS integer[]),
                CAST(:phone AS text[]), CAST(:first_name AS text[]),
                CAST(:middle_name AS text[]), CAST(:last_name AS text[]))
         AS v(id, merchant_id, phone, first_name, middle_name, last_name)
    WHERE c.id = v.id AND c.merchant_id = v.merchant_id"""),
    doc="What the batch filled in on its customers, matched on id and merchant.",
    tenant="merchant_id", form=PER_ROW)

BALANCE_INSERT = Statement("crediting.balance_insert", sa.text("""
    INSERT INTO balances (merchant_id, customer_id, program_id, points, lifetime_points,
                          stamps, rewards_earned)
    SELECT v.merchant_id, v.customer_id, v.program_id, 0, 0, 0, 0
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:customer_id AS integer[]),
                CAST(:program_id AS integer[])) WITH ORDINALITY
         AS v(merchant_id, customer_id, program_id, n)
    ORDER BY v.n
    ON CONFLICT (merchant_id, customer_id, program_id) DO NOTHING"""),
    doc="Creates the missing balances, zero, in the order given (sorted by the batch: two "
        "workers inserting the same new rows wait for each other instead of deadlocking); "
        "rows that exist already are left alone.",
    tenant="merchant_id", form=PER_ROW)

BALANCE_LOCK = Statement("crediting.balance_lock", sa.text("""
    SELECT b.id, b.merchant_id, b.customer_id, b.program_id, b.points, b.lifetime_points,
           b.stamps, b.rewards_earned
    FROM balances AS b
    JOIN unnest(CAST(:merchant_id AS integer[]), CAST(:customer_id AS integer[]),
                CAST(:program_id AS integer[])) AS v(merchant_id, customer_id, program_id)
      ON b.merchant_id = v.merchant_id AND b.customer_id = v.customer_id
         AND b.program_id = v.program_id
    ORDER BY b.id
    FOR UPDATE OF b"""),
    doc="Reads and locks the balances, matched on (merchant, customer, program), in id "
        "order: one order for every worker, so two batches that share balances never "
        "deadlock.",
    tenant="merchant_id", form=PER_ROW)

LEDGER_COLUMNS = ("merchant_id", "customer_id", "program_id", "kind", "points", "stamps",
                  "remaining", "payment_id", "redemption_id", "description", "created_at",
                  "experiment_id", "variant")

LEDGER_INSERT = Statement("crediting.ledger_insert", sa.text("""
    INSERT INTO ledger_entries (merchant_id, customer_id, program_id, kind, points, stamps,
                                remaining, payment_id, redemption_id, description, created_at,
                                experiment_id, variant)
    SELECT v.merchant_id, v.customer_id, v.program_id, v.kind, v.points, v.stamps,
           v.remaining, v.payment_id, v.redemption_id, v.description, v.created_at,
           v.experiment_id, v.variant
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:customer_id AS integer[]),
                CAST(:program_id AS integer[]), CAST(:kind AS text[]),
                CAST(:points AS integer[]), CAST(:stamps AS integer[]),
                CAST(:remaining AS integer[]), CAST(:payment_id AS integer[]),
                CAST(:redemption_id AS integer[]), CAST(:description AS text[]),
                CAST(:created_at AS timestamptz[]), CAST(:experiment_id AS integer[]),
                CAST(:variant AS text[])) WITH ORDINALITY
         AS v(merchant_id, customer_id, program_id, kind, points, stamps, remaining,
              payment_id, redemption_id, description, created_at, experiment_id, variant, n)
    ORDER BY v.n"""),
    doc="The batch's entries, in the order they were earned (their ids follow it: the "
        "oldest earns are spent first by created_at, then id). No ON CONFLICT: the unique "
        "(payment, kind) index refusing a second earn fails the statement, and with it the "
        "set-wise batch, whose payments are then credited one by one.",
    tenant="merchant_id", form=PER_ROW)

BALANCE_COLUMNS = ("id", "merchant_id", "points", "lifetime_points", "stamps", "rewards_earned")

BALANCE_UPDATE = Statement("crediting.balance_update", sa.text("""
    UPDATE balances AS b
    SET points = v.points, lifetime_points = v.lifetime_points, stamps = v.stamps,
        rewards_earned = v.rewards_earned
    FROM unnest(CAST(:id AS integer[]), CAST(:merchant_id AS integer[]),
                CAST(:points AS integer[]), CAST(:lifetime_points AS integer[]),
                CAST(:stamps AS integer[]), CAST(:rewards_earned AS integer[]))
         AS v(id, merchant_id, points, lifetime_points, stamps, rewards_earned)
    WHERE b.id = v.id AND b.merchant_id = v.merchant_id"""),
    doc="The changed balances (all locked by BALANCE_LOCK), matched on id and merchant.",
    tenant="merchant_id", form=PER_ROW)

SMS_COLUMNS = ("merchant_id", "customer_id", "payment_id", "purpose", "recipient",
               "recipient_form", "body", "encoding", "segments", "status", "attempts", "error",
               "reason", "created_at", "updated_at")

SMS_INSERT = Statement("crediting.sms_insert", sa.text("""
    INSERT INTO sms_messages (merchant_id, customer_id, payment_id, purpose, recipient,
                              recipient_form, body, encoding, segments, status, attempts,
                              error, reason, created_at, updated_at)
    SELECT v.merchant_id, v.customer_id, v.payment_id, v.purpose, v.recipient,
           v.recipient_form, v.body, v.encoding, v.segments, v.status, v.attempts, v.error,
           v.reason, v.created_at, v.updated_at
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:customer_id AS integer[]),
                CAST(:payment_id AS integer[]), CAST(:purpose AS text[]),
                CAST(:recipient AS text[]), CAST(:recipient_form AS text[]),
                CAST(:body AS text[]), CAST(:encoding AS text[]), CAST(:segments AS integer[]),
                CAST(:status AS text[]), CAST(:attempts AS integer[]), CAST(:error AS text[]),
                CAST(:reason AS text[]), CAST(:created_at AS timestamptz[]),
                CAST(:updated_at AS timestamptz[]))
         WITH ORDINALITY
         AS v(merchant_id, customer_id, payment_id, purpose, recipient, recipient_form, body,
              encoding, segments, status, attempts, error, reason, created_at, updated_at, n)
    ORDER BY v.n
    ON CONFLICT (payment_id, purpose) WHERE payment_id IS NOT NULL DO NOTHING
    RETURNING id, merchant_id, status"""),
    doc="The batch's receipts into the outbox, in the order given (WITH ORDINALITY … ORDER "
        "BY, so ids follow payment order); a row whose (payment, purpose) is in the outbox "
        "already is skipped, and the new rows come back with their merchant and status.",
    tenant="merchant_id", form=PER_ROW)
