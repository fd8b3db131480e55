"""The whole path a new shop owner takes, on a laptop (1280 px) and on a phone (375 px),
without reloading a page by hand: sign up, the guided setup with "use sandbox test values",
verify and register the URLs while Safaricom is slow (the steps follow by themselves), the
channel activating itself once both are done, then a customer pays and the payment appears
in the dashboard's feed."""

from __future__ import annotations

import re

import pytest

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


@SCREENS
def test_sign_up_guided_setup_live_progress_auto_activation_and_a_payment_in_the_feed(
        stack, page, screen):
    shot = Shots(page, stack.output, suffix=f"-{screen['width']}px")
    page.set_viewport_size(screen)
    sign_up(page, business="Mama Mboga Stores", owner="Wanjiku Kamau", kind="RETAIL")

    # The guided setup: Safaricom's public sandbox values, filled in on request.
    expect(page).to_have_url(re.compile(r"/channels/new$"))
    page.get_by_role("link", name="Use sandbox test values").click()
    expect(page.get_by_label("Shortcode")).to_have_value("174379")
    page.get_by_label("Channel name").fill("Duka PayBill")
    shot("path-sandbox-values")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(r"/channels/\d+/setup$"))

    # Safaricom is slow: each step spins, says so, and its result arrives by itself; both
    # done, the channel goes live by itself and the page says so without a reload.
    verify_and_register_while_safaricom_is_slow(stack, page, shot, "path-verify-working")
    expect(page.get_by_role("button", name="Activate")).to_have_count(0)
    shot("path-active")

    # The dashboard left open: a customer pays and the feed shows it, no reload.
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#today-payments")).to_have_text("0")
    page.evaluate("window.sameDocument = true")
    pay(stack, Amount=750, BillRefNumber="DUKA1")
    newest = page.locator(".feed-item").first
    expect(newest).to_contain_text("KES 750", timeout=30_000)
    expect(page.locator("#today-payments")).to_have_text("1")
    expect(page.locator("#feed-announce")).to_contain_text("New payment: KES 750")
    assert page.evaluate("window.sameDocument") is True
    shot("path-dashboard-feed")
    fits_the_screen(page, "the dashboard")
    assert page.js_errors == [], page.js_errors
