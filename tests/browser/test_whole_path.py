"""The whole path a new shop owner takes, on a phone, without reloading a page by hand: sign
up, the guided setup with "use sandbox test values", verify and register the URLs while
Safaricom is slow (the steps follow by themselves), the channel activating itself once both
are done, then a customer pays and the payment appears in the dashboard's feed."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

import pytest

from tests.browser.test_onboarding import PAYMENT, Shots, _expect

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 740}


def _slow_safaricom(page, stack, milliseconds: int) -> None:
    answer = page.request.post(f"{stack.base}/_emulator/control/settings",
                               data={"daraja_latency_ms": milliseconds})
    assert answer.ok, answer.text()


def test_sign_up_guided_setup_live_progress_auto_activation_and_a_payment_in_the_feed(stack, page):
    expect, shot = _expect(), Shots(page, stack.output)
    page.set_viewport_size(PHONE)

    page.goto("/signup")
    page.get_by_label("Business name").fill("Mama Mboga Stores")
    page.get_by_label("Your name").fill("Wanjiku Kamau")
    page.get_by_label("Email").fill(f"owner-{uuid.uuid4().hex[:8]}@mboga.example")
    page.get_by_label("Phone").fill("0712 345 678")
    page.get_by_label("Type of business").select_option("RETAIL")
    page.get_by_label("Password", exact=True).fill("correct horse battery")
    page.get_by_label("Repeat the password").fill("correct horse battery")
    page.get_by_role("button", name="Create my account").click()

    # The guided setup: Safaricom's public sandbox values, filled in on request.
    expect(page).to_have_url(re.compile(r"/channels/new$"))
    page.get_by_role("link", name="Use sandbox test values").click()
    expect(page.get_by_label("Shortcode")).to_have_value("174379")
    page.get_by_label("Channel name").fill("Duka PayBill")
    shot("path-sandbox-values")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(r"/channels/\d+/setup$"))

    # Safaricom is slow: each step spins, says so, and its result arrives by itself.
    _slow_safaricom(page, stack, 2000)
    page.get_by_role("button", name="Verify with Safaricom").click()
    expect(page.locator('[data-live="verification"]')).to_have_text("Checking with Safaricom…")
    expect(page.locator(".working .spinner")).to_be_visible()
    shot("path-verify-working")
    page.evaluate("window.sameDocument = true")  # gone if anything reloads the page
    expect(page.locator('[data-live="verification"]')).to_have_text("Verified", timeout=30_000)
    assert page.evaluate("window.sameDocument") is True

    page.get_by_role("button", name="Register URLs").click()
    expect(page.locator('[data-live="urls"]')).to_have_text("Registering with Safaricom…")
    page.evaluate("window.sameDocument = true")
    expect(page.locator('[data-live="urls"]')).to_have_text("Registered", timeout=30_000)
    _slow_safaricom(page, stack, 0)

    # Both steps done: the channel went live by itself, and the page says so without a reload.
    expect(page.locator('[data-live="active"]')).to_have_text("Active", timeout=30_000)
    expect(page.get_by_text("Activated automatically after Safaricom confirmed your details."))\
        .to_be_visible()
    expect(page.get_by_role("button", name="Activate")).to_have_count(0)
    assert page.evaluate("window.sameDocument") is True
    shot("path-active")

    # The dashboard left open: a customer pays and the feed shows it, no reload.
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.locator("#today-payments")).to_have_text("0")
    page.evaluate("window.sameDocument = true")
    request = urllib.request.Request(
        stack.base + "/_emulator/control/c2b-payment", method="POST",
        headers={"Content-Type": "application/json"},
        data=json.dumps({**PAYMENT, "Amount": 750, "BillRefNumber": "DUKA1"}).encode())
    urllib.request.urlopen(request, timeout=10).close()
    newest = page.locator(".feed-item").first
    expect(newest).to_contain_text("KES 750", timeout=30_000)
    expect(page.locator("#today-payments")).to_have_text("1")
    expect(page.locator("#feed-announce")).to_contain_text("New payment: KES 750")
    assert page.evaluate("window.sameDocument") is True
    shot("path-dashboard-feed")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the dashboard scrolls sideways on a phone by {overflow}px"
    assert page.js_errors == [], page.js_errors
