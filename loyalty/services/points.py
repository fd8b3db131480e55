"""The points formula: pure Decimal arithmetic, integers out."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal


def points_for(amount: Decimal, *, points_per_unit: int, unit_amount: Decimal,
               multiplier: Decimal = Decimal(1), min_amount: Decimal = Decimal(0)) -> int:
    """floor(amount x points_per_unit x multiplier / unit_amount); 0 below min_amount.

    KES 5,000 at 1 point per KES 100 with multiplier 2 -> 100 points;
    KES 1,234.50 at 1 point per KES 100 -> 12 points.
    """
    amount = Decimal(amount)
    if amount <= 0 or amount < Decimal(min_amount) or Decimal(unit_amount) <= 0:
        return 0
    exact = amount * Decimal(points_per_unit) * Decimal(multiplier) / Decimal(unit_amount)
    return int(exact.to_integral_value(rounding=ROUND_FLOOR))
