"""The whole path from a setup template, on a laptop (1280 px) and on a phone (375 px),
without reloading a page by hand: an electronics shop signs up, applies "Electronics shop
with VIP tiers", adds the sandbox PayBill (which gets the template's account rules as it is
added: no second apply, issue 17), verifies and registers it while Safaricom is slow, the
channel activates itself, and a VIP customer's payment shows in the dashboard's feed with
the points the template's VIP program gives, and its text sent; the setup checklist and the
channel's card on the open dashboard catch up with that first payment by themselves
(issue 18)."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from loyalty.services.setup_templates.catalog import HOME
from tests.browser.steps import (
    SCREENS,
    Shots,
    expect,
    fits_the_screen,
    pay,
    sign_up,
    verify_and_register_while_safaricom_is_slow,
)

pytestmark = pytest.mark.browser

# The shipped file itself, read as JSON: what the shop owner picks is what the test expects.
MANIFEST = json.loads((HOME / "electronics-vip" / "1.json").read_text(encoding="utf-8"))
VIP_PATTERN, ACCOUNT, AMOUNT = "VIP*", "VIP007", Decimal("1250")


def _program_for(pattern: str) -> dict:
    code = next(m["program"] for m in MANIFEST["mappings"] if m["pattern"] == pattern)
    return next(p for p in MANIFEST["programs"] if p["code"] == code)


def _points(program: dict, amount: Decimal) -> int:
    """What the program's rule gives for a payment, with the parameters left at their
    defaults: floor(amount x points_per_unit x multiplier / unit_amount), and the rule's
    fields the template leaves out at DESIGN.md's defaults (1 point per KES 100, x1)."""
    defaults = {p["name"]: p["default"] for p in MANIFEST["parameters"]}
    rule = {name: defaults[value["param"]] if isinstance(value, dict) else value
            for name, value in program["rule"].items()}
    if amount < Decimal(str(rule.get("min_amount", 0))):
        return 0
    earned = (amount * Decimal(str(rule.get("points_per_unit", 1)))
              * Decimal(str(rule.get("multiplier", 1))) / Decimal(str(rule.get("unit_amount", 100))))
    return int(earned)  # floor: the amount is positive


def _open_the_template(page) -> None:
    page.goto("/dashboard")
    page.get_by_role("link", name="Start from a template").click()
    page.get_by_role("link", name=f"Use this template: {MANIFEST['title']}").click()
    expect(page).to_have_url(re.compile(r"/setup/templates/electronics-vip$"))


def _apply(page) -> None:
    page.get_by_role("button", name="Apply this template").click()
    expect(page).to_have_url(re.compile(r"/programs$"))
    expect(page.locator("p.alert.success")).to_contain_text(f"'{MANIFEST['title']}' is set up")


@SCREENS
def test_from_a_template_to_an_active_channel_and_a_vip_payment_in_the_feed(stack, page, screen):
    shot = Shots(page, stack.output, suffix=f"-{screen['width']}px")
    vip = _program_for(VIP_PATTERN)
    points = _points(vip, AMOUNT)
    default_points = _points(_program_for("default"), AMOUNT)
    assert points != default_points, "pick an amount at which the VIP rule shows"
    page.set_viewport_size(screen)
    sign_up(page, business="Acme Electronics", owner="John Doe", kind="RETAIL")
    expect(page).to_have_url(re.compile(r"/channels/new$"))

    # The template before any channel: programs and texts now, account rules once there is one.
    _open_the_template(page)
    plan = page.locator("#plan")
    expect(plan).to_contain_text(f"Program “{vip['name']}”")
    expect(plan).to_contain_text("No channel of a kind this template fits yet: its account "
                                 "rules are set when you add one")
    fits_the_screen(page, "the template's plan")
    shot("template-plan-no-channel")
    _apply(page)
    expect(page.locator("tbody")).to_contain_text(vip["name"])

    # The sandbox PayBill, from the dashboard's checklist.
    page.goto("/dashboard")
    page.get_by_role("link", name="Next: Add a channel").click()
    page.get_by_role("link", name="Use sandbox test values").click()
    expect(page.get_by_label("Shortcode")).to_have_value("174379")
    page.get_by_label("Channel name").fill("Acme PayBill")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(r"/channels/\d+/setup$"))
    # The template applied before it set the new channel's account rules, and says so.
    rules_set = page.locator("p.alert.success", has_text="The account rules of")
    expect(rules_set).to_contain_text(f"'{MANIFEST['title']}' are set on this channel")
    expect(rules_set).to_contain_text(f"{VIP_PATTERN} → {vip['code']}")

    # Safaricom is slow: each step says it is working and its result arrives by itself,
    # and the channel activates itself.
    verify_and_register_while_safaricom_is_slow(stack, page, shot, "template-verify-working")
    shot("template-channel-active")

    # Nothing left for the template to do: no second apply, its rules are on the channel.
    _open_the_template(page)
    expect(page.get_by_label("Channel whose account rules it sets")).to_have_value(
        re.compile(r"^\d+$"))
    expect(plan).not_to_contain_text("No channel of a kind this template fits yet")
    expect(plan.locator(".plan-create, .plan-update, .plan-conflict")).to_have_count(0)
    shot("template-plan-with-channel")

    # The dashboard left open: a VIP customer pays and the feed shows it, no reload.
    page.goto("/dashboard")
    expect(page.locator("#today-payments")).to_have_text("0")
    expect(page.locator("#setup-heading")).to_have_text("Set up: 5 of 6 done")
    expect(page.locator("#setup-next")).to_be_visible()
    card_health = page.locator(".channel-list .health").first
    expect(card_health).to_have_text("Working: waiting for the first payment.")
    page.evaluate("window.sameDocument = true")
    pay(stack, Amount=int(AMOUNT), BillRefNumber=ACCOUNT)
    newest = page.locator(".feed-item").first
    expect(newest).to_contain_text("KES 1,250", timeout=30_000)
    expect(newest.locator(".feed-points")).to_have_text(f"{points} points")
    expect(page.locator("#today-points")).to_have_text(str(points))
    # The checklist and the channel's card catch up with the first payment too.
    expect(page.locator("#setup-heading")).to_have_text("Set up: 6 of 6 done")
    expect(page.locator("#setup-next")).to_have_count(0)
    expect(page.locator("#setup-done")).to_have_text("All set up: payments now earn points.")
    expect(card_health).to_contain_text("Working: last payment")
    # The receipt goes out through the worker and the emulator's Africa's Talking; the feed
    # keeps polling, so the text's state changes on screen by itself.
    expect(newest.locator(".badge.sent")).to_be_visible(timeout=30_000)
    assert page.evaluate("window.sameDocument") is True
    fits_the_screen(page, "the dashboard")
    shot("template-payment-in-feed")

    # The customer's page holds the text John received.
    newest.locator(".feed-main a").click()
    expect(page.locator(".messages .sms").first).to_contain_text(
        f"You earned {points} {vip['name']} points")
    shot("template-customer-text")
    assert page.js_errors == [], page.js_errors
