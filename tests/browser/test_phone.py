"""A shop owner on a phone (375 px wide), in Chromium: no page scrolls sideways, the menu
folds behind one button and opens, a payment's amount, points and status are on screen
without scrolling, and what a thumb presses is at least 44 px tall."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_onboarding import Shots, _expect
from tests.browser.test_reversals import PASSWORD, _merchant_with_a_paid_customer

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}
PAGES = ("/dashboard", "/channels", "/programs", "/programs/new", "/programs/vip/edit",
         "/customers", "/customers/new", "/transactions", "/transactions/unattributed",
         "/callback-log", "/analytics", "/settings", "/settings/api-keys", "/settings/password",
         "/channels/transfer", "/experiments", "/experiments/new")
VISITOR_PAGES = ("/", "/login", "/signup", "/forgot-password", "/_emulator/")

# Buttons, inputs, the menu and links that stand alone (not words inside a sentence).
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
    'button, input:not([type=hidden]):not([type=checkbox]), select, summary, nav a, .button, td a'))
  .filter(el => el.offsetParent !== null)
  .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect().height])
  .filter(([, height]) => height < 43.5)"""


def _fits(page, what: str) -> None:
    # After the stylesheets (the merchant's theme.css is served by the app): a layout of
    # the page without them is wider than any the merchant sees.
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} scrolls sideways on a phone by {overflow}px"


def _inside_the_screen(locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box


def test_every_page_fits_a_phone_the_menu_folds_and_payments_are_cards(stack, page):
    expect, shot = _expect(), Shots(page, stack.output)
    page.set_viewport_size(PHONE)
    for path in VISITOR_PAGES:
        page.goto(path)
        _fits(page, path)
        assert page.evaluate(SMALL_TARGETS) == [], path
    email = _merchant_with_a_paid_customer(stack)
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))

    # The menu is one button until pressed.
    transactions = page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Transactions")
    expect(transactions).to_be_hidden()
    shot("phone-dashboard")
    page.get_by_text("Menu", exact=True).click()
    expect(transactions).to_be_visible()
    shot("phone-menu-open")
    transactions.click()
    expect(page).to_have_url(re.compile(r"/transactions$"))

    # Each payment is a card: amount, points and status on screen, no sideways scrolling.
    row = page.locator("tbody tr").first
    for cell, value in (("amount", "KES 5,000"), ("points", "100"), ("status", "credited")):
        located = row.locator(f"td.{cell}")
        expect(located).to_be_visible()
        expect(located).to_contain_text(value)
        _inside_the_screen(located)
    label = row.locator("td.points").evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Points"', label  # each value shows its column's name
    shot("phone-transactions")

    for path in PAGES:
        page.goto(path)
        _fits(page, path)
        assert page.evaluate(SMALL_TARGETS) == [], path
    page.goto("/channels")
    page.locator("main").get_by_role("link", name="Main PayBill").first.click()
    # Measured once the page has loaded and app.js has run (its copy buttons are there):
    # measured mid-navigation, a half-styled page was seen wider than the phone.
    expect(page).to_have_url(re.compile(r"/channels/\d+$"))
    page.wait_for_load_state("load")
    expect(page.get_by_role("button", name="Copy the confirmation URL")).to_be_visible()
    _fits(page, "a channel's page")
    expect(page.locator("#channel-history")).to_contain_text("Channel added.")
    shot("phone-channel")

    # A new API key is copied with one press.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/settings/api-keys")
    page.get_by_label("Name").fill("Till app")
    page.get_by_role("button", name="Create key").click()
    key = page.locator("#new-key").input_value()
    page.get_by_role("button", name="Copy the API key").click()
    expect(page.get_by_role("button", name="Copy the API key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == key
    _fits(page, "the new API key")
    shot("phone-api-key-copied")
    assert page.js_errors == []

    # On a wide screen the same menu is one line, no button.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/dashboard")
    expect(page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Transactions")).to_be_visible()
    expect(page.get_by_text("Menu", exact=True)).to_be_hidden()
