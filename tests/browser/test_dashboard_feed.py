"""The dashboard a shop owner leaves open: a customer pays and the payment, its points and
its text appear in the feed by themselves, with no reload."""

from __future__ import annotations

import pytest

from tests.browser.steps import PHONE, expect, log_in, merchant_with_a_paid_customer, pay

pytestmark = pytest.mark.browser


def test_a_new_payment_appears_in_the_feed_without_a_reload(stack, page):
    email = merchant_with_a_paid_customer(stack)
    page.set_viewport_size(PHONE)
    log_in(page, email)  # lands on the dashboard
    expect(page.locator("#today-payments")).to_have_text("1")
    page.evaluate("window.stillTheSamePage = true")  # gone if the page reloads

    pay(stack, Amount=1200, BillRefNumber="VIP002")

    newest = page.locator(".feed-item").first
    expect(newest).to_contain_text("KES 1,200", timeout=30_000)
    expect(newest).to_contain_text("24 points")
    expect(page.locator("#today-payments")).to_have_text("2")
    expect(page.locator("#feed-announce")).to_contain_text("New payment: KES 1,200")
    assert page.evaluate("window.stillTheSamePage === true")
    assert not page.js_errors, page.js_errors
