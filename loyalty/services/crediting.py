"""Crediting stored payments: routing, customers, the ledger and the SMS outbox.

Workers drain waiting payments in batches: `SELECT … FOR UPDATE SKIP LOCKED` lets several
worker processes share a backlog without waiting on each other, and the batch commits once.

On PostgreSQL a batch is credited set-wise (`_credit_batch`): its channels, programs,
merchants, customers and balances are read (and locked) with one statement each, every
payment is then worked out in memory by the same rules as the one-payment path
(`_settle` and `_earn`, shared by both), and the results are written with one statement
per table. The batch statements take one array parameter per column and expand them with
`unnest(…)`, so their SQL text is the same for every batch size: psycopg converts each
once and prepares it, and PostgreSQL plans it once, where one execution per row or a
VALUES list as long as the batch cost most of a batch's CPU. Each payment's in-memory
work is staged and kept only when it succeeded, so one bad payment never fails its
neighbours; if writing the batch fails (a constraint, a deadlock), the batch is rolled
back to its savepoint and credited again one payment at a time, each in its own
savepoint, as before. Replays and attributions, and SQLite
(`make run`), use the one-payment path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace

import sqlalchemy as sa

from loyalty import background
from loyalty.background import TaskName
from loyalty.daraja.msisdn import MsisdnForm, hash_msisdn
from loyalty.errors import Conflict, NotFound
from loyalty.extensions import db
from loyalty.models import (
    LoyaltyProgram,
    Merchant,
    MpesaChannel,
    Payment,
    PaymentStatus,
    SmsMessage,
    SmsStatus,
)
from loyalty.models.base import utcnow
from loyalty.services import customers, ledger, notifications
from loyalty.services.account_mapping import resolve
from loyalty.services.points import points_for
from loyalty.services.sql import insert_ignore
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import transactional, unit_of_work

log = logging.getLogger(__name__)

BATCH_SIZE = 200


@dataclass(frozen=True)
class Route:
    program: LoyaltyProgram | None
    pattern: str | None


def route_payment(channel: MpesaChannel, bill_ref: str | None) -> Route:
    """The program a payment earns in: account mapping, then the merchant's default."""
    code, pattern = resolve(channel.account_mapping or {}, bill_ref)
    program = None
    if code is not None:
        program = db.session.scalar(sa.select(LoyaltyProgram).where(LoyaltyProgram.code == code))
    if program is None:  # no match, or the mapped program was deleted meanwhile
        program, pattern = db.session.scalar(sa.select(LoyaltyProgram).where(
            LoyaltyProgram.is_default.is_(True))), None
    return Route(program=program, pattern=pattern)


def credit_waiting(limit: int = BATCH_SIZE) -> int:
    """Worker: credit up to `limit` waiting payments of any merchant; how many were taken."""
    sms: list[tuple[int, int]] = []
    with unit_of_work():
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            taken, sms = _credit_batch(connection, limit)
        else:
            taken = _credit_one_by_one(limit, sms)
        if sms:
            background.enqueue(TaskName.SEND_SMS_BATCH, sms)
    return taken


def _credit_one_by_one(limit: int, sms: list[tuple[int, int]],
                       rows: list[tuple[int, int]] | None = None) -> int:
    if rows is None:
        with all_merchants():  # lists ids only; each payment is credited as its merchant
            rows = db.session.execute(
                sa.select(Payment.id, Payment.merchant_id)
                .where(Payment.status == PaymentStatus.RECEIVED)
                .order_by(Payment.id).limit(limit).with_for_update(skip_locked=True)).all()
    for payment_id, merchant_id in rows:
        with tenant_context(merchant_id):
            message_id = _credit_in_savepoint(payment_id)
            if message_id:
                sms.append((merchant_id, message_id))
    return len(rows)


def _credit_in_savepoint(payment_id: int) -> int | None:
    try:
        with db.session.begin_nested():
            return credit_payment(payment_id)
    except Exception as exc:  # one bad payment must not fail the batch; it is recorded
        log.exception("crediting payment %s failed", payment_id)
        with db.session.begin_nested():
            payment = db.session.get(Payment, payment_id)
            payment.status = PaymentStatus.FAILED
            payment.error = _failure(exc)
            payment.attempts += 1
        return None


def _failure(exc: Exception) -> str:
    return f"{type(exc).__name__}: crediting failed; replay it once fixed."


