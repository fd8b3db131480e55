"""Texting customers: the SMS outbox and sending from it.

The outbox row is written in the crediting transaction, unique per (payment, purpose), so
a duplicate callback or a replay never queues a second text. Sending happens later, in a
worker, outside any database transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from loyalty.extensions import db
from loyalty.models import Customer, LoyaltyProgram, Merchant, Payment, SmsMessage, SmsStatus
from loyalty.models.base import utcnow
from loyalty.services.ledger import Earned
from loyalty.services.sql import execute_alone, insert_ignore
from loyalty.sms import backend_from_config
from loyalty.sms.base import SmsUnavailable, mask_msisdn
from loyalty.sms.segments import encoding, segment_count
from loyalty.sms.templates import (
    DEFAULT_POINTS_TEMPLATE,
    DEFAULT_STAMPS_TEMPLATE,
    FIRST_NAME_FALLBACK,
    render,
)
from loyalty.tenancy import current_merchant_id, tenant_context
from loyalty.unit_of_work import unit_of_work

log = logging.getLogger(__name__)

PAYMENT_RECEIPT = "payment_receipt"
RETRYABLE = (SmsUnavailable,)


def template_for(program: LoyaltyProgram) -> str:
    if program.sms_template:
        return program.sms_template
    return DEFAULT_STAMPS_TEMPLATE if program.stamps_required else DEFAULT_POINTS_TEMPLATE


def render_receipt(program: LoyaltyProgram, *, first_name: str | None, earned: Earned,
                   merchant_name: str) -> str:
    """The "You earned…" text for a payment."""
    return render(template_for(program), {
        "first_name": first_name or FIRST_NAME_FALLBACK, "points": earned.points,
        "balance": earned.balance, "program_name": program.name,
        "stamps_left": earned.stamps_left, "reward": program.stamp_reward,
        "merchant": merchant_name})


def queue_receipt(payment: Payment, customer: Customer, program: LoyaltyProgram,
                  earned: Earned, *, batch: "SmsBatch | None" = None,
                  merchant_name: str | None = None) -> int | None:
    """Write the receipt SMS to the outbox; the new id when it must be sent, else None.

    Enrolled (or plainly identified) customers are texted at their phone; payers known only
    by hash through the hashed-number send (transactional only); opted-out customers get
    nothing, recorded as skipped with the reason. With a `batch`, the row is staged there
    and written with the batch's others (its id is known only then)."""
    if merchant_name is None:
        merchant_name = db.session.get(Merchant, payment.merchant_id).business_name
    body = render_receipt(program, first_name=customer.first_name or payment.first_name,
                          earned=earned, merchant_name=merchant_name)
    if customer.phone:
        recipient, form = customer.phone, "plain"
    else:
        recipient, form = customer.phone_hash, "hashed"
    status, error = SmsStatus.QUEUED, None
    if customer.sms_opt_out:
        status, error = SmsStatus.SKIPPED, "The customer opted out of SMS."
    row = {"customer_id": customer.id, "payment_id": payment.id, "purpose": PAYMENT_RECEIPT,
           "recipient": recipient, "recipient_form": form, "body": body,
           "encoding": encoding(body), "segments": segment_count(body), "status": status,
           "attempts": 0, "error": error, "created_at": utcnow(), "updated_at": utcnow()}
    if batch is not None:
        batch.stage(payment.merchant_id, row)
        return None
    new_id = insert_ignore(SmsMessage, row, ["payment_id", "purpose"],
                           where=SmsMessage.payment_id.is_not(None))
    return new_id if status == SmsStatus.QUEUED else None


