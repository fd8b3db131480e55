"""On a phone (375 px wide), in Chromium: a merchant opens a payment, sees what a reversal
would take back, reverses it with M-Pesa (the emulator) and sees the points come back once
M-Pesa's result arrives; then adjusts a customer's points by hand."""

from __future__ import annotations

import re

import pytest

from tests.browser.steps import (
    PHONE,
    Shots,
    eventually,
    expect,
    fits_the_screen,
    log_in,
    merchant_with_a_paid_customer,
)

pytestmark = pytest.mark.browser


def test_reverse_a_payment_and_adjust_points_on_a_phone(stack, page):
    shot = Shots(page, stack.output)
    email = merchant_with_a_paid_customer(stack)
    page.set_viewport_size(PHONE)
    log_in(page, email)

    page.goto("/transactions")
    page.get_by_role("link", name="Reverse").click()
    expect(page.get_by_role("heading", name="Reverse this payment")).to_be_visible()
    take_back = page.locator("#take-back")
    expect(take_back).to_contain_text("takes back 100 VIP points")
    page.get_by_label("Amount to reverse (KES)").fill("2500")
    page.get_by_role("button", name="Show what it takes back").click()
    expect(take_back).to_contain_text("Reversing KES 2,500 of KES 5,000 takes back 50 VIP points")
    expect(take_back).to_contain_text("goes from 100 to 50 points")
    fits_the_screen(page, "the payment page")
    shot("reversal-preview-phone")

    mpesa = page.locator(".choices .card").filter(has_text="Reverse with M-Pesa")
    mpesa.get_by_label("Why").fill("Paid twice")
    mpesa.get_by_role("button", name="Reverse KES 2,500").click()
    expect(page.get_by_role("status").first).to_contain_text("Waiting for M-Pesa's result")

    def done():
        page.reload()
        return page.locator(".badge.done").count() == 1

    eventually(stack, done, "the reversal done once M-Pesa's result arrived")
    expect(page.get_by_text("M-Pesa sent the money back; 50 points taken back.")).to_be_visible()
    expect(page.locator(".badge.reversed")).to_be_visible()
    fits_the_screen(page, "the reversed payment's page")
    shot("reversed-phone")

    page.get_by_role("link", name="John").click()
    expect(page.locator('.balance[data-program="vip"] .figure')).to_have_text("50")
    adjust = page.locator("form").filter(has=page.get_by_role("button", name="Adjust"))
    adjust.get_by_label("Program").select_option("vip")
    adjust.get_by_label("Points").fill("-80")
    adjust.get_by_label("Why").fill("Duplicate credit")
    adjust.get_by_role("button", name="Adjust").click()
    expect(page.get_by_role("status").first).to_contain_text("Adjusted by -80 points")
    expect(page.locator('.balance[data-program="vip"] .figure')).to_have_text("-30")
    expect(page.get_by_text(re.compile("Below zero after a reversal"))).to_be_visible()
    fits_the_screen(page, "the customer page")
    shot("customer-adjusted-phone")
    assert page.js_errors == [], page.js_errors