# --- the rules, shared by the one-payment and the batch paths -------------------------------


def _settle(payment, channel, route_for) -> tuple[object | None, int]:
    """The first half of crediting a payment: the attempt, the channel, the program, the
    points, the minimum. Returns (program, points), or (None, 0) once the payment is
    finished (skipped)."""
    payment.attempts += 1
    if not channel.is_active:
        _mark(payment, PaymentStatus.SKIPPED, f"Channel '{channel.name}' is not active.")
        return None, 0
    route = route_for(channel, payment.bill_ref)
    payment.program_id = route.program.id
    payment.matched_pattern = route.pattern
    program = route.program
    points = points_for(payment.amount, points_per_unit=program.points_per_unit,
                        unit_amount=program.unit_amount, multiplier=program.multiplier,
                        min_amount=program.min_amount)
    if payment.amount < program.min_amount:
        _mark(payment, PaymentStatus.SKIPPED,
              f"Below the program's minimum of KES {program.min_amount:,}.")
        return None, 0
    return program, points


def _payer(payment, phone: str | None) -> tuple[str, str | None] | None:
    """(phone hash, phone) of the customer a payment belongs to; None for a masked payer."""
    if phone:
        return hash_msisdn(phone), phone
    if payment.msisdn_form == MsisdnForm.HASHED:
        return payment.msisdn.lower(), None
    if payment.msisdn_form == MsisdnForm.PLAIN:
        return hash_msisdn(payment.msisdn), payment.msisdn
    return None


def _names(payment) -> dict[str, str | None]:
    return {"first_name": payment.first_name, "middle_name": payment.middle_name,
            "last_name": payment.last_name}


def _earn(payment, customer, program, points: int, *, batch=None, merchant_name=None):
    """The second half: the ledger, the payment's outcome and its receipt SMS."""
    payment.customer_id = customer.id
    earned = ledger.credit(payment, customer.id, program, points,
                           **({"batch": batch.ledger} if batch else {}))
    payment.points = points
    _mark(payment, PaymentStatus.CREDITED, None)
    return notifications.queue_receipt(payment, customer, program, earned,
                                       batch=batch.sms if batch else None,
                                       merchant_name=merchant_name)


def _mark(payment, status: PaymentStatus, error: str | None) -> None:
    payment.status = status
    payment.error = error
    if status == PaymentStatus.CREDITED:
        payment.credited_at = utcnow()


def _masked_row(payment) -> dict:
    return {"payment_id": payment.id, "purpose": notifications.PAYMENT_RECEIPT,
            "recipient": None, "recipient_form": "masked", "body": "", "encoding": "GSM-7",
            "segments": 0, "status": SmsStatus.SKIPPED, "attempts": 0,
            "error": "Masked payer: no number to text.", "created_at": utcnow(),
            "updated_at": utcnow()}


UNATTRIBUTED = "The payer's number was masked; attach the payment to a phone to credit it."


# --- one payment (replays, attributions, SQLite, and the batch's fallback) -----------------


def credit_payment(payment_id: int, *, phone: str | None = None) -> int | None:
    """Credit one payment (current merchant) if it is still waiting; the id of the SMS to
    send, if any. `phone` attributes a masked payer's payment to an enrolled phone."""
    payment = db.session.get(Payment, payment_id, populate_existing=True)
    if payment is None or payment.status != PaymentStatus.RECEIVED:
        return None  # already handled: crediting is idempotent
    channel = db.session.get(MpesaChannel, payment.channel_id)
    program, points = _settle(payment, channel, route_payment)
    if program is None:
        db.session.flush()
        return None
    payer = _payer(payment, phone)
    if payer is None:
        return _unattributed(payment)
    customer = customers.customer_by_hash(payer[0], phone=payer[1], **_names(payment))
    message_id = _earn(payment, customer, program, points)
    db.session.flush()
    return message_id


def _unattributed(payment: Payment) -> None:
    _mark(payment, PaymentStatus.UNATTRIBUTED, UNATTRIBUTED)
    db.session.flush()
    row = _masked_row(payment)
    insert_ignore(SmsMessage, row, ["payment_id", "purpose"],
                  where=SmsMessage.payment_id.is_not(None))
    return None


# --- a batch, set-wise (PostgreSQL) --------------------------------------------------------

