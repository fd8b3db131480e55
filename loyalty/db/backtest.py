"""The back-test's statement: a program's credited payments re-earned under another rule,
aggregated in the database (services/backtest.py says what it means).

One statement: the window's payments with the points they earned and would earn, summed
per customer, then over customers. On PostgreSQL the rule's points are exact integer
arithmetic — `div(amount × k, d)` with k/d the rule's factor as a fraction of integers, so
no rounding ever happens before the floor, as in rules.points_for's Decimal arithmetic —
and p50/p90 are `percentile_cont`. SQLite (`make run`) keeps amounts as floats and has no
percentiles: the rule's points come from the Python rule itself, registered as an SQL
function on the connection, and the caller interpolates the percentiles over the
per-customer differences this module reads back sorted (slower, still right).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from loyalty.models import EntryKind, LedgerEntry, Payment, PaymentStatus
from loyalty.models.ledger import REWARD_PREFIX


@dataclass(frozen=True)
class Factors:
    """A rule as integers: points = floor(amount × k / d) for a payment that qualifies,
    i.e. amount > 0 and amount × min_den ≥ min_num; `stamps_required` None for points only."""

    k: int
    d: int
    min_num: int
    min_den: int
    stamps_required: int | None


def factors(*, points_per_unit: int, unit_amount: Decimal, multiplier: Decimal,
            min_amount: Decimal, stamps_required: int | None) -> Factors:
    """amount × ppu × (mn/md) / (un/ud) = amount × (ppu·mn·ud) / (md·un), exactly."""
    mn, md = Decimal(multiplier).as_integer_ratio()
    un, ud = Decimal(unit_amount).as_integer_ratio()
    min_num, min_den = Decimal(min_amount).as_integer_ratio()
    return Factors(k=int(points_per_unit) * mn * ud, d=md * un, min_num=min_num,
                   min_den=min_den, stamps_required=stamps_required or None)


@dataclass(frozen=True)
class Totals:
    payments: int
    customers: int
    actual_points: int
    rule_points: int
    actual_stamp: int   # stamps, summed over the payments
    rule_stamp: int
    actual_reward: int  # cards completed
    rule_reward: int
    changed: int        # texts that would change
    p50: float | None  # None on SQLite: `differences` holds what to interpolate
    p90: float | None
    differences: list[int] | None


def run(session, *, merchant_id: int, program_id: int, start: datetime, end: datetime,
        rule: Factors, stamps: bool, sqlite_points: Callable[[Decimal], int]) -> Totals:
    """The aggregates of the back-test. `stamps`: read the stamps actually earned from the
    ledger (the program is, or the rule makes it, a stamp card); `sqlite_points` is the
    rule's points for an amount (rules.points_for), SQLite's stand-in for the arithmetic."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    amount = Payment.amount
    if postgres:
        meets_minimum = amount * rule.min_den >= sa.literal(rule.min_num, sa.Numeric)
        qualifies = sa.and_(amount > 0, meets_minimum)
        points = sa.case((qualifies, sa.func.div(amount * sa.literal(rule.k, sa.Numeric),
                                                 sa.literal(rule.d, sa.Numeric))), else_=0)
    else:
        _register(connection, sqlite_points, rule)
        qualifies = sa.func.backtest_qualifies(amount) == 1
        points = sa.func.backtest_points(amount)
    # Window functions cannot be nested in aggregates: the per-payment rows are a CTE.
    columns = [Payment.id.label("id"), Payment.customer_id.label("customer_id"),
               Payment.trans_time.label("trans_time"),
               Payment.points.label("actual_points"), points.label("rule_points"),
               sa.case((qualifies, 1), else_=0).label("qualifies")]
    query = sa.select(*columns)
    if stamps:
        stamp = aliased(LedgerEntry)
        query = sa.select(
            *columns, sa.case((stamp.id.is_not(None), 1), else_=0).label("actual_stamp"),
            sa.case((stamp.description.startswith(REWARD_PREFIX, autoescape=True), 1),
                    else_=0).label("actual_reward")).outerjoin(
            stamp, sa.and_(stamp.payment_id == Payment.id, stamp.kind == EntryKind.STAMP))
    else:
        query = sa.select(*columns, sa.literal(0).label("actual_stamp"),
                          sa.literal(0).label("actual_reward"))
    query = query.where(Payment.merchant_id == merchant_id, Payment.program_id == program_id,
                        Payment.status == PaymentStatus.CREDITED, Payment.trans_time >= start,
                        Payment.trans_time < end)
    paid = query.cte("paid")
    reward = sa.literal(0)
    if rule.stamps_required:
        reward = _rule_rewards(paid, merchant_id, program_id, start, rule.stamps_required)
    changed = sa.or_(paid.c.rule_points != paid.c.actual_points, paid.c.qualifies == 0,
                     reward != paid.c.actual_reward)
    rule_stamp = paid.c.qualifies if rule.stamps_required else sa.literal(0)
    per_payment = sa.select(
        paid.c.customer_id, paid.c.actual_points, paid.c.rule_points, paid.c.actual_stamp,
        paid.c.actual_reward, rule_stamp.label("rule_stamp"), reward.label("rule_reward"),
        sa.case((changed, 1), else_=0).label("changed"))
    if rule.stamps_required:
        per_payment = per_payment.select_from(paid).outerjoin(
            _PRIOR, _PRIOR.c.customer_id == paid.c.customer_id)
    rows = per_payment.cte("per_payment")
    per_customer = sa.select(
        (sa.func.sum(rows.c.rule_points) - sa.func.sum(rows.c.actual_points)).label("diff"),
        *(sa.func.sum(rows.c[name]).label(name) for name in _SUMMED),
        sa.func.count().label("payments")).group_by(rows.c.customer_id).cte("per_customer")
    summary = [sa.func.coalesce(sa.func.sum(per_customer.c.payments), 0),
               sa.func.count(), *(sa.func.coalesce(sa.func.sum(per_customer.c[name]), 0)
                                  for name in _SUMMED)]
    if postgres:
        summary += [sa.func.percentile_cont(q).within_group(per_customer.c.diff)
                    for q in (0.5, 0.9)]
    params = {"bt_merchant": merchant_id, "bt_program": program_id, "bt_start": start}
    row = session.execute(sa.select(*summary), params).one()
    values = [int(value) for value in row[:2 + len(_SUMMED)]]
    totals = dict(zip(("payments", "customers", *_SUMMED), values, strict=True))
    if postgres:
        p50, p90 = (None if v is None else float(v) for v in row[-2:])
        return Totals(**totals, p50=p50, p90=p90, differences=None)
    diffs = [int(d) for d in session.scalars(
        sa.select(per_customer.c.diff).order_by(per_customer.c.diff), params)]
    return Totals(**totals, p50=None, p90=None, differences=diffs)


