"""A back-test (services/backtest.py) told as a shop owner reads it, on the program page.

Points are shown as points: a program has no shilling value per point, so there is no
honest KES figure to put on them.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import ngettext

from loyalty.services.backtest import BacktestResult


def _n(value: int) -> str:
    return f"{value:,}"


def _more_or_fewer(difference: int) -> str:
    if difference > 0:
        return _("%(num)s more points", num=_n(difference))
    return _("%(num)s fewer points", num=_n(-difference))


def _signed(value: float) -> str:
    shown = f"{abs(value):,.1f}".removesuffix(".0")
    return ("+" if value > 0 else "−" if value < 0 else "") + shown


def backtest_words(result: BacktestResult) -> list[str]:
    """A few short sentences, one per line on a phone, in the page's language."""
    if not result.payments:
        return [_("No payments earned in this program in the last 30 days, so there is "
                  "nothing to compare yet.")]
    lines = [ngettext("In the last 30 days %(count)s payment", "In the last 30 days %(count)s payments",
                      result.payments, count=_n(result.payments)) + " "
             + ngettext("from %(count)s customer earned %(points)s points.",
                        "from %(count)s customers earned %(points)s points.", result.customers,
                        count=_n(result.customers), points=_n(result.points.actual))]
    if result.points.difference == 0:
        lines.append(_("With these rules they would have earned the same points."))
    else:
        lines.append(_("With these rules: %(points)s points, %(change)s.",
                       points=_n(result.points.under_rule),
                       change=_more_or_fewer(result.points.difference)))
        if result.p50 is not None and result.p90 is not None:
            lines.append(_("Per customer: half would see %(p50)s points or less, nine in ten "
                           "%(p90)s or less.", p50=_signed(result.p50), p90=_signed(result.p90)))
    if result.rewards.actual or result.rewards.under_rule or result.rule["stamps_required"]:
        lines.append(_("Stamp cards completed: %(then)s then, %(now)s with these rules.",
                       then=_n(result.rewards.actual), now=_n(result.rewards.under_rule)))
    if result.texts_changed:
        lines.append(ngettext("%(count)s receipt text would have said something different.",
                              "%(count)s receipt texts would have said something different.",
                              result.texts_changed, count=_n(result.texts_changed)))
    else:
        lines.append(_("Every receipt text would have said the same."))
    return lines


def plan_backtest_words(entry: dict) -> list[str]:
    """One program of a setup template's plan back-test (services/setup_templates/
    history.py): the last 90 days under the template's rule."""
    program, payments, customers = entry["name"], entry["payments"], entry["customers"]
    if entry["basis"] == "routed":
        if not payments:
            return [_("“%(program)s”: none of your payments of the last 90 days would have "
                      "earned here.", program=program)]
        lines = [ngettext("“%(program)s”: in the last 90 days %(count)s payment",
                          "“%(program)s”: in the last 90 days %(count)s payments",
                          payments, program=program, count=_n(payments)) + " "
                 + ngettext("from %(count)s customer would have earned here by its account "
                            "number.",
                            "from %(count)s customers would have earned here by their account "
                            "numbers.", customers, count=_n(customers))]
    else:
        if not payments:
            return [_("“%(program)s”: no payments earned in it in the last 90 days.",
                      program=program)]
        lines = [ngettext("“%(program)s”: in the last 90 days %(count)s payment",
                          "“%(program)s”: in the last 90 days %(count)s payments",
                          payments, program=program, count=_n(payments)) + " "
                 + ngettext("from %(count)s customer earned in it.",
                            "from %(count)s customers earned in it.", customers,
                            count=_n(customers))]
    points, rewards = entry["points"], entry["rewards"]
    if points.difference == 0:
        lines.append(_("They earned %(points)s points, the same as with the template's rules.",
                       points=_n(points.actual)))
    else:
        lines.append(_("They earned %(then)s points; with the template's rules: %(now)s points, "
                       "%(change)s.", then=_n(points.actual), now=_n(points.under_rule),
                       change=_more_or_fewer(points.difference)))
        p50, p90 = entry["p50"], entry["p90"]
        if p50 is not None and p90 is not None:
            lines.append(_("Per customer: half would see %(p50)s points or less, nine in ten "
                           "%(p90)s or less.", p50=_signed(p50), p90=_signed(p90)))
    if rewards.actual or rewards.under_rule or entry["rule"]["stamps_required"]:
        lines.append(_("Stamp cards completed: %(then)s then, %(now)s with these rules.",
                       then=_n(rewards.actual), now=_n(rewards.under_rule)))
    return lines
