"""The points ledger: append-only entries with the balance projection kept in step.

Every change is an entry (earn, stamp, redeem, expire, reverse, adjust) written in the same
transaction as the balance row it changes. A unique index on (payment, kind) makes
crediting exactly-once even if two workers race. Earns keep a `remaining` count so
redemptions and expiry spend the oldest points first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from loyalty.errors import Conflict, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Balance, EntryKind, LedgerEntry, LoyaltyProgram, Payment, Redemption
from loyalty.models.base import utcnow
from loyalty.services.sql import insert_ignore
from loyalty.unit_of_work import transactional


@dataclass(frozen=True)
class Earned:
    points: int
    balance: int
    stamps: int              # on the card after this payment (0 right after a reward)
    stamps_left: int | None  # until the next reward; None for points-only programs
    reward_earned: bool


def apply_to_balance(balance, program: LoyaltyProgram, points: int) -> tuple[int | None, bool]:
    """The earning rule, shared by the one-payment and the batch paths: add the points and,
    on a stamp card, one stamp (a full card issues the reward and starts again).
    Returns (stamps left until the next reward or None, whether a reward was issued)."""
    balance.points += points
    balance.lifetime_points += points
    if not program.stamps_required:
        return None, False
    balance.stamps += 1
    reward = balance.stamps >= program.stamps_required
    if reward:
        balance.stamps = 0
        balance.rewards_earned += 1
    return program.stamps_required - balance.stamps, reward


def balance_row(customer_id: int, program_id: int) -> Balance:
    """The customer's balance for a program, locked for update, created when missing."""
    insert_ignore(Balance, {"customer_id": customer_id, "program_id": program_id, "points": 0,
                            "lifetime_points": 0, "stamps": 0, "rewards_earned": 0},
                  ["merchant_id", "customer_id", "program_id"])
    return db.session.scalars(sa.select(Balance).where(
        Balance.customer_id == customer_id, Balance.program_id == program_id)
        .with_for_update().execution_options(populate_existing=True)).one()


def credit(payment: Payment, customer_id: int, program: LoyaltyProgram, points: int, *,
           batch: "CreditBatch | None" = None) -> Earned:
    """Record what one payment earned; call inside the payment's savepoint, or with the
    `batch` that writes a whole crediting batch at once (crediting.credit_waiting)."""
    if batch is not None:
        return batch.credit(payment, customer_id, program, points)
    balance = balance_row(customer_id, program.id)
    if points:
        db.session.add(LedgerEntry(customer_id=customer_id, program_id=program.id,
                                   kind=EntryKind.EARN, points=points, remaining=points,
                                   payment_id=payment.id, description=f"Payment {payment.trans_id}"))
    stamps_left, reward = apply_to_balance(balance, program, points)
    if program.stamps_required:
        db.session.add(LedgerEntry(
            customer_id=customer_id, program_id=program.id, kind=EntryKind.STAMP, stamps=1,
            payment_id=payment.id,
            description=f"Reward: {program.stamp_reward}" if reward else f"Stamp for {payment.trans_id}"))
    db.session.flush()  # the unique (payment, kind) index speaks here if this is a repeat
    return Earned(points=points, balance=balance.points, stamps=balance.stamps,
                  stamps_left=stamps_left, reward_earned=reward)


@dataclass
class BalanceState:
    """A balance row as a batch holds it: locked (FOR UPDATE) for the batch's transaction."""

    id: int
    merchant_id: int
    points: int
    lifetime_points: int
    stamps: int
    rewards_earned: int

    def copy(self) -> "BalanceState":
        return BalanceState(self.id, self.merchant_id, self.points, self.lifetime_points,
                            self.stamps, self.rewards_earned)


