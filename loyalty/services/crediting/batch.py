"""Crediting a batch set-wise (PostgreSQL): the same rules, one statement per table.

The batch's channels, programs, merchants (with what each may still text today,
services/sms_allowance.py), customers and balances are read (and locked, in one order)
with one statement each (loyalty/db/crediting.py), every payment is then
worked out in memory by rules.py exactly as single.py would, and the results are written
with one statement per table. Each payment's in-memory work is staged and kept only when
it succeeded — the in-memory twin of a savepoint — so one bad payment never fails its
neighbours; if writing the batch fails (a constraint, a deadlock), the batch is rolled
back to its savepoint and credited again one payment at a time (single.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import SimpleNamespace

from loyalty import background, metrics
from loyalty.db import crediting as sql
from loyalty.db import experiments as experiment_sql
from loyalty.models import Environment, PaymentStatus, SmsStatus
from loyalty.models.base import utcnow
from loyalty.services import sms_allowance
from loyalty.services.crediting import rules, single
from loyalty.services.customers import missing_details
from loyalty.services.experiments import assignment
from loyalty.services.webhooks import events as webhook_events
from loyalty.tenancy import all_merchants, tenant_context

log = logging.getLogger(__name__)


def credit_batch(connection, limit: int) -> tuple[int, list[tuple[int, int]]]:
    """Credit up to `limit` waiting payments of any merchant set-wise; (taken, the
    (merchant_id, message_id) SMS to send)."""
    with all_merchants():  # the batch's one cross-tenant read (its docstring says why)
        rows = sql.WAITING.execute(connection, {"limit": limit}).all()
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
        settled = [(str(p.status), p.created_at) for p in payments]
        background.after_commit(lambda: _count(settled))
        return len(payments), sms
    sms = []
    single.credit_one_by_one(limit, sms, rows=[(p.id, p.merchant_id) for p in payments])
    return len(payments), sms


def _count(settled: list[tuple[str, object]]) -> None:
    """The metrics of a committed batch: outcomes, and how long each payment waited."""
    now = utcnow()
    for status, stored_at in settled:
        metrics.PAYMENTS_CREDITED.labels(outcome=status).inc()
        if stored_at is not None:
            metrics.CREDITING_LAG.labels(outcome=status).observe(
                max(0.0, (now - stored_at).total_seconds()))


def _credit_set(connection, payments: list[SimpleNamespace]) -> list[tuple[int, int]]:
    merchants = sorted({p.merchant_id for p in payments})
    channels = {row.id: row for row in sql.CHANNELS.execute(connection, {
        "ids": sorted({p.channel_id for p in payments}), "merchant_id": merchants})}
    programs = _programs(connection, merchants)
    # whom each merchant may text and what is left of its day's quota (one statement)
    senders = sms_allowance.allowances(connection, merchants)
    # the running experiments of the batch's merchants (one read), by program
    running = {row.program_id: row for row in experiment_sql.RUNNING.execute(
        connection, {"merchant_id": merchants})}
    variant_for = assignment.hook(running, lambda p: rules.payer(p, None)) if running else None
    batch = _Batch()
    original = {p.id: {name: getattr(p, name) for name in sql.OUTCOME} for p in payments}

    def fail(payment, exc: Exception) -> None:
        log.error("crediting payment %s failed", payment.id, exc_info=exc)
        batch.drop()
        vars(payment).update(original[payment.id])
        payment.status, payment.error = PaymentStatus.FAILED, rules.failure(exc)
        payment.attempts += 1

    # 1. route every payment, and see which customers the batch needs
    earning: list[tuple[SimpleNamespace, object, int, tuple[str, str | None]]] = []
    wanted: dict[tuple[int, str], dict] = {}
    for payment in payments:
        with tenant_context(payment.merchant_id):
            try:
                channel = channels.get(payment.channel_id)
                if channel is None or channel.merchant_id != payment.merchant_id:
                    raise LookupError("the payment's channel is not its merchant's")
                program, points = rules.settle(payment, channel,
                                               _router(programs[payment.merchant_id]),
                                               variant_for)
                if program is None:
                    continue
                payer = rules.payer(payment, None)
                if payer is None:
                    rules.mark(payment, PaymentStatus.UNATTRIBUTED, rules.UNATTRIBUTED)
                    batch.sms.stage(payment.merchant_id, rules.masked_receipt(payment))
                    batch.keep()
                    continue
                earning.append((payment, program, points, payer))
                wanted.setdefault((payment.merchant_id, payer[0]),
                                  {"phone": payer[1], **rules.names(payment)})
            except Exception as exc:  # noqa: BLE001 (recorded on the payment)
                fail(payment, exc)
    # 2. customers and balances, found or created and locked, one statement each
    batch.customers.load(connection, wanted)
    batch.ledger.lock_balances(connection, {
        (p.merchant_id, batch.customers.customers[(p.merchant_id, payer[0])].id, program.id)
        for p, program, _, payer in earning})
    # 3. each payment in order, on the locked rows in memory
    earned_by_payment: dict[int, rules.Earned] = {}
    for payment, program, points, payer in earning:
        with tenant_context(payment.merchant_id):
            try:
                customer = batch.customers.for_payment(payment.merchant_id, payer[0],
                                                       phone=payer[1], **rules.names(payment))
                earned = batch.ledger.credit(payment, customer.id, program, points)
                batch.ledger.assign(assignment.assignment_row(program, payment, customer.id),
                                    payment.merchant_id)
                rules.credited(payment, customer.id, points)
                batch.sms.stage(payment.merchant_id, rules.receipt(
                    payment, customer, program, earned, senders[payment.merchant_id],
                    sandbox=channels[payment.channel_id].environment == Environment.SANDBOX))
                batch.keep()
                earned_by_payment[payment.id] = earned
            except Exception as exc:  # noqa: BLE001 (recorded on the payment)
                fail(payment, exc)
    # 4. write: the ledger (whose unique index refuses a second earn), balances, customers,
    #    the payments' outcomes, the outbox
    batch.ledger.write(connection)
    batch.customers.write(connection)
    sql.PAYMENT_UPDATE.execute(connection, {
        **sql.arrays(payments, ("id", "merchant_id", *sql.OUTCOME), attrs=True),
        "now": utcnow()})
    # the merchants' webhooks (payment.received, payment.credited), in this transaction
    webhook_events.payments_settled(connection, [(p.merchant_id, p.id) for p in payments],
                                    earned_by_payment)
    return batch.sms.write(connection)


def _programs(connection, merchants: list[int]) -> dict[int, dict]:
    """Per merchant: {"codes": {code: program}, "default": program}."""
    out: dict[int, dict] = {m: {"codes": {}, "default": None} for m in merchants}
    for row in sql.PROGRAMS.execute(connection, {"merchant_id": merchants}):
        program = SimpleNamespace(**row._mapping)
        out[program.merchant_id]["codes"][program.code] = program
        if program.is_default:
            out[program.merchant_id]["default"] = program
    return out


def _router(own: dict):
    """Routing over the batch's programs of one merchant."""
    def route_for(channel, bill_ref: str | None) -> rules.Route:
        return rules.route(channel.account_mapping, bill_ref, own["codes"].get,
                           lambda: own["default"])

    return route_for


