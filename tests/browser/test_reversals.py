"""On a phone (375 px wide), in Chromium: a merchant opens a payment, sees what a reversal
would take back, reverses it with M-Pesa (the emulator) and sees the points come back once
M-Pesa's result arrives; then adjusts a customer's points by hand."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

import pytest

from tests.browser.steps import PASSWORD, PHONE, pay
from tests.browser.test_onboarding import SANDBOX_PASSKEY, Shots, _expect, eventually

pytestmark = pytest.mark.browser


def _api(stack, method: str, path: str, key: str | None = None, body: dict | None = None):
    request = urllib.request.Request(
        stack.base + "/api/v1" + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {key}"} if key else {})})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def _merchant_with_a_paid_customer(stack) -> str:
    """Over the API: a merchant, VIP, a channel with an API operator, verified, registered,
    active; a customer pays KES 5,000 to VIP001. Returns the log-in email."""
    email = f"owner-{uuid.uuid4().hex[:8]}@acme.example"
    key = _api(stack, "POST", "/merchants", body={
        "business_name": "Acme Electronics", "owner_name": "John Doe", "email": email,
        "phone": "0712345678", "business_type": "RETAIL", "password": PASSWORD})["api_key"]
    _api(stack, "POST", "/programs", key, {"code": "vip", "name": "VIP", "multiplier": "2"})
    channel = _api(stack, "POST", "/mpesa-channels", key, {
        "name": "Main PayBill", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "demo-consumer-key", "consumer_secret": "demo-consumer-secret",
        "passkey": SANDBOX_PASSKEY, "initiator_name": "testapi",
        "initiator_password": "Safaricom999!*!", "account_mapping": {"VIP*": "vip"}})["id"]
    for step in ("verify?wait=10", "register-urls?wait=10", "activate"):
        _api(stack, "POST", f"/mpesa-channels/{channel}/{step}", key, {} if "register" in step
             else None)
    pay(stack)
    eventually(stack, lambda: [t for t in _api(stack, "GET", "/transactions", key)["items"]
                               if t["status"] == "credited"], "the payment credited")
    return email


def _fits_the_phone(page, what: str) -> None:
    page.wait_for_load_state("load")  # measured with the stylesheets, as test_phone._fits
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{what} scrolls sideways on a phone by {overflow}px"


def test_reverse_a_payment_and_adjust_points_on_a_phone(stack, page):
    expect, shot = _expect(), Shots(page, stack.output)
    email = _merchant_with_a_paid_customer(stack)
    page.set_viewport_size(PHONE)
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto("/transactions")
    page.get_by_role("link", name="Reverse").click()
    expect(page.get_by_role("heading", name="Reverse this payment")).to_be_visible()
    take_back = page.locator("#take-back")
    expect(take_back).to_contain_text("takes back 100 VIP points")
    page.get_by_label("Amount to reverse (KES)").fill("2500")
    page.get_by_role("button", name="Show what it takes back").click()
    expect(take_back).to_contain_text("Reversing KES 2,500 of KES 5,000 takes back 50 VIP points")
    expect(take_back).to_contain_text("goes from 100 to 50 points")
    _fits_the_phone(page, "the payment page")
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
    _fits_the_phone(page, "the reversed payment's page")
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
    _fits_the_phone(page, "the customer page")
    shot("customer-adjusted-phone")
    assert page.js_errors == [], page.js_errors