class CreditBatch:
    """The ledger side of crediting many payments in one transaction.

    `lock_balances` creates and locks every (customer, program) balance the batch needs in
    one go; `credit` then computes each payment exactly as the one-payment path does, on
    those locked rows in memory; `write` inserts the entries and updates the balances with
    one statement each. Work for one payment is staged until `keep()`; `drop()` forgets it
    (the in-memory twin of a savepoint: one bad payment never fails its neighbours). The
    unique (payment, kind) index still refuses a second earn when the entries are written.
    """

    def __init__(self) -> None:
        self.balances: dict[tuple[int, int], BalanceState] = {}
        self.entries: list[dict] = []
        self.changed: set[tuple[int, int]] = set()
        self._staged_balances: dict[tuple[int, int], BalanceState] = {}
        self._staged_entries: list[dict] = []

    # payments
    def keep(self) -> None:
        self.balances.update(self._staged_balances)
        self.changed.update(self._staged_balances)
        self.entries.extend(self._staged_entries)
        self.drop()

    def drop(self) -> None:
        self._staged_balances, self._staged_entries = {}, []

    # the rule, on locked rows in memory (kept in step with `credit` above)
    def credit(self, payment, customer_id: int, program, points: int) -> Earned:
        key = (customer_id, program.id)
        balance = (self._staged_balances.get(key) or self.balances[key]).copy()
        self._staged_balances[key] = balance
        now = utcnow()
        if points:
            self._staged_entries.append(self._entry(payment, customer_id, program, EntryKind.EARN,
                                                    points=points, remaining=points, stamps=0,
                                                    description=f"Payment {payment.trans_id}",
                                                    now=now))
        stamps_left, reward = apply_to_balance(balance, program, points)
        if program.stamps_required:
            self._staged_entries.append(self._entry(
                payment, customer_id, program, EntryKind.STAMP, points=0, remaining=0, stamps=1,
                description=(f"Reward: {program.stamp_reward}" if reward
                             else f"Stamp for {payment.trans_id}"), now=now))
        return Earned(points=points, balance=balance.points, stamps=balance.stamps,
                      stamps_left=stamps_left, reward_earned=reward)

    @staticmethod
    def _entry(payment, customer_id, program, kind, *, points, remaining, stamps, description,
               now) -> dict:
        return {"merchant_id": payment.merchant_id, "customer_id": customer_id,
                "program_id": program.id, "kind": kind, "points": points, "stamps": stamps,
                "remaining": remaining, "payment_id": payment.id, "redemption_id": None,
                "description": description, "created_at": now}

    # SQL: PostgreSQL, every statement carries the merchant of its rows explicitly. One
    # statement per batch whatever its size: each column travels as one array parameter,
    # expanded with unnest(), so the SQL text never changes with the row count (psycopg
    # converts it once and prepares it, PostgreSQL keeps its plan) instead of one execution
    # per row or a VALUES list as long as the batch.
    def lock_balances(self, connection, wanted: set[tuple[int, int, int]]) -> None:
        """Create (zero) and lock the balances of these (merchant, customer, program)."""
        if not wanted:
            return
        keys = sorted(wanted)  # one order for every worker: no deadlock
        params = {"merchant_id": [m for m, _, _ in keys], "customer_id": [c for _, c, _ in keys],
                  "program_id": [p for _, _, p in keys]}
        connection.execute(_BALANCE_INSERT, params)
        for row in connection.execute(_BALANCE_LOCK, params):
            self.balances[(row.customer_id, row.program_id)] = BalanceState(
                row.id, row.merchant_id, row.points, row.lifetime_points, row.stamps,
                row.rewards_earned)

    def write(self, connection) -> None:
        if self.entries:
            connection.execute(_LEDGER_INSERT, {
                name: [entry[name] for entry in self.entries] for name in _LEDGER_COLUMNS})
        if self.changed:
            # by id, the order the rows were locked in (lock_balances)
            changed = sorted((self.balances[key] for key in self.changed), key=lambda b: b.id)
            connection.execute(_BALANCE_UPDATE, {
                name: [getattr(b, name) for b in changed] for name in _BALANCE_COLUMNS})


# Creates the missing balances, zero, in the order given (sorted by lock_balances: two
# workers inserting the same new rows wait for each other instead of deadlocking); rows
# that exist already are left alone.
_BALANCE_INSERT = sa.text("""
    INSERT INTO balances (merchant_id, customer_id, program_id, points, lifetime_points,
                          stamps, rewards_earned)
    SELECT v.merchant_id, v.customer_id, v.program_id, 0, 0, 0, 0
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:customer_id AS integer[]),
                CAST(:program_id AS integer[])) WITH ORDINALITY
         AS v(merchant_id, customer_id, program_id, n)
    ORDER BY v.n
    ON CONFLICT (merchant_id, customer_id, program_id) DO NOTHING""")
# Reads and locks them, matched on (merchant, customer, program), in id order: one order
# for every worker, so two batches that share balances never deadlock.
_BALANCE_LOCK = sa.text("""
    SELECT b.id, b.merchant_id, b.customer_id, b.program_id, b.points, b.lifetime_points,
           b.stamps, b.rewards_earned
    FROM balances AS b
    JOIN unnest(CAST(:merchant_id AS integer[]), CAST(:customer_id AS integer[]),
                CAST(:program_id AS integer[])) AS v(merchant_id, customer_id, program_id)
      ON b.merchant_id = v.merchant_id AND b.customer_id = v.customer_id
         AND b.program_id = v.program_id
    ORDER BY b.id
    FOR UPDATE OF b""")
# The batch's entries, in the order they were earned (their ids follow it: the oldest
# earns are spent first by created_at, then id). No ON CONFLICT: the unique (payment, kind)
# index refusing a second earn fails the statement, and with it the set-wise batch
# (crediting.py then credits its payments one by one).
_LEDGER_COLUMNS = ("merchant_id", "customer_id", "program_id", "kind", "points", "stamps",
                   "remaining", "payment_id", "redemption_id", "description", "created_at")
