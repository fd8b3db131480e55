"""A shop owner on a phone (375 px wide), in Chromium: no page scrolls sideways, the menu
folds behind one button and opens, a payment's amount, points and status are on screen
without scrolling, and what a thumb presses is at least 44 px tall."""

from __future__ import annotations

import re

import pytest

from tests.browser.steps import (
    PHONE,
    SMALL_TARGETS,
    WIDE,
    Shots,
    expect,
    fits_the_screen,
    inside_the_screen,
    log_in,
    merchant_with_a_paid_customer,
)

pytestmark = pytest.mark.browser

PAGES = ("/dashboard", "/channels", "/programs", "/programs/new", "/programs/vip/edit",
         "/customers", "/customers/new", "/transactions", "/transactions/unattributed",
         "/callback-log", "/analytics", "/settings", "/settings/api-keys", "/settings/password",
         "/channels/transfer", "/experiments", "/experiments/new")
VISITOR_PAGES = ("/", "/login", "/signup", "/forgot-password", "/_emulator/")


def test_every_page_fits_a_phone_the_menu_folds_and_payments_are_cards(stack, page):
    shot = Shots(page, stack.output)
    page.set_viewport_size(PHONE)
    for path in VISITOR_PAGES:
        page.goto(path)
        fits_the_screen(page, path)
        assert page.evaluate(SMALL_TARGETS) == [], path
    log_in(page, merchant_with_a_paid_customer(stack))  # lands on the dashboard

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
        inside_the_screen(located)
    label = row.locator("td.points").evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Points"', label  # each value shows its column's name
    shot("phone-transactions")

    for path in PAGES:
        page.goto(path)
        fits_the_screen(page, path)
        assert page.evaluate(SMALL_TARGETS) == [], path
    page.goto("/channels")
    page.locator("main").get_by_role("link", name="Main PayBill").first.click()
    # Measured once the page has loaded and app.js has run (its copy buttons are there):
    # measured mid-navigation, a half-styled page was seen wider than the phone.
    expect(page).to_have_url(re.compile(r"/channels/\d+$"))
    page.wait_for_load_state("load")
    expect(page.get_by_role("button", name="Copy the confirmation URL")).to_be_visible()
    fits_the_screen(page, "a channel's page")
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
    fits_the_screen(page, "the new API key")
    shot("phone-api-key-copied")
    assert page.js_errors == []

    # On a wide screen the same menu is one line, no button.
    page.set_viewport_size(WIDE)
    page.goto("/dashboard")
    expect(page.get_by_role("navigation", name="Main").get_by_role(
        "link", name="Transactions")).to_be_visible()
    expect(page.get_by_text("Menu", exact=True)).to_be_hidden()