# --- the batch's state: staged per payment, kept or dropped ---------------------------------


class _Batch:
    def __init__(self) -> None:
        self.ledger = LedgerBatch()
        self.customers = CustomerBatch()
        self.sms = SmsBatch()

    def keep(self) -> None:
        for part in (self.ledger, self.customers, self.sms):
            part.keep()

    def drop(self) -> None:
        for part in (self.ledger, self.customers, self.sms):
            part.drop()


@dataclass
class BalanceState:
    """A balance row as a batch holds it: locked (FOR UPDATE) for the batch's transaction."""

    id: int
    merchant_id: int
    points: int
    lifetime_points: int
    stamps: int
    rewards_earned: int

    def copy(self) -> BalanceState:
        return BalanceState(self.id, self.merchant_id, self.points, self.lifetime_points,
                            self.stamps, self.rewards_earned)


class LedgerBatch:
    """The ledger side: `lock_balances` creates and locks every (customer, program)
    balance the batch needs in one go; `credit` applies rules.earn on those locked rows in
    memory; `write` inserts the entries and updates the balances with one statement each.
    The unique (payment, kind) index still refuses a second earn when they are written."""

    def __init__(self) -> None:
        self.balances: dict[tuple[int, int], BalanceState] = {}
        self.entries: list[dict] = []
        self.changed: set[tuple[int, int]] = set()
        self._staged_balances: dict[tuple[int, int], BalanceState] = {}
        self._staged_entries: list[dict] = []
        self.assignments: list[dict] = []
        self._staged_assignments: list[dict] = []

    def keep(self) -> None:
        self.balances.update(self._staged_balances)
        self.changed.update(self._staged_balances)
        self.entries.extend(self._staged_entries)
        self.assignments.extend(self._staged_assignments)
        self.drop()

    def drop(self) -> None:
        self._staged_balances, self._staged_entries, self._staged_assignments = {}, [], []

    def assign(self, row: dict | None, merchant_id: int) -> None:
        """A payment credited under an experiment's variant: its payer's assignment."""
        if row is not None:
            self._staged_assignments.append({**row, "merchant_id": merchant_id})

    def credit(self, payment, customer_id: int, program, points: int) -> rules.Earned:
        key = (customer_id, program.id)
        balance = (self._staged_balances.get(key) or self.balances[key]).copy()
        self._staged_balances[key] = balance
        entries, earned = rules.earn(payment, customer_id, program, points, balance)
        now = utcnow()
        self._staged_entries += [{"merchant_id": payment.merchant_id, "redemption_id": None,
                                  "created_at": now, **entry} for entry in entries]
        return earned

    def lock_balances(self, connection, wanted: set[tuple[int, int, int]]) -> None:
        """Create (zero) and lock the balances of these (merchant, customer, program)."""
        if not wanted:
            return
        keys = sorted(wanted)  # one order for every worker: no deadlock
        params = {"merchant_id": [m for m, _, _ in keys], "customer_id": [c for _, c, _ in keys],
                  "program_id": [p for _, _, p in keys]}
        sql.BALANCE_INSERT.execute(connection, params)
        for row in sql.BALANCE_LOCK.execute(connection, params):
            self.balances[(row.customer_id, row.program_id)] = BalanceState(
                row.id, row.merchant_id, row.points, row.lifetime_points, row.stamps,
                row.rewards_earned)

    def write(self, connection) -> None:
        if self.entries:
            sql.LEDGER_INSERT.execute(connection, sql.arrays(self.entries, sql.LEDGER_COLUMNS))
        if self.changed:
            # by id, the order the rows were locked in (lock_balances)
            changed = sorted((self.balances[key] for key in self.changed), key=lambda b: b.id)
            sql.BALANCE_UPDATE.execute(connection,
                                       sql.arrays(changed, sql.BALANCE_COLUMNS, attrs=True))
        if self.assignments:
            # one statement; a payer already assigned keeps their row (ON CONFLICT DO NOTHING)
            experiment_sql.ASSIGNMENT_INSERT.execute(connection, sql.arrays(
                self.assignments, experiment_sql.ASSIGNMENT_COLUMNS))


