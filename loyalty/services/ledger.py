"""The points ledger: append-only entries, and the balance rows they change.

Every change is an entry (earn, stamp, redeem, expire, reverse, adjust) written in the same
transaction as the balance row it changes. Earns and stamps are written by crediting
(services/crediting/); a unique index on (payment, kind) makes it exactly-once even if two
workers race. Earns keep a `remaining` count so redemptions and expiry spend the oldest
points first.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from loyalty.db.inserts import insert_ignore
from loyalty.errors import Conflict, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Balance, EntryKind, LedgerEntry, LoyaltyProgram, Redemption
from loyalty.models.base import utcnow
from loyalty.unit_of_work import transactional


def balance_row(customer_id: int, program_id: int) -> Balance:
    """The customer's balance for a program, locked for update, created when missing."""
    insert_ignore(Balance, {"customer_id": customer_id, "program_id": program_id, "points": 0,
                            "lifetime_points": 0, "stamps": 0, "rewards_earned": 0},
                  ["merchant_id", "customer_id", "program_id"])
    return db.session.scalars(sa.select(Balance).where(
        Balance.customer_id == customer_id, Balance.program_id == program_id)
        .with_for_update().execution_options(populate_existing=True)).one()


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