_PAYMENT_COLUMNS = ("id", "merchant_id", "channel_id", "trans_id", "amount", "bill_ref",
                    "msisdn", "msisdn_form", "first_name", "middle_name", "last_name",
                    "status", "error", "attempts", "program_id", "matched_pattern",
                    "customer_id", "points", "credited_at")
_OUTCOME = ("status", "error", "attempts", "program_id", "matched_pattern", "customer_id",
            "points", "credited_at")


class _Batch:
    def __init__(self) -> None:
        self.ledger = ledger.CreditBatch()
        self.customers = customers.CustomerBatch()
        self.sms = notifications.SmsBatch()

    def keep(self) -> None:
        for part in (self.ledger, self.customers, self.sms):
            part.keep()

    def drop(self) -> None:
        for part in (self.ledger, self.customers, self.sms):
            part.drop()


def _credit_batch(connection, limit: int) -> tuple[int, list[tuple[int, int]]]:
    """Credit up to `limit` waiting payments set-wise; (taken, SMS to send).

    Core statements on several merchants' rows at once: every statement names the
    merchant of its rows (payments carry theirs; channels, programs, customers and
    balances are matched on it), which is what tenancy.py enforces for ORM queries."""
    table = Payment.__table__
    rows = connection.execute(
        sa.select(*(table.c[name] for name in _PAYMENT_COLUMNS))
        .where(table.c.status == PaymentStatus.RECEIVED)
        .order_by(table.c.id).limit(limit).with_for_update(skip_locked=True)).all()
    if not rows:
        return 0, []
    payments = [SimpleNamespace(**row._mapping) for row in rows]
    # A savepoint of the connection's own: the set-wise statements run on it directly.
    savepoint = connection.begin_nested()
    try:
        sms = _credit_set(connection, payments)
    except Exception:
        savepoint.rollback()
        log.warning("crediting a batch of %d set-wise failed; crediting them one by one",
                    len(payments), exc_info=True)
    else:
        savepoint.commit()
        return len(payments), sms
    sms = []
    _credit_one_by_one(limit, sms, rows=[(p.id, p.merchant_id) for p in payments])
    return len(payments), sms


def _credit_set(connection, payments: list[SimpleNamespace]) -> list[tuple[int, int]]:
    merchants = sorted({p.merchant_id for p in payments})
    channels = _channels(connection, {p.channel_id for p in payments})
    programs = _programs(connection, merchants)
    names = dict(connection.execute(sa.select(Merchant.__table__.c.id,
                                              Merchant.__table__.c.business_name)
                                    .where(Merchant.__table__.c.id.in_(merchants))).all())
    batch = _Batch()
    failed: dict[int, Exception] = {}
    original = {p.id: {name: getattr(p, name) for name in _OUTCOME} for p in payments}

    def fail(payment, exc: Exception) -> None:
        log.error("crediting payment %s failed", payment.id, exc_info=exc)
        batch.drop()
        vars(payment).update(original[payment.id])
        payment.status, payment.error = PaymentStatus.FAILED, _failure(exc)
        payment.attempts += 1
        failed[payment.id] = exc

    # 1. route every payment, and see which customers the batch needs
    earning: list[tuple[SimpleNamespace, object, int, tuple[str, str | None]]] = []
    wanted: dict[tuple[int, str], dict] = {}
    for payment in payments:
        with tenant_context(payment.merchant_id):
            try:
                channel = channels.get(payment.channel_id)
                if channel is None or channel.merchant_id != payment.merchant_id:
                    raise LookupError("the payment's channel is not its merchant's")
                program, points = _settle(payment, channel, _router(programs, payment.merchant_id))
                if program is None:
                    continue
                payer = _payer(payment, None)
                if payer is None:
                    _mark(payment, PaymentStatus.UNATTRIBUTED, UNATTRIBUTED)
                    batch.sms.stage(payment.merchant_id, _masked_row(payment))
                    batch.keep()
                    continue
                earning.append((payment, program, points, payer))
                wanted.setdefault((payment.merchant_id, payer[0]),
                                  {"phone": payer[1], **_names(payment)})
            except Exception as exc:  # noqa: BLE001 (recorded on the payment)
                fail(payment, exc)
    # 2. customers and balances, found or created and locked, one statement each
    batch.customers.load(connection, wanted)
    batch.ledger.lock_balances(connection, {
        (p.merchant_id, batch.customers.customers[(p.merchant_id, payer[0])].id, program.id)
        for p, program, _, payer in earning})
    # 3. each payment in order, on the locked rows in memory
    for payment, program, points, payer in earning:
        with tenant_context(payment.merchant_id):
            try:
                customer = batch.customers.for_payment(payment.merchant_id, payer[0],
                                                       phone=payer[1], **_names(payment))
                _earn(payment, customer, program, points, batch=batch,
                      merchant_name=names[payment.merchant_id])
                batch.keep()
            except Exception as exc:  # noqa: BLE001 (recorded on the payment)
                fail(payment, exc)
    # 4. write: the ledger (whose unique index refuses a second earn), balances, customers,
    #    the payments' outcomes, the outbox
    batch.ledger.write(connection)
    batch.customers.write(connection)
    connection.execute(_PAYMENT_UPDATE, {
        "id": [p.id for p in payments], "merchant_id": [p.merchant_id for p in payments],
        **{name: [getattr(p, name) for p in payments] for name in _OUTCOME}, "now": utcnow()})
    return batch.sms.write(connection)