_SUMMED = ("actual_points", "rule_points", "actual_stamp", "rule_stamp", "actual_reward",
           "rule_reward", "changed")

# Stamps each customer held before the window: the card a rule's count starts from.
_PRIOR = (sa.select(LedgerEntry.customer_id.label("customer_id"),
                    sa.func.sum(LedgerEntry.stamps).label("stamps"))
          .where(LedgerEntry.merchant_id == sa.bindparam("bt_merchant"),
                 LedgerEntry.program_id == sa.bindparam("bt_program"),
                 LedgerEntry.created_at < sa.bindparam("bt_start"))
          .group_by(LedgerEntry.customer_id).subquery("prior"))


def _rule_rewards(paid, merchant_id: int, program_id: int, start: datetime, required: int):
    """1 where a qualifying payment fills the card under the rule: the customer's stamps
    before the window (modulo the rule's card size: as if the rule had always applied to
    them) plus the qualifying payments so far in the window reach a multiple of it."""
    so_far = sa.func.sum(paid.c.qualifies).over(partition_by=paid.c.customer_id,
                                               order_by=(paid.c.trans_time, paid.c.id))
    before = sa.func.coalesce(_PRIOR.c.stamps, 0)
    before = sa.case((before > 0, before % required), else_=0)
    return sa.case((sa.and_(paid.c.qualifies == 1, (before + so_far) % required == 0), 1),
                   else_=0)


def _register(connection, points: Callable[[Decimal], int], rule: Factors) -> None:
    """The rule as SQL functions on this SQLite connection (its amounts are floats: the
    shortest repr of a two-place amount is the amount)."""
    raw = connection.connection.driver_connection

    def amount_of(value) -> Decimal:
        return Decimal(str(value)).quantize(Decimal("0.01"))

    def qualifies(value) -> int:
        amount = amount_of(value)
        return int(amount > 0 and amount * rule.min_den >= rule.min_num)

    raw.create_function("backtest_points", 1, lambda value: points(amount_of(value)),
                        deterministic=True)
    raw.create_function("backtest_qualifies", 1, qualifies, deterministic=True)
