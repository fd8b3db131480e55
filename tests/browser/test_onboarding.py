"""A merchant who never read the API signs up, connects a channel against the emulator, maps
VIP* to a VIP program, gets a simulated payment and sees the points and the SMS: in Chromium."""

from __future__ import annotations

import re

import pytest

from tests.browser.steps import (
    PHONE,
    SANDBOX_PASSKEY,
    WIDE,
    Shots,
    eventually,
    expect,
    fill_sign_up,
    fits_the_screen,
    pay,
)

pytestmark = pytest.mark.browser

RECEIPT = "Hi John! You earned 100 VIP points. Total: 100 points."


def test_sign_up_onboard_map_pay_and_see_points_and_sms(stack, page):
    shot = Shots(page, stack.output)

    # 1. Sign up (from the landing page `/` shows a visitor).
    page.goto("/")
    expect(page.get_by_role("heading", name="Reward customers who pay you by M-Pesa")).to_be_visible()
    shot("landing")
    page.get_by_role("link", name="Sign up your business").click()
    fill_sign_up(page, business="Acme Electronics", owner="John Doe", kind="RETAIL")
    shot("signup")
    page.get_by_role("button", name="Create my account").click()

    # 2. Channel details.
    expect(page).to_have_url(re.compile(r"/channels/new$"))
    page.get_by_label("Channel name").fill("Main PayBill")
    page.get_by_label("Type", exact=True).select_option("paybill")
    page.get_by_label("Shortcode").fill("174379")
    page.get_by_label("Environment").select_option("sandbox")
    page.get_by_label("Consumer key").fill("demo-consumer-key")
    page.get_by_label("Consumer secret").fill("demo-consumer-secret")
    page.get_by_label("M-Pesa Express passkey").fill(SANDBOX_PASSKEY)
    shot("channel-new")
    page.get_by_role("button", name="Save and continue").click()
    expect(page).to_have_url(re.compile(r"/channels/\d+/setup$"))
    setup_url = page.url

    # 3-5. Verify, register URLs: the worker does both, the page follows, and the channel
    # activates itself once both succeeded ("Activate by itself" is ticked by default).
    page.get_by_role("button", name="Verify with Safaricom").click()
    expect(page.locator('[data-live="verification"]')).to_have_text("Verified", timeout=30_000)
    shot("setup-verified")
    page.get_by_role("button", name="Register URLs").click()
    expect(page.locator('[data-live="urls"]')).to_have_text("Registered", timeout=30_000)
    expect(page.locator('[data-live="active"]')).to_have_text("Active", timeout=30_000)
    expect(page.locator("#step-activate")).to_contain_text(
        "Activated automatically after Safaricom confirmed your details")
    shot("setup-active")

    # A VIP program (x2), with the receipt previewed in real numbers as it is typed.
    page.get_by_role("link", name="Programs", exact=True).click()
    page.get_by_role("link", name="New program").click()
    page.get_by_label("Code").fill("vip")
    page.get_by_label("Name", exact=True).fill("VIP")
    page.get_by_label("Multiplier").fill("2")
    preview = page.locator('[data-preview="text"]')
    expect(preview).to_have_text("Hi John! You earned 100 VIP points. Total: 2,847 points.")
    expect(page.locator('[data-preview="segments"]')).to_have_text("1")
    shot("program-new")
    page.get_by_role("button", name="Create program").click()
    expect(page.get_by_role("cell", name=re.compile(r"^VIP vip"))).to_be_visible()
    shot("programs")

    # Map VIP* to it and try the dry run.
    page.goto(setup_url)
    page.get_by_role("link", name="Set account rules").click()
    page.get_by_label("Account reference, rule 1").fill("VIP*")
    page.get_by_label("Program, rule 1").select_option("vip")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_role("status").first).to_contain_text("Account rules saved")
    _dry_run(page, "VIP001", "5000")
    expect(page.locator("#dry-run-result")).to_have_text(
        "VIP001, KES 5,000 → VIP program, 100 points")
    shot("mapping-dry-run")
    mapping_url = page.url

    # A customer pays (the emulator plays Safaricom and sends the callbacks).
    pay(stack)

    # The points show in the UI once the worker has credited the payment.
    def points_shown():
        page.goto("/customers?phone=0712345678")
        balance = page.locator('.balance[data-program="vip"] .figure')
        return balance.count() == 1 and balance.inner_text() == "100"

    eventually(stack, points_shown, "the customer's VIP points on the customer page")
    expect(page.get_by_role("heading", name="John", exact=True)).to_be_visible()

    # The SMS reached the emulator's inbox (sent to the payer's hashed M-Pesa number).
    inbox = eventually(stack, lambda: [
        m for m in stack.get_json("/_emulator/sms/inbox?to=254712345678")
        if m["message"] == RECEIPT], "the receipt SMS in the emulator inbox")
    assert inbox[0]["kind"] == "hashed"
    eventually(stack, lambda: page.reload() or page.locator(".messages .badge.sent").count(),
               "the SMS shown as sent on the customer page", timeout=15)
    expect(page.locator(".messages .sms").first).to_have_text(RECEIPT)
    shot("customer")
    page.goto("/_emulator/")
    expect(page.get_by_text(RECEIPT).first).to_be_visible()
    shot("emulator-inbox")

    # Edit the mapping: VIP* now earns in the default program, and the dry run says so.
    page.goto(mapping_url)
    page.get_by_label("Program, rule 1").select_option("loyalty")
    page.get_by_role("button", name="Save rules").click()
    expect(page.locator("#dry-run-result")).to_have_text(
        "VIP001, KES 5,000 → Loyalty program, 50 points")
    shot("mapping-edited")

    # The program page's back-test answers as the rule is typed: the KES 5,000 payment
    # earned 100 VIP points at x2, and would have earned 150 at x3.
    page.goto("/programs/vip/edit")
    page.get_by_label("Multiplier").fill("3")
    expect(page.locator('[data-backtest="lines"]')).to_contain_text(
        "With these rules: 150 points, 50 more points.")

    _tour_the_main_pages(page, shot)
    _refused_credentials_show_next_steps(page, shot)
    _works_on_a_phone(page, shot)

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert page.js_errors == [], page.js_errors