def _channels(connection, ids: set[int]) -> dict[int, SimpleNamespace]:
    table = MpesaChannel.__table__
    found = connection.execute(
        sa.select(table.c.id, table.c.merchant_id, table.c.name, table.c.is_active,
                  table.c.account_mapping).where(table.c.id.in_(sorted(ids)))).all()
    return {row.id: SimpleNamespace(**row._mapping) for row in found}


def _programs(connection, merchants: list[int]) -> dict[int, dict]:
    """Per merchant: {"codes": {code: program}, "default": program}."""
    table = LoyaltyProgram.__table__
    out: dict[int, dict] = {m: {"codes": {}, "default": None} for m in merchants}
    for row in connection.execute(sa.select(table).where(table.c.merchant_id.in_(merchants))):
        program = SimpleNamespace(**row._mapping)
        out[program.merchant_id]["codes"][program.code] = program
        if program.is_default:
            out[program.merchant_id]["default"] = program
    return out


def _router(programs: dict[int, dict], merchant_id: int):
    """route_payment over the batch's programs of one merchant (same rule)."""
    own = programs[merchant_id]

    def route(channel, bill_ref: str | None) -> Route:
        code, pattern = resolve(channel.account_mapping or {}, bill_ref)
        program = own["codes"].get(code) if code is not None else None
        if program is None:
            program, pattern = own["default"], None
        return Route(program=program, pattern=pattern)

    return route


# Every payment's outcome with one statement, whatever the batch's size: one array
# parameter per column expanded with unnest(), so the SQL text is constant (psycopg
# converts it once, PostgreSQL keeps its plan) instead of one execution per payment. The
# payments were locked in id order when the batch was taken; each is matched on id and
# merchant.
_PAYMENT_UPDATE = sa.text("""
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
    WHERE p.id = v.id AND p.merchant_id = v.merchant_id""")


# --- merchant actions --------------------------------------------------------------------


def _payment(payment_id: int) -> Payment:
    payment = db.session.scalar(sa.select(Payment).where(Payment.id == payment_id))
    if payment is None:
        raise NotFound("Transaction not found.")
    return payment


@transactional
def replay_payment(payment_id: int) -> Payment:
    """Run crediting again: a no-op for a credited payment, a retry for a failed or skipped
    one (e.g. after activating its channel)."""
    payment = _payment(payment_id)
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.SKIPPED):
        payment.status, payment.error = PaymentStatus.RECEIVED, None
        db.session.flush()
        message_id = credit_payment(payment.id)
        if message_id:
            background.enqueue(TaskName.SEND_SMS_BATCH, [(payment.merchant_id, message_id)])
    return payment


@transactional
def attribute_payment(payment_id: int, phone: str) -> Payment:
    """Attach a masked payer's payment to a phone (normalised) and credit it."""
    payment = _payment(payment_id)
    if payment.status != PaymentStatus.UNATTRIBUTED:
        raise Conflict("Only unattributed payments can be attached to a phone.",
                       code="not_unattributed")
    payment.status = PaymentStatus.RECEIVED
    db.session.execute(sa.delete(SmsMessage).where(
        SmsMessage.payment_id == payment.id, SmsMessage.status == SmsStatus.SKIPPED))
    db.session.flush()
    message_id = credit_payment(payment.id, phone=phone)
    if message_id:
        background.enqueue(TaskName.SEND_SMS_BATCH, [(payment.merchant_id, message_id)])
    return payment
