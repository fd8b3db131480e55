"""A template plan's back-test: what each program it would create or change would have
earned over the merchant's last 90 days of payments (services/backtest.py does the sums).

Which payments, per program the plan would `create`, `update` or take over (`conflict`):

- a program that exists: its own credited payments, re-earned under the template's rule
  (the same numbers as `POST /programs/{code}/backtest` with that rule);
- a program to be created has no payments yet: the credited payments on the channel whose
  account rules the plan sets, routed by those rules as they would be after applying (the
  channel's rules with the template's patterns added, a pattern replacing the one it equals
  ignoring case), in crediting's order: the exact reference, else the longest matching
  prefix, else `default`, else the merchant's default program after applying; trimmed and
  ignoring case. Those that land on the program are re-earned under its rule; "now" is
  what they earned where they were credited. Without such a channel a new program is left
  out: nothing would be routed to it.

Only the template's changes of the rule count; which payments an existing program receives
is taken as it was, even where the template changes its account rules. No payment of the
merchant's in the window (credited) means no back-test at all (None), not rows of zeros.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.models import MpesaChannel, Payment, PaymentStatus
from loyalty.services.account_mapping import DEFAULT_KEY
from loyalty.services.backtest import RULE_FIELDS, backtest
from loyalty.services.programs import get_program
from loyalty.services.setup_templates.planning import (
    DEFAULT_PROGRAM_CODE,
    Current,
    Desired,
    with_mappings,
)
from loyalty.tenancy import current_merchant_id

HISTORY_DAYS = 90
CHANGING = ("create", "update", "conflict")


@dataclass(frozen=True)
class _Unsaved:
    """A program the plan would create, as the back-test reads a program: its rule, no id."""

    code: str
    points_per_unit: int
    unit_amount: Any
    multiplier: Any
    min_amount: Any
    stamps_required: int | None
    id: None = None


def plan_backtest(desired: Desired, current: Current, resources: list[dict[str, Any]],
                  channel: MpesaChannel | None,
                  now: datetime | None = None) -> dict[str, Any] | None:
    """{from, to, days, programs: [...]} for the plan's changing programs, each a back-test
    with its `action` and `basis` (`own` or `routed`); None without payments in the window."""
    end = now or datetime.now(timezone.utc)
    start = end - timedelta(days=HISTORY_DAYS)
    merchant_id = current_merchant_id()
    if not _has_history(merchant_id, start, end):
        return None
    entries = []
    for resource in resources:
        if resource["kind"] != "program" or resource["action"] not in CHANGING:
            continue
        code = resource["key"]
        wanted = {name: desired.programs[code][name] for name in RULE_FIELDS}
        if code in current.programs:
            result = backtest(db.session, merchant_id, get_program(code), wanted, start, end)
            basis = "own"
        elif channel is not None:
            # The channel's rules once applied, merged as state.write merges them.
            after = with_mappings(current.mappings or {}, desired.mappings)
            routed = _routed_to(code, after, channel.id,
                                desired.default_program or current.default_program
                                or DEFAULT_PROGRAM_CODE)
            result = backtest(db.session, merchant_id, _Unsaved(code=code, **wanted), {},
                              start, end, payments=routed)
            basis = "routed"
        else:
            continue
        entries.append({"action": resource["action"], "basis": basis,
                        "name": desired.programs[code]["name"],
                        **{f.name: getattr(result, f.name) for f in dataclasses.fields(result)},
                        "difference_per_customer": result.difference_per_customer})
    return {"start": start, "end": end, "days": HISTORY_DAYS, "programs": entries}


def _has_history(merchant_id: int, start: datetime, end: datetime) -> bool:
    return bool(db.session.scalar(sa.select(sa.exists().where(
        Payment.merchant_id == merchant_id, Payment.status == PaymentStatus.CREDITED,
        Payment.trans_time >= start, Payment.trans_time < end))))


def _routed_to(code: str, mapping: dict[str, str], channel_id: int, default_program: str):
    """A condition on Payment: on the channel, and account_mapping.resolve of its
    reference under `mapping` (or the default program) is `code`."""
    reference = sa.func.upper(sa.func.trim(sa.func.coalesce(Payment.bill_ref, "")))
    exact = [(reference == key.upper(), target) for key, target in mapping.items()
             if key != DEFAULT_KEY and not key.endswith("*")]
    prefixes = sorted(((key[:-1].upper(), target) for key, target in mapping.items()
                       if key.endswith("*")), key=lambda item: -len(item[0]))
    whens = exact + [(reference.startswith(stem, autoescape=True), target)
                     for stem, target in prefixes]
    fallback = sa.literal(mapping.get(DEFAULT_KEY, default_program))
    program = sa.case(*whens, else_=fallback) if whens else fallback
    return sa.and_(Payment.channel_id == channel_id, program == code)
