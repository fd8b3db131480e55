"""The back-test's statement: a program's credited payments re-earned under another rule,
aggregated in the database (services/backtest.py says what it means).

One statement: the window's payments with the points they earned and would earn, summed
per customer, then over customers. On PostgreSQL the rule's points are exact integer
arithmetic — cents × k / (100·d) in bigint, with k/d the rule's factor as a fraction of
integers (NUMERIC `div` for factors too large for that), so no rounding ever happens
before the floor, as in rules.points_for's Decimal arithmetic —
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

from loyalty.db.statements import for_one_large_read
from loyalty.models import EntryKind, LedgerEntry, Payment, PaymentStatus
from loyalty.models.ledger import REWARD_PREFIX


@dataclass(frozen=True)
class Factors:
    """A rule as integers: points = floor(amount × k / d) for a payment that qualifies
    (amount > 0 and amount ≥ min_amount); `stamps_required` None for points only."""

    k: int
    d: int
    min_amount: Decimal
    stamps_required: int | None


def factors(*, points_per_unit: int, unit_amount: Decimal, multiplier: Decimal,
            min_amount: Decimal, stamps_required: int | None) -> Factors:
    """amount × ppu × (mn/md) / (un/ud) = amount × (ppu·mn·ud) / (md·un), exactly."""
    mn, md = Decimal(multiplier).as_integer_ratio()
    un, ud = Decimal(unit_amount).as_integer_ratio()
    return Factors(k=int(points_per_unit) * mn * ud, d=md * un, min_amount=Decimal(min_amount),
                   stamps_required=stamps_required or None)


# Amounts are NUMERIC(14, 2): at most 10^14 cents, so cents × k fits a bigint below this k
# (every rule a merchant types: 1.5 points per KES 100 is k = 3) and the points are plain
# integer arithmetic; above it, NUMERIC arithmetic, slower and as exact.
BIGINT_SAFE_K = (2**63 - 1) // 10**14


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


def _points_sql(amount, rule: Factors):
    qualifies = sa.and_(amount > 0, amount >= sa.literal(rule.min_amount, sa.Numeric))
    if rule.k <= BIGINT_SAFE_K:
        cents = sa.cast(amount * 100, sa.BigInteger)
        # Integer division truncates, which is the floor for the positive amounts here.
        earned = (cents * sa.literal(rule.k, sa.BigInteger)).op(
            "/", return_type=sa.BigInteger)(sa.literal(rule.d * 100, sa.BigInteger))
    else:
        earned = sa.func.div(amount * sa.literal(rule.k, sa.Numeric),
                             sa.literal(rule.d, sa.Numeric))
    return qualifies, sa.case((qualifies, earned), else_=0)


def run(session, *, merchant_id: int, program_id: int | None, start: datetime, end: datetime,
        rule: Factors, stamps: bool, sqlite_points: Callable[[Decimal], int],
        payments=None) -> Totals:
    """The aggregates of the back-test. `stamps`: read the stamps actually earned from the
    ledger (the program is, or the rule makes it, a stamp card); `sqlite_points` is the
    rule's points for an amount (rules.points_for), SQLite's stand-in for the arithmetic.
    `payments`: a condition on Payment choosing the payments instead of the program's own
    (a program not created yet, `program_id` None: it has no stamps before the window)."""
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    amount = Payment.amount
    if postgres:
        # Per-customer sums of 50,000 customers spill to disk at the default work_mem.
        for_one_large_read(session, work_mem="64MB")
        qualifies, points = _points_sql(amount, rule)
    else:
        _register(connection, sqlite_points, rule)
        qualifies = sa.func.backtest_qualifies(amount) == 1
        points = sa.func.backtest_points(amount)
    stamps = stamps or bool(rule.stamps_required)
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
    chosen = Payment.program_id == program_id if payments is None else payments
    query = query.where(Payment.merchant_id == merchant_id, chosen,
                        Payment.status == PaymentStatus.CREDITED, Payment.trans_time >= start,
                        Payment.trans_time < end)
    paid = query.cte("paid")
    reward = sa.literal(0)
    if rule.stamps_required:
        reward = _rule_rewards(paid, merchant_id, program_id, start, rule.stamps_required)
    changed = [paid.c.rule_points != paid.c.actual_points, paid.c.qualifies == 0]
    if stamps:
        changed.append(reward != paid.c.actual_reward)
    per_row = [paid.c.customer_id, paid.c.actual_points,
               (paid.c.rule_points - paid.c.actual_points).label("diff"),
               sa.case((sa.or_(*changed), 1), else_=0).label("changed")]
    summed = ["actual_points", "diff", "changed"]
    if stamps:
        rule_stamp = paid.c.qualifies if rule.stamps_required else sa.literal(0)
        per_row += [paid.c.actual_stamp, paid.c.actual_reward, rule_stamp.label("rule_stamp"),
                    reward.label("rule_reward")]
        summed += ["actual_stamp", "rule_stamp", "actual_reward", "rule_reward"]
    per_payment = sa.select(*per_row)
    if rule.stamps_required:
        per_payment = per_payment.select_from(paid).outerjoin(
            _PRIOR, _PRIOR.c.customer_id == paid.c.customer_id)
    rows = per_payment.cte("per_payment")
    per_customer = sa.select(
        sa.func.count().label("payments"),
        *(sa.func.sum(rows.c[name]).label(name) for name in summed)
    ).group_by(rows.c.customer_id).cte("per_customer")
    summary = [sa.func.coalesce(sa.func.sum(per_customer.c.payments), 0), sa.func.count(),
               *(sa.func.coalesce(sa.func.sum(per_customer.c[name]), 0) for name in summed)]
    if postgres:
        summary += [sa.func.percentile_cont(q).within_group(per_customer.c.diff)
                    for q in (0.5, 0.9)]
    params = {"bt_merchant": merchant_id, "bt_program": program_id, "bt_start": start}
    row = session.execute(sa.select(*summary), params).one()
    values = dict(zip(("payments", "customers", *summed),
                      (int(value) for value in row[:2 + len(summed)]), strict=True))
    totals = {"payments": values["payments"], "customers": values["customers"],
              "actual_points": values["actual_points"],
              "rule_points": values["actual_points"] + values["diff"],
              "changed": values["changed"],
              **{name: values.get(name, 0) for name in _STAMP_SUMS}}
    if postgres:
        p50, p90 = (None if v is None else float(v) for v in row[-2:])
        return Totals(**totals, p50=p50, p90=p90, differences=None)
    diffs = [int(d) for d in session.scalars(
        sa.select(per_customer.c.diff).order_by(per_customer.c.diff), params)]
    return Totals(**totals, p50=None, p90=None, differences=diffs)


_STAMP_SUMS = ("actual_stamp", "rule_stamp", "actual_reward", "rule_reward")

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
        return int(amount > 0 and amount >= rule.min_amount)

    raw.create_function("backtest_points", 1, lambda value: points(amount_of(value)),
                        deterministic=True)
    raw.create_function("backtest_qualifies", 1, qualifies, deterministic=True)
