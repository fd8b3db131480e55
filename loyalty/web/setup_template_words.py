"""The shipped setup templates' own words (loyalty/setup_templates/*/*.json) in the page's
language: title, description, instructions and the questions' labels.

A published manifest never changes (its hash is pinned) and the API answers in English, so
the Swahili lives in the web UI's catalogue: the sentences are listed here for `pybabel
extract`, and tests/unit/test_translations.py fails when a shipped manifest has one that is
not listed. What a template writes into the merchant's setup (program names, a reward's
default such as "free coffee") is the merchant's own data and stays as it is.
"""

from __future__ import annotations

import copy
from typing import Any

from flask_babel import gettext

from loyalty.services import setup_templates
from loyalty.web.i18n import N_

# The manifests' fields a merchant reads on the template pages.
TEXT_FIELDS = ("title", "description", "instructions")

WORDS = (
    # cafe-stamps
    N_("Café stamp card"),
    N_("Every coffee paid on your Till earns a stamp; a full card earns a free coffee."),
    N_("Add your Till as a channel first. Choose how many stamps fill a card and what the "
       "customer gets, then apply. Every payment to the Till earns one stamp."),
    N_("Stamps for a reward"), N_("The reward"),
    N_("Smallest payment that earns a stamp (KES)"),
    # electronics-vip
    N_("Electronics shop with VIP tiers"),
    N_("Points on every PayBill payment, double points for VIP customers (account numbers "
       "starting with VIP) and a stamp card for deliveries."),
    N_("Give your VIP customers account numbers that start with VIP (VIP001, VIP002...). "
       "Delivery orders are paid with the account number DELIVERY. Everyone else earns normal "
       "points with any account number."),
    N_("VIP points multiplier"), N_("Deliveries for a reward"), N_("The delivery reward"),
    # pharmacy-points
    N_("Pharmacy points, receipts only"),
    N_("Points on every payment, with plain receipts that never name a purchase, and no "
       "promotional texts."),
    N_("Health purchases are private: the receipt says only the points earned, never what "
       "was bought, and this template sends no offers or promotions. Points expire after the "
       "days you choose."),
    N_("KES spent for one point"), N_("Days before points expire"),
    # restaurant-branches
    N_("Restaurant chain with branch codes"),
    N_("One PayBill for every branch: customers type the branch code as the account number "
       "and earn points; delivery orders fill a stamp card."),
    N_("Tell customers to pay your PayBill with the branch code as the account number (for "
       "example BR01 for the first branch) and DEL for delivery orders. Any other account "
       "number still earns dining points."),
    N_("Branch codes start with"), N_("Points per KES 100 spent"),
    N_("Delivery orders for a reward"),
    # salon-stamps
    N_("Salon stamp card"),
    N_("Every visit paid by M-Pesa earns a stamp; a full card earns a free treatment."),
    N_("Add your Till or PayBill first. Choose how many visits fill a card and the treatment "
       "you give, then apply. Every payment earns one stamp, whatever the account number."),
    N_("Visits for a reward"),
)


def manifest_words(manifest: dict[str, Any]) -> list[str]:
    """The sentences of a manifest (or a template's summary) a merchant reads."""
    return ([manifest[name] for name in TEXT_FIELDS if manifest.get(name)]
            + [spec["label"] for spec in manifest.get("parameters", ())])


def in_page_language(manifest: dict[str, Any]) -> dict[str, Any]:
    """A copy of the manifest whose words are in the page's language (a template added
    without its Swahili yet keeps its English rather than failing)."""
    shown = copy.deepcopy(manifest)
    for name in TEXT_FIELDS:
        if shown.get(name):
            shown[name] = gettext(shown[name])
    for spec in shown.get("parameters", ()):
        spec["label"] = gettext(spec["label"])
    return shown


def rules_notice(channel, *, named: bool = False) -> str | None:
    """What to tell the merchant when a channel was just created with the account rules of
    templates applied before it existed (services/setup_templates/new_channels.py sets
    `template_rules`): they did not ask for those rules on the form or in the file. `named`
    says which channel, for a page that added several; None when no template set any."""
    keys = getattr(channel, "template_rules", None)
    if not keys:
        return None
    titles = ", ".join(
        f"'{in_page_language(setup_templates.template_detail(key)['latest'])['title']}'"
        for key in keys)
    rules = ", ".join(f"{pattern} → {code}" for pattern, code in channel.account_mapping.items())
    if named:
        return gettext("The account rules of %(titles)s are set on %(channel)s "
                       "(%(shortcode)s): %(rules)s.", titles=titles, channel=channel.name,
                       shortcode=channel.shortcode, rules=rules)
    return gettext("The account rules of %(titles)s are set on this channel: %(rules)s.",
                   titles=titles, rules=rules)
