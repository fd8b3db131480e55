"""The points ledger: append-only entries, and the balance rows they change.

Every change is an entry (earn, stamp, redeem, expire, reverse, adjust) written in the same
transaction as the balance row it changes. Earns and stamps are written by crediting
(services/crediting/); a unique index on (payment, kind) makes it exactly-once even if two
workers race, and a payment's `reverse` entry (its claw-back: crediting/reversal.py) once
as well. Earns and
added adjustments keep a `remaining` count so redemptions, expiry and claw-backs spend the
oldest points first. A balance may be negative after a claw-back (the points were spent);
redemptions wait until it is positive again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from loyalty.db.inserts import insert_ignore
from loyalty.errors import Conflict, ValidationFailed
from loyalty.extensions import db
from loyalty.models import (
    Adjustment,
    Balance,
    EntryKind,
    LedgerEntry,
    LoyaltyProgram,
    Redemption,
)
from loyalty.models.base import utcnow
from loyalty.unit_of_work import transactional

# Entries whose unspent points are lots: spent oldest first, and expired after the
# program's points_expiry_days, whatever brought them.
LOTS = (EntryKind.EARN, EntryKind.ADJUST)


def balance_row(customer_id: int, program_id: int) -> Balance:
    """The customer's balance for a program, locked for update, created when missing."""
    insert_ignore(Balance, {"customer_id": customer_id, "program_id": program_id, "points": 0,
                            "lifetime_points": 0, "stamps": 0, "rewards_earned": 0},
                  ["merchant_id", "customer_id", "program_id"])
    return db.session.scalars(sa.select(Balance).where(
        Balance.customer_id == customer_id, Balance.program_id == program_id)
        .with_for_update().execution_options(populate_existing=True)).one()


def spend_oldest(customer_id: int, program_id: int, points: int,
                  first: LedgerEntry | None = None) -> None:
    """Take `points` from the lots that still have some left: `first`, then the oldest."""
    lots = db.session.scalars(sa.select(LedgerEntry).where(
        LedgerEntry.customer_id == customer_id, LedgerEntry.program_id == program_id,
        LedgerEntry.remaining > 0).order_by(LedgerEntry.created_at, LedgerEntry.id)
        .with_for_update()).all()
    if first is not None and first in lots:
        lots.remove(first)
        lots.insert(0, first)
    for lot in lots:
        if points <= 0:
            break
        used = min(lot.remaining, points)
        lot.remaining -= used
        points -= used


def claim_key(model, values: dict[str, Any], same: tuple[str, ...], what: str) -> tuple[Any, bool]:
    """Record a request under its idempotency key, once: (the row, created now).

    `INSERT … ON CONFLICT DO NOTHING` on (merchant, key), so two requests racing with one
    key record one row: the second waits for the first to commit and then finds it. A key
    already used for another request (any of the `same` fields differs) is a Conflict."""
    new_id = insert_ignore(model, values, ["merchant_id", "idempotency_key"])
    if new_id is not None:
        return db.session.get(model, new_id), True
    return replayed(model, values, same, what), False


def replayed(model, values: dict[str, Any], same: tuple[str, ...], what: str) -> Any | None:
    """The row recorded earlier under this idempotency key, if any; a Conflict when it was
    recorded for another request (any of the `same` fields differs)."""
    existing = db.session.scalar(sa.select(model).where(
        model.idempotency_key == values["idempotency_key"]))
    if existing is not None and any(getattr(existing, name) != values[name] for name in same):
        raise Conflict(f"This idempotency key was used for a different {what}.",
                       code="idempotency_key_reused")
    return existing


def _refuse_negative(balance: Balance) -> None:
    if balance.points < 0:
        raise Conflict(f"The balance is {balance.points:,} points after a reversal took back "
                       "points that were already spent; redemptions resume once it is above "
                       "zero again.", code="balance_negative")


@transactional
def redeem(*, customer_id: int, program: LoyaltyProgram, points: int, description: str | None,
           idempotency_key: str) -> tuple[Redemption, int, bool]:
    """Spend points; (redemption, balance after, created). The same idempotency key
    returns the first redemption instead of spending twice. Conflict when short, and
    while the balance is negative."""
    if points <= 0:
        raise ValidationFailed("Redeem at least one point.", fields={"points": ["Must be positive."]})
    redemption, created = claim_key(Redemption, {
        "customer_id": customer_id, "program_id": program.id, "points": points,
        "description": description, "idempotency_key": idempotency_key,
        "created_at": utcnow()}, ("customer_id", "program_id", "points"), "redemption")
    balance = balance_row(customer_id, program.id)
    if not created:
        return redemption, balance, False
    _refuse_negative(balance)
    if balance.points < points:
        raise Conflict(f"Not enough points: the balance is {balance.points:,}, the redemption "
                       f"needs {points:,}.", code="insufficient_points")
    spend_oldest(customer_id, program.id, points)
    db.session.add(LedgerEntry(customer_id=customer_id, program_id=program.id, kind=EntryKind.REDEEM,
                               points=-points, redemption_id=redemption.id, description=description))
    balance.points -= points
    db.session.flush()
    return redemption, balance, True