class SmsBatch:
    """The outbox rows of a crediting batch, written with one statement (unique per
    payment and purpose, so a replayed payment never queues a second text)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self._staged: list[dict] = []

    def stage(self, merchant_id: int, row: dict) -> None:
        self._staged.append({"merchant_id": merchant_id, "customer_id": None, **row})

    def keep(self) -> None:
        self.rows.extend(self._staged)
        self._staged = []

    def drop(self) -> None:
        self._staged = []

    def write(self, connection) -> list[tuple[int, int]]:
        """Insert the rows; the (merchant_id, message_id) pairs to send."""
        if not self.rows:
            return []
        # in payment order, as one payment at a time would
        rows = sorted(self.rows, key=lambda row: row["payment_id"])
        inserted = connection.execute(_SMS_INSERT, {
            name: [row[name] for row in rows] for name in _SMS_COLUMNS}).all()
        return [(row.merchant_id, row.id) for row in sorted(inserted, key=lambda r: r.id)
                if row.status == SmsStatus.QUEUED]


# One statement per batch whatever its size: each column is one array parameter expanded
# with unnest(), so the SQL text is constant (psycopg converts it once, PostgreSQL keeps
# its plan). The rows go in in the order given (WITH ORDINALITY … ORDER BY), so ids follow
# payment order; a row whose (payment, purpose) is in the outbox already is skipped, and
# the new rows come back with their merchant and status.
_SMS_COLUMNS = ("merchant_id", "customer_id", "payment_id", "purpose", "recipient",
                "recipient_form", "body", "encoding", "segments", "status", "attempts", "error",
                "created_at", "updated_at")
_SMS_INSERT = sa.text("""
    INSERT INTO sms_messages (merchant_id, customer_id, payment_id, purpose, recipient,
                              recipient_form, body, encoding, segments, status, attempts,
                              error, created_at, updated_at)
    SELECT v.merchant_id, v.customer_id, v.payment_id, v.purpose, v.recipient,
           v.recipient_form, v.body, v.encoding, v.segments, v.status, v.attempts, v.error,
           v.created_at, v.updated_at
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:customer_id AS integer[]),
                CAST(:payment_id AS integer[]), CAST(:purpose AS text[]),
                CAST(:recipient AS text[]), CAST(:recipient_form AS text[]),
                CAST(:body AS text[]), CAST(:encoding AS text[]), CAST(:segments AS integer[]),
                CAST(:status AS text[]), CAST(:attempts AS integer[]), CAST(:error AS text[]),
                CAST(:created_at AS timestamptz[]), CAST(:updated_at AS timestamptz[]))
         WITH ORDINALITY
         AS v(merchant_id, customer_id, payment_id, purpose, recipient, recipient_form, body,
              encoding, segments, status, attempts, error, created_at, updated_at, n)
    ORDER BY v.n
    ON CONFLICT (payment_id, purpose) WHERE payment_id IS NOT NULL DO NOTHING
    RETURNING id, merchant_id, status""")


@dataclass(frozen=True)
class Outgoing:
    id: int
    recipient: str
    form: str
    body: str
    attempts: int


def _backend():
    backend = current_app.extensions.get("sms_backend")
    if backend is None:
        backend = current_app.extensions["sms_backend"] = backend_from_config(current_app.config)
    return backend


# Sending claims up to CHUNK messages with one statement and records their outcomes with
# one statement per flush, instead of a claim and an outcome (two commits) per text: under
# a backlog the two commits per text were most of the cost of a text (bench/README.md).
CHUNK = 50
# Outcomes are written at least this often (and at the end of every chunk): a worker that
# dies after the gateway accepted a text but before its outcome was written sends it again
# once its claim runs out, so this bounds how much could go out twice.
FLUSH_SECONDS = 1.0


def send_message(message_id: int, *, final_attempt: bool = True) -> None:
    """Worker: send one queued message (idempotent: anything not queued is left alone).
    Raises a RETRYABLE error while the gateway is down, unless this is the last try."""
    if _send_chunk([message_id], final_attempt=final_attempt) and not final_attempt:
        raise SmsUnavailable("the SMS gateway is unavailable; try again later")


def send_batch(messages: list[tuple[int, int]], *, final_attempt: bool = True) -> list[tuple[int, int]]:
    """Worker: send (merchant_id, message_id) pairs; returns the ones to retry later."""
    retry = []
    by_merchant: dict[int, list[int]] = {}
    for merchant_id, message_id in messages:
        by_merchant.setdefault(merchant_id, []).append(message_id)
    for merchant_id, message_ids in by_merchant.items():
        with tenant_context(merchant_id):
            for start in range(0, len(message_ids), CHUNK):
                chunk = message_ids[start:start + CHUNK]
                retry += [(merchant_id, i) for i in _send_chunk(chunk, final_attempt=final_attempt)]
    return retry


def _send_chunk(message_ids: list[int], *, final_attempt: bool) -> list[int]:
    """Claim these messages (those still queued and not held by another sender), send them
    in order and record each outcome; the ids to retry later.

    Once the gateway is unavailable the rest of the chunk is not tried (each would wait for
    its own timeout): they are released, unattempted, and retried with the others. The
    same happens to whatever is left when half the claim has run out, so a slow gateway
    never lets a claim lapse while its message is still being sent."""
    claimed = _queued(message_ids)
    give_up_at = time.monotonic() + current_app.config["SMS_CLAIM_SECONDS"] / 2
    outcomes = _Outcomes()
    retry: list[int] = []
    try:
        for index, outgoing in enumerate(claimed):
            if time.monotonic() > give_up_at:
                rest = [o.id for o in claimed[index:]]
                outcomes.release(rest)
                retry += rest
                break
            outcome = _attempt(outgoing, final_attempt=final_attempt)
            outcomes.add(outcome)
            if outcome["m_status"] == SmsStatus.QUEUED:  # to be retried
                retry.append(outgoing.id)
            if outcome.get("unavailable"):
                rest = [o.id for o in claimed[index + 1:]]
                outcomes.release(rest)
                retry += rest
                break
            outcomes.flush_if_due()
    finally:
        outcomes.flush()
        # One line per chunk, not per text (each text's outcome is on its outbox row).
        log.info("SMS: %d of %d claimed sent, %d to retry", outcomes.sent, len(claimed), len(retry))
    return retry


def _queued(message_ids: list[int]) -> list[Outgoing]:
    """Claim the current merchant's messages among these that are still queued and not
    held by another sender, in that order (one statement)."""
    now = utcnow()
    # Claim them: the outbox sweep or a redelivered task that reads the same rows while
    # this worker is still sending gets nothing, so no text goes out twice at once. One
    # prepared UPDATE, committed on its own (sql.execute_alone): a claim is the whole unit
    # of work, and repeating it after a dropped connection at worst leaves the messages to
    # the sweep once the claim runs out. Core, so it names the current merchant itself.
    with unit_of_work():
        rows = execute_alone(_CLAIM, {
            "c_ids": list(message_ids), "c_merchant": current_merchant_id(), "c_now": now,
            "c_until": now + timedelta(seconds=current_app.config["SMS_CLAIM_SECONDS"])},
            rows=True)
    found = {row.id: Outgoing(row.id, row.recipient, row.recipient_form, row.body, row.attempts)
             for row in rows}
    return [found[i] for i in message_ids if i in found]


def _claim_statement():
    table = SmsMessage.__table__
    return (sa.update(table)
            .where(table.c.id.in_(sa.bindparam("c_ids", expanding=True)),
                   table.c.merchant_id == sa.bindparam("c_merchant"),
                   table.c.status == SmsStatus.QUEUED,
                   sa.or_(table.c.claimed_until.is_(None),
                          table.c.claimed_until < sa.bindparam("c_now")))
            # updated_at stays: it tells the sweep how long the message has been waiting.
            .values(claimed_until=sa.bindparam("c_until"), updated_at=table.c.updated_at)
            .returning(table.c.id, table.c.recipient, table.c.recipient_form, table.c.body,
                       table.c.attempts))


_CLAIM = _claim_statement()


def _attempt(outgoing: Outgoing, *, final_attempt: bool) -> dict:
    """Send one text; its outcome as the parameters of _RECORD (not yet written)."""
    backend = _backend()
    outcome = {"m_id": outgoing.id, "m_provider": None, "m_sent_at": None, "m_error": None}
    try:
        if outgoing.form == "hashed":
            result = backend.send_hashed(outgoing.recipient, outgoing.body)
        else:
            result = backend.send(outgoing.recipient, outgoing.body)
    except SmsUnavailable as exc:
        outcome.update(m_error=f"SMS gateway unavailable: {exc}", unavailable=True,
                       m_status=SmsStatus.FAILED if final_attempt else SmsStatus.QUEUED)
        log.info("SMS %s to %s: gateway unavailable", outgoing.id, mask_msisdn(outgoing.recipient))
        return outcome
    if result.status == "sent":
        outcome.update(m_status=SmsStatus.SENT, m_provider=result.provider_message_id,
                       m_sent_at=utcnow())
    else:
        again = result.retryable and not final_attempt
        outcome.update(m_status=SmsStatus.QUEUED if again else SmsStatus.FAILED,
                       m_error=result.error)
    log.debug("SMS %s to %s: %s", outgoing.id, mask_msisdn(outgoing.recipient), result.status)
    return outcome


class _Outcomes:
    """Outcomes waiting to be written, with one statement (one commit) per flush. Core, so
    each names the current merchant itself (and raises TenantNotSet without one), as
    tenancy.py would add to an ORM statement."""

    def __init__(self) -> None:
        self.pending: list[dict] = []
        self.released: list[int] = []
        self.flushed_at = time.monotonic()
        self.sent = 0

    def add(self, outcome: dict) -> None:
        self.pending.append(outcome)
        self.sent += outcome["m_status"] == SmsStatus.SENT

    def release(self, message_ids: list[int]) -> None:
        self.released += message_ids

    def flush_if_due(self) -> None:
        if len(self.pending) >= CHUNK or time.monotonic() - self.flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        self.flushed_at = time.monotonic()
        if not (self.pending or self.released):
            return
        merchant, now = current_merchant_id(), utcnow()
        rows = [{"m_merchant": merchant, "m_now": now,
                 **{k: v for k, v in outcome.items() if k.startswith("m_")}}
                for outcome in self.pending]
        released, self.pending, self.released = self.released, [], []
        # Its own transaction: these outcomes are durable before the next flush. Repeated
        # only when its connection was found dropped, which at worst counts attempts twice.
        with unit_of_work():
            if rows and db.session().get_bind().dialect.name == "postgresql":
                execute_alone(_RECORD_ALL, {
                    "merchant": merchant, "now": now, "id": [r["m_id"] for r in rows],
                    **{name: [r["m_" + name] for r in rows]
                       for name in ("status", "error", "provider", "sent_at")}})
            elif rows:
                execute_alone(_RECORD, rows)
            if released:  # not attempted: back to the queue at once, attempts unchanged
                execute_alone(_RELEASE, {"r_ids": released, "r_merchant": merchant})


def _record_statement():
    table = SmsMessage.__table__
    return (sa.update(table)
            .where(table.c.id == sa.bindparam("m_id"),
                   table.c.merchant_id == sa.bindparam("m_merchant"))
            .values(attempts=table.c.attempts + 1, updated_at=sa.bindparam("m_now"),
                    claimed_until=None, status=sa.bindparam("m_status"),
                    error=sa.bindparam("m_error"),
                    provider_message_id=sa.bindparam("m_provider"),
                    sent_at=sa.bindparam("m_sent_at")))


def _release_statement():
    table = SmsMessage.__table__
    return (sa.update(table)
            .where(table.c.id.in_(sa.bindparam("r_ids", expanding=True)),
                   table.c.merchant_id == sa.bindparam("r_merchant"))
            .values(claimed_until=None, updated_at=table.c.updated_at))


_RECORD = _record_statement()
_RELEASE = _release_statement()
# PostgreSQL: the same for a whole flush in one statement of constant text (one array per
# column, as the crediting writes), not one execution per text.
_RECORD_ALL = sa.text("""
    UPDATE sms_messages AS s
    SET attempts = s.attempts + 1, updated_at = CAST(:now AS timestamptz), claimed_until = NULL,
        status = v.status, error = v.error, provider_message_id = v.provider,
        sent_at = v.sent_at
    FROM unnest(CAST(:id AS integer[]), CAST(:status AS text[]), CAST(:error AS text[]),
                CAST(:provider AS text[]), CAST(:sent_at AS timestamptz[]))
         AS v(id, status, error, provider, sent_at)
    WHERE s.id = v.id AND s.merchant_id = CAST(:merchant AS integer)""")
