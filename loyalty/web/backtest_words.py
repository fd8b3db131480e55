"""A back-test (services/backtest.py) told as a shop owner reads it, on the program page.

Points are shown as points: a program has no shilling value per point, so there is no
honest KES figure to put on them.
"""

from __future__ import annotations

from loyalty.services.backtest import BacktestResult


def _n(value: int) -> str:
    return f"{value:,}"


def _more_or_fewer(difference: int, unit: str) -> str:
    if difference == 0:
        return f"the same {unit}"
    return f"{_n(abs(difference))} {'more' if difference > 0 else 'fewer'} {unit}"


def _signed(value: float) -> str:
    shown = f"{abs(value):,.1f}".removesuffix(".0")
    return ("+" if value > 0 else "−" if value < 0 else "") + shown


def backtest_words(result: BacktestResult) -> list[str]:
    """A few short sentences, one per line on a phone."""
    if not result.payments:
        return ["No payments earned in this program in the last 30 days, so there is "
                "nothing to compare yet."]
    people = "customer" if result.customers == 1 else "customers"
    lines = [f"In the last 30 days {_n(result.payments)} payment"
             f"{'' if result.payments == 1 else 's'} from {_n(result.customers)} {people} "
             f"earned {_n(result.points.actual)} points."]
    if result.points.difference == 0:
        lines.append("With these rules they would have earned the same points.")
    else:
        lines.append(f"With these rules: {_n(result.points.under_rule)} points, "
                     f"{_more_or_fewer(result.points.difference, 'points')}.")
        if result.p50 is not None and result.p90 is not None:
            lines.append(f"Per customer: half would see {_signed(result.p50)} points or "
                         f"less, nine in ten {_signed(result.p90)} or less.")
    if result.rewards.actual or result.rewards.under_rule or result.rule["stamps_required"]:
        lines.append(f"Stamp cards completed: {_n(result.rewards.actual)} then, "
                     f"{_n(result.rewards.under_rule)} with these rules.")
    if result.texts_changed:
        texts = "text" if result.texts_changed == 1 else "texts"
        lines.append(f"{_n(result.texts_changed)} receipt {texts} would have said something "
                     "different.")
    else:
        lines.append("Every receipt text would have said the same.")
    return lines