@transactional
def redeem_reward(*, customer_id: int, program: LoyaltyProgram, description: str | None,
                  idempotency_key: str) -> tuple[Redemption, Balance, bool]:
    """Hand over one stamp-card reward; (redemption, balance after, created), idempotent
    like a points redemption. Conflict when none is waiting."""
    if not program.stamps_required:
        raise Conflict(f"'{program.code}' is not a stamp card: it has no rewards to redeem.",
                       code="not_a_stamp_card")
    redemption, created = claim_key(Redemption, {
        "customer_id": customer_id, "program_id": program.id, "points": 0, "rewards": 1,
        "description": description, "idempotency_key": idempotency_key,
        "created_at": utcnow()}, ("customer_id", "program_id", "points", "rewards"), "redemption")
    balance = balance_row(customer_id, program.id)
    if not created:
        return redemption, balance, False
    if balance.rewards_available < 1:
        raise Conflict("No reward is waiting: the stamp card is not complete yet.",
                       code="no_reward_available")
    balance.rewards_redeemed += 1
    db.session.add(LedgerEntry(customer_id=customer_id, program_id=program.id,
                               kind=EntryKind.REDEEM, points=0, redemption_id=redemption.id,
                               description=description or f"Reward: {program.stamp_reward}"))
    db.session.flush()
    return redemption, balance, True


@transactional
def adjust(*, customer_id: int, program: LoyaltyProgram, points: int, reason: str,
           idempotency_key: str) -> tuple[Adjustment, int, bool]:
    """Add (points > 0) or take away (points < 0) points by hand: (adjustment, balance after,
    created), idempotent like a redemption. Added points are a lot like earned ones; taking
    away may leave the balance negative (the merchant's correction stands)."""
    if points == 0:
        raise ValidationFailed("An adjustment adds or takes away at least one point.",
                               fields={"points": ["Must not be 0."]})
    adjustment, created = claim_key(Adjustment, {
        "customer_id": customer_id, "program_id": program.id, "points": points,
        "reason": reason, "idempotency_key": idempotency_key, "created_at": utcnow()},
        ("customer_id", "program_id", "points", "reason"), "adjustment")
    balance = balance_row(customer_id, program.id)
    if not created:
        return adjustment, balance.points, False
    if points < 0:
        spend_oldest(customer_id, program.id, -points)
    db.session.add(LedgerEntry(customer_id=customer_id, program_id=program.id,
                               kind=EntryKind.ADJUST, points=points, remaining=max(points, 0),
                               adjustment_id=adjustment.id, description=reason))
    balance.points += points
    db.session.flush()
    return adjustment, balance.points, True


def expire_points(now=None) -> int:
    """Expire what is left of lots (earns, added adjustments) older than each program's
    points_expiry_days (current merchant). Returns the number of points expired."""
    now = now or utcnow()
    expired = 0
    programs = db.session.scalars(sa.select(LoyaltyProgram).where(
        LoyaltyProgram.points_expiry_days.is_not(None)))
    for program in programs:
        cutoff = now - timedelta(days=program.points_expiry_days)
        lots = db.session.scalars(sa.select(LedgerEntry).where(
            LedgerEntry.program_id == program.id, LedgerEntry.kind.in_(LOTS),
            LedgerEntry.remaining > 0, LedgerEntry.created_at < cutoff)
            .order_by(LedgerEntry.id).with_for_update()).all()
        for lot in lots:
            balance = balance_row(lot.customer_id, program.id)
            # Never below zero: a balance left negative by a claw-back has nothing to expire.
            amount = max(0, min(lot.remaining, balance.points))
            lot.remaining = 0
            if amount:
                balance.points -= amount
                db.session.add(LedgerEntry(customer_id=lot.customer_id, program_id=program.id,
                                           kind=EntryKind.EXPIRE, points=-amount,
                                           description=f"Expired: earned {lot.created_at:%Y-%m-%d}"))
                expired += amount
    db.session.flush()
    return expired