def _dry_run(page, account: str, amount: str) -> None:
    box = page.locator("#dry-run")
    box.get_by_label("Account reference").fill(account)
    box.get_by_label("Amount (KES)").fill(amount)
    box.get_by_role("button", name="Try it").click()


def _tour_the_main_pages(page, shot) -> None:
    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator("#today-payments")).to_have_text("1")
    expect(page.locator("#today-points")).to_have_text("100")
    expect(page.get_by_text("KES 5,000 (VIP001)")).to_be_visible()
    shot("dashboard")
    page.get_by_role("link", name="Channels", exact=True).click()
    expect(page.get_by_role("cell", name=re.compile("Main PayBill"))).to_be_visible()
    shot("channels")
    page.get_by_role("link", name="Transactions").click()
    expect(page.get_by_role("cell", name="VIP (VIP*)")).to_be_visible()
    shot("transactions")
    page.get_by_role("link", name="Analytics").click()
    expect(page.locator("figure.chart")).to_have_count(3)
    expect(page.get_by_text("Points per day · total 100")).to_be_visible()
    shot("analytics")
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("Till app")
    page.get_by_role("button", name="Create key").click()
    key = page.get_by_label("API key", exact=True).input_value()
    assert key.startswith("mpl_")
    shot("api-keys")
    page.goto("/settings/api-keys")
    expect(page.get_by_label("API key", exact=True)).to_have_count(0)  # shown once only
    page.get_by_role("row", name=re.compile("Till app")).get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("row", name=re.compile("Till app"))).to_contain_text("revoked")


def _refused_credentials_show_next_steps(page, shot) -> None:
    page.goto("/channels/new")
    page.get_by_label("Channel name").fill("Typo PayBill")
    page.get_by_label("Shortcode").fill("174379")
    page.get_by_label("Consumer key").fill("demo-consumer-key")
    page.get_by_label("Consumer secret").fill("not-the-secret")
    page.get_by_role("button", name="Save and continue").click()
    page.get_by_role("button", name="Verify with Safaricom").click()
    expect(page.locator('[data-live="verification"]')).to_have_text("Failed", timeout=30_000)
    expect(page.get_by_role("alert")).to_contain_text("Safaricom refused the consumer key and secret")
    expect(page.get_by_role("link", name="edit the credentials")).to_be_visible()
    shot("setup-refused")


def _works_on_a_phone(page, shot) -> None:
    page.set_viewport_size(PHONE)
    for path in ("/dashboard", "/transactions", "/callback-log"):
        page.goto(path)
        fits_the_screen(page, path)
    page.goto("/dashboard")
    shot("dashboard-phone")
    page.set_viewport_size(WIDE)
