"""A shop owner on a phone presses "Verify with Safaricom" while Safaricom is slow: the
button spins, the step says it is working, and the result replaces it without a reload."""

from __future__ import annotations

import re

import pytest

from tests.browser.steps import PHONE, Shots, expect, fits_the_screen, sign_up, slow_safaricom

pytestmark = pytest.mark.browser


def _sign_up_with_a_channel(page) -> None:
    sign_up(page, business="Mama Mboga Stores", owner="Wanjiku", kind="RETAIL")
    page.get_by_label("Channel name").fill("Main PayBill")
    page.get_by_label("Shortcode").fill("174379")
    page.get_by_label("Consumer key").fill("demo-consumer-key")
    page.get_by_label("Consumer secret").fill("demo-consumer-secret")
    page.get_by_role("button", name="Save and continue").click()


def test_a_slow_safaricom_step_shows_progress_then_its_result_without_reload(stack, page):
    shot = Shots(page, stack.output)
    page.set_viewport_size(PHONE)
    _sign_up_with_a_channel(page)
    expect(page).to_have_url(re.compile(r"/channels/\d+/setup$"))

    slow_safaricom(stack, 2500)
    page.get_by_role("button", name="Verify with Safaricom").click()
    working = page.locator(".working")
    expect(working).to_contain_text("Safaricom is checking the consumer key and secret.")
    expect(working.locator(".spinner")).to_be_visible()
    expect(page.locator('[data-live="verification"]')).to_have_text("Checking with Safaricom…")
    shot("phone-verify-working")
    page.evaluate("window.sameDocument = true")  # gone if the page reloaded

    expect(page.locator('[data-live="verification"]')).to_have_text("Verified", timeout=30_000)
    expect(working).to_have_count(0)
    expect(page.locator("#step-verify [data-live-result]")).to_contain_text(
        "Safaricom accepted the credentials")
    expect(page.get_by_role("button", name="Register URLs")).to_be_enabled()
    assert page.evaluate("window.sameDocument") is True
    shot("phone-verify-done")
    slow_safaricom(stack, 0)
    setup_url = page.url

    # The dashboard's checklist knows where the shop stands and links the next step.
    page.goto("/dashboard")
    expect(page.locator("#setup-checklist")).to_contain_text("Set up: 2 of 6 done")
    fits_the_screen(page, "the dashboard")
    shot("phone-setup-checklist")
    page.get_by_role("link", name="Next: Register the payment URLs").click()
    expect(page).to_have_url(setup_url)
    assert page.js_errors == []
