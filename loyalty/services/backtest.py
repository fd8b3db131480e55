"""Back-tests: what a change of a program's rule would have done to its past payments.

The payments: those credited in the program (status `credited`, so reversed ones, whose
points went back anyway, are left out) with `trans_time` in [start, end). What they earned
is what crediting recorded (`payments.points`, and the stamp ledger entry of each payment,
whose description says whether it completed a card). What they would have earned is the
earning rule of services/crediting/rules.py with the rule's values in place of the
program's: floor(amount × points_per_unit × multiplier / unit_amount), nothing below
min_amount, one stamp per qualifying payment. The work happens in the database
(db/backtest.py), in one statement, whatever the number of payments.

Under a stamp rule a customer's card starts the window holding the stamps they earned
before it, modulo the rule's card size (as if the rule had always applied to them), and
each qualifying payment adds one; a reward is reached where that count is a multiple of
the card size.

"Texts that would change": payments whose receipt would read differently — other points,
no receipt at all (below the rule's minimum), or a completed card where there was none (or
the reverse). A changed payment also moves the `{balance}` (and `{stamps_left}`) of the
customer's later receipts; those follow-on changes are not counted, or every later text
of anyone touched would be.

Payments skipped below the program's own minimum are not in the back-test (they were never
credited): a rule that lowers min_amount shows what it changes for the payments that
were credited, not the ones it would add.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from loyalty.db import backtest as statement
from loyalty.errors import ValidationFailed
from loyalty.extensions import db
from loyalty.models import LoyaltyProgram
from loyalty.services.crediting.rules import points_for
from loyalty.services.programs import get_program
from loyalty.tenancy import current_merchant_id, tenant_context

RULE_FIELDS = ("points_per_unit", "unit_amount", "multiplier", "min_amount", "stamps_required")
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Compared:
    actual: int
    under_rule: int

    @property
    def difference(self) -> int:
        return self.under_rule - self.actual


@dataclass(frozen=True)
class BacktestResult:
    program: str
    start: datetime
    end: datetime
    rule: dict[str, Any]  # the whole rule back-tested: the program's with the overrides
    payments: int
    customers: int
    points: Compared
    stamps: Compared
    rewards: Compared
    texts_changed: int
    p50: float | None  # per customer: points under the rule - points earned
    p90: float | None

    @property
    def difference_per_customer(self) -> dict[str, float | None]:
        return {"p50": self.p50, "p90": self.p90}


def effective_rule(program: LoyaltyProgram, rule: dict[str, Any]) -> dict[str, Any]:
    """The program's rule with `rule`'s values in its place; ValidationFailed naming an
    unknown key."""
    unknown = sorted(set(rule) - set(RULE_FIELDS))
    if unknown:
        raise ValidationFailed("A rule may change only " + ", ".join(RULE_FIELDS) + ".",
                               fields={"rule": {key: ["Unknown field."] for key in unknown}})
    merged = {name: getattr(program, name) for name in RULE_FIELDS}
    merged.update(rule)
    return {"points_per_unit": int(merged["points_per_unit"]),
            "unit_amount": Decimal(merged["unit_amount"]),
            "multiplier": Decimal(merged["multiplier"]),
            "min_amount": Decimal(merged["min_amount"]),
            "stamps_required": int(merged["stamps_required"]) if merged["stamps_required"]
            else None}


def backtest(session, merchant_id: int, program: LoyaltyProgram, rule: dict[str, Any],
             start: datetime, end: datetime, *, payments=None) -> BacktestResult:
    """Re-earn `program`'s credited payments of [start, end) under `rule` (overrides of
    the program's rule, `{}` for its own). Reads only; callable from any service.
    `payments` (a condition on Payment) chooses other credited payments than the
    program's own: a setup template's plan back-tests a program it would create over the
    payments its account rules would send there (services/setup_templates/history.py)."""
    full = effective_rule(program, rule)
    if full["unit_amount"] <= 0:
        raise ValidationFailed("The unit amount must be more than 0.",
                               fields={"rule": {"unit_amount": ["Must be more than 0."]}})
    point_rule = {k: full[k] for k in ("points_per_unit", "unit_amount", "multiplier",
                                       "min_amount")}
    with tenant_context(merchant_id):
        totals = statement.run(
            session, merchant_id=merchant_id, program_id=program.id, start=start, end=end,
            rule=statement.factors(**full),
            stamps=bool(program.stamps_required or full["stamps_required"]),
            sqlite_points=lambda amount: points_for(amount, **point_rule), payments=payments)
    p50, p90 = totals.p50, totals.p90
    if totals.differences is not None:
        p50, p90 = (percentile_cont(totals.differences, q) for q in (0.5, 0.9))
    return BacktestResult(
        program=program.code, start=start, end=end, rule=full, payments=totals.payments,
        customers=totals.customers,
        points=Compared(totals.actual_points, totals.rule_points),
        stamps=Compared(totals.actual_stamp, totals.rule_stamp),
        rewards=Compared(totals.actual_reward, totals.rule_reward),
        texts_changed=totals.changed, p50=p50, p90=p90)


def backtest_program(code: str, args: dict[str, Any]) -> BacktestResult:
    """The API's back-test: the current merchant's program by code, the window defaulting
    to the last 30 days (or the 30 days before `to`)."""
    program = get_program(code)
    start, end = window(args.get("start"), args.get("end"))
    return backtest(db.session, current_merchant_id(), program, args.get("rule") or {},
                    start, end)


def last_days(program: LoyaltyProgram, rule: dict[str, Any],
              days: int = DEFAULT_DAYS) -> BacktestResult:
    """The web page's back-test: the last `days` days up to now."""
    end = datetime.now(timezone.utc)
    return backtest(db.session, program.merchant_id, program, rule,
                    end - timedelta(days=days), end)


def window(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """[start, end) with the defaults filled in: to = now, from = 30 days before to."""
    if end is None:
        end = datetime.now(timezone.utc)
        if start is not None and start >= end:
            raise ValidationFailed("The window ends before it starts.",
                                   fields={"from": ["Must be in the past."]})
    if start is None:
        start = end - timedelta(days=DEFAULT_DAYS)
    if end - start > timedelta(days=366):
        raise ValidationFailed("The window is too long.",
                               fields={"from": ["Must be at most 366 days before `to`."]})
    return start, end


def percentile_cont(values: list[int], q: float) -> float | None:
    """PostgreSQL's percentile_cont over sorted values: linear between the two nearest."""
    if not values:
        return None
    position = q * (len(values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(values) - 1)
    return float(values[lower] + (position - lower) * (values[upper] - values[lower]))
