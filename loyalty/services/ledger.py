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
    points: int
    lifetime_points: int
    stamps: int
    rewards_earned: int

    def copy(self) -> "BalanceState":
        return BalanceState(self.id, self.points, self.lifetime_points, self.stamps,
                            self.rewards_earned)


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

    # SQL: PostgreSQL, every statement carries the merchant of its rows explicitly
    def lock_balances(self, connection, wanted: set[tuple[int, int, int]]) -> None:
        """Create (zero) and lock the balances of these (merchant, customer, program)."""
        if not wanted:
            return
        rows = [{"merchant_id": m, "customer_id": c, "program_id": p, "points": 0,
                 "lifetime_points": 0, "stamps": 0, "rewards_earned": 0}
                for m, c, p in sorted(wanted)]  # one order for every worker: no deadlock
        connection.execute(_BALANCE_INSERT, rows)
        table = Balance.__table__
        found = connection.execute(
            sa.select(table.c.id, table.c.merchant_id, table.c.customer_id, table.c.program_id,
                      table.c.points, table.c.lifetime_points, table.c.stamps,
                      table.c.rewards_earned)
            .where(sa.tuple_(table.c.merchant_id, table.c.customer_id, table.c.program_id)
                   .in_(sorted(wanted)))
            .order_by(table.c.id).with_for_update()).all()
        for row in found:
            self.balances[(row.customer_id, row.program_id)] = BalanceState(
                row.id, row.points, row.lifetime_points, row.stamps, row.rewards_earned)

    def write(self, connection) -> None:
        if self.entries:
            connection.execute(LedgerEntry.__table__.insert(), self.entries)
        changed = [{"b_id": b.id, "b_points": b.points, "b_lifetime": b.lifetime_points,
                    "b_stamps": b.stamps, "b_rewards": b.rewards_earned}
                   for b in (self.balances[key] for key in self.changed)]
        if changed:
            connection.execute(_BALANCE_UPDATE, changed)


def _balance_insert():
    from sqlalchemy.dialects import postgresql

    return (postgresql.insert(Balance.__table__)
            .on_conflict_do_nothing(index_elements=["merchant_id", "customer_id", "program_id"]))


_BALANCE_INSERT = _balance_insert()
_BALANCE_UPDATE = (sa.update(Balance.__table__)
                   .where(Balance.__table__.c.id == sa.bindparam("b_id"))
                   .values(points=sa.bindparam("b_points"),
                           lifetime_points=sa.bindparam("b_lifetime"),
                           stamps=sa.bindparam("b_stamps"),
                           rewards_earned=sa.bindparam("b_rewards")))


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