class CustomerBatch:
    """The customers: `load` inserts every (merchant, phone hash) not known yet, with the
    first payment's phone and names, and reads them all back; `for_payment` then fills in,
    payment by payment and in order, what the customer record still lacks (as
    customers.customer_by_hash does); `write` writes what was filled in."""

    def __init__(self) -> None:
        self.customers: dict[tuple[int, str], SimpleNamespace] = {}
        self.changed: set[tuple[int, str]] = set()
        self._staged: dict[tuple[int, str], SimpleNamespace] = {}

    def load(self, connection, wanted: dict[tuple[int, str], dict]) -> None:
        """`wanted`: (merchant_id, phone_hash) -> the first payment's phone and names."""
        if not wanted:
            return
        rows = sorted(wanted.items())  # one order for every worker
        keys = {"merchant_id": [m for (m, _), _ in rows], "phone_hash": [h for (_, h), _ in rows]}
        sql.CUSTOMER_INSERT.execute(connection, {
            **keys, **{name: [v.get(name) for _, v in rows] for name in sql.CUSTOMER_NAMES},
            "now": utcnow()})
        for row in sql.CUSTOMER_SELECT.execute(connection, keys):
            self.customers[(row.merchant_id, row.phone_hash)] = SimpleNamespace(**row._mapping)

    def for_payment(self, merchant_id: int, phone_hash: str, **values: str | None) -> SimpleNamespace:
        key = (merchant_id, phone_hash)
        customer = self._staged.get(key) or self.customers[key]
        updates = missing_details(customer, **values)
        if updates:
            customer = SimpleNamespace(**{**vars(customer), **updates})
            self._staged[key] = customer
        return customer

    def keep(self) -> None:
        self.customers.update(self._staged)
        self.changed.update(self._staged)
        self._staged = {}

    def drop(self) -> None:
        self._staged = {}

    def write(self, connection) -> None:
        if not self.changed:
            return
        # by id: two batches updating the same customers lock them in the same order
        changed = sorted((self.customers[key] for key in self.changed), key=lambda c: c.id)
        sql.CUSTOMER_UPDATE.execute(connection, {
            **sql.arrays(changed, ("id", "merchant_id", *sql.CUSTOMER_NAMES), attrs=True),
            "now": utcnow()})


class SmsBatch:
    """The outbox rows, written with one statement (unique per payment and purpose, so a
    replayed payment never queues a second text)."""

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
        inserted = sql.SMS_INSERT.execute(connection, sql.arrays(rows, sql.SMS_COLUMNS)).all()
        return [(row.merchant_id, row.id) for row in sorted(inserted, key=lambda r: r.id)
                if row.status == SmsStatus.QUEUED]