_LEDGER_INSERT = sa.text("""
    INSERT INTO ledger_entries (merchant_id, customer_id, program_id, kind, points, stamps,
                                remaining, payment_id, redemption_id, description, created_at)
    SELECT v.merchant_id, v.customer_id, v.program_id, v.kind, v.points, v.stamps,
           v.remaining, v.payment_id, v.redemption_id, v.description, v.created_at
    FROM unnest(CAST(:merchant_id AS integer[]), CAST(:customer_id AS integer[]),
                CAST(:program_id AS integer[]), CAST(:kind AS text[]),
                CAST(:points AS integer[]), CAST(:stamps AS integer[]),
                CAST(:remaining AS integer[]), CAST(:payment_id AS integer[]),
                CAST(:redemption_id AS integer[]), CAST(:description AS text[]),
                CAST(:created_at AS timestamptz[])) WITH ORDINALITY
         AS v(merchant_id, customer_id, program_id, kind, points, stamps, remaining,
              payment_id, redemption_id, description, created_at, n)
    ORDER BY v.n""")
# The changed balances (all locked by lock_balances), matched on id and merchant.
_BALANCE_COLUMNS = ("id", "merchant_id", "points", "lifetime_points", "stamps", "rewards_earned")
_BALANCE_UPDATE = sa.text("""
    UPDATE balances AS b
    SET points = v.points, lifetime_points = v.lifetime_points, stamps = v.stamps,
        rewards_earned = v.rewards_earned
    FROM unnest(CAST(:id AS integer[]), CAST(:merchant_id AS integer[]),
                CAST(:points AS integer[]), CAST(:lifetime_points AS integer[]),
                CAST(:stamps AS integer[]), CAST(:rewards_earned AS integer[]))
         AS v(id, merchant_id, points, lifetime_points, stamps, rewards_earned)
    WHERE b.id = v.id AND b.merchant_id = v.merchant_id""")


def _spend_oldest(customer_id: int, program_id: int, points: int) -> None:
    """Take `points` from the oldest earns that still have some left."""
    lots = db.session.scalars(sa.select(LedgerEntry).where(
        LedgerEntry.customer_id == customer_id, LedgerEntry.program_id == program_id,
        LedgerEntry.remaining > 0).order_by(LedgerEntry.created_at, LedgerEntry.id)
        .with_for_update())
    for lot in lots:
        if points <= 0:
            break
        used = min(lot.remaining, points)
        lot.remaining -= used
        points -= used


@transactional
def redeem(*, customer_id: int, program: LoyaltyProgram, points: int, description: str | None,
           idempotency_key: str) -> tuple[Redemption, int, bool]:
    """Spend points; (redemption, balance after, created). The same idempotency key
    returns the first redemption instead of spending twice. Conflict when short."""
    existing = db.session.scalar(sa.select(Redemption).where(
        Redemption.idempotency_key == idempotency_key))
    if existing is not None:
        if (existing.customer_id, existing.program_id, existing.points) != (customer_id, program.id, points):
            raise Conflict("This idempotency key was used for a different redemption.",
                           code="idempotency_key_reused")
        return existing, balance_row(customer_id, program.id).points, False
    if points <= 0:
        raise ValidationFailed("Redeem at least one point.", fields={"points": ["Must be positive."]})
    balance = balance_row(customer_id, program.id)
    if balance.points < points:
        raise Conflict(f"Not enough points: the balance is {balance.points:,}, the redemption "
                       f"needs {points:,}.", code="insufficient_points")
    redemption = Redemption(customer_id=customer_id, program_id=program.id, points=points,
                            description=description, idempotency_key=idempotency_key)
    db.session.add(redemption)
    db.session.flush()
    _spend_oldest(customer_id, program.id, points)
    db.session.add(LedgerEntry(customer_id=customer_id, program_id=program.id, kind=EntryKind.REDEEM,
                               points=-points, redemption_id=redemption.id, description=description))
    balance.points -= points
    db.session.flush()
    return redemption, balance.points, True


@transactional
def expire_points(now=None) -> int:
    """Expire what is left of earns older than each program's points_expiry_days (current
    merchant). Returns the number of points expired."""
    now = now or utcnow()
    expired = 0
    programs = db.session.scalars(sa.select(LoyaltyProgram).where(
        LoyaltyProgram.points_expiry_days.is_not(None)))
    for program in programs:
        cutoff = now - timedelta(days=program.points_expiry_days)
        lots = db.session.scalars(sa.select(LedgerEntry).where(
            LedgerEntry.program_id == program.id, LedgerEntry.kind == EntryKind.EARN,
            LedgerEntry.remaining > 0, LedgerEntry.created_at < cutoff)
            .order_by(LedgerEntry.id).with_for_update()).all()
        for lot in lots:
            balance = balance_row(lot.customer_id, program.id)
            amount = min(lot.remaining, balance.points)
            lot.remaining = 0
            if amount:
                balance.points -= amount
                db.session.add(LedgerEntry(customer_id=lot.customer_id, program_id=program.id,
                                           kind=EntryKind.EXPIRE, points=-amount,
                                           description=f"Expired: earned {lot.created_at:%Y-%m-%d}"))
                expired += amount
    db.session.flush()
    return expired
