"""Steps and checks the browser tests share: a shop owner signing up or logging in, a shop
made ready over the API, the emulator's control endpoints standing in for the world outside
(a customer paying, Safaricom slowing down), and what a phone screen must hold. One place,
so a change to a form or the emulator's control body is one edit, not one per story; test
modules import from here (and conftest), never from each other."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

import pytest

from tests import processes

PASSWORD = "correct horse battery"
PHONE = {"width": 375, "height": 740}
WIDE = {"width": 1280, "height": 900}
# A test of a whole path runs on a laptop and on a phone: `screen` is the viewport size.
SCREENS = pytest.mark.parametrize("screen", [WIDE, PHONE], ids=["1280px", "375px"])
# The emulator's customer: John pays KES 5,000 to the PayBill with account VIP001.
PAYMENT = {"ShortCode": "174379", "Amount": 5000, "BillRefNumber": "VIP001",
           "Msisdn": "254712345678", "FirstName": "John"}
# Safaricom's public sandbox passkey (published with the sandbox shortcode 174379).
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"

# Buttons, inputs, the menu and links that stand alone (not words inside a sentence) lower
# than a thumb's 44 px; `page.evaluate(SMALL_TARGETS) == []` on a page that passes.
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
    'button, input:not([type=hidden]):not([type=checkbox]), select, summary, nav a, .button, td a'))
  .filter(el => el.offsetParent !== null)
  .map(el => [el.outerHTML.slice(0, 80), el.getBoundingClientRect().height])
  .filter(([, height]) => height < 43.5)"""


def expect(actual, message: str | None = None):
    """Playwright's expect. Imported when first called, as the page fixture imports
    Playwright: without it the fixture skips (fails in CI) with its reason, instead of every
    test module failing at collection."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(actual, message)


class Shots:
    """Numbered full-page screenshots, in the order the story happens."""

    def __init__(self, page, folder, suffix: str = ""):
        # suffix: tells apart the runs of a test parametrized over screen widths
        self.page, self.folder, self.count = page, folder / "screenshots", 0
        self.suffix = suffix

    def __call__(self, name: str) -> None:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}{self.suffix}.png"
        self.page.screenshot(path=str(path), full_page=True)


def eventually(stack, predicate, what: str, timeout: float = 30):
    """Wait for the worker's effect; on timeout, fail with both processes' logs."""
    try:
        return processes.wait_until(predicate, timeout=timeout, interval=0.5, message=what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}{stack.logs()}") from None


# --- What the shop owner does in the browser -------------------------------------------------

def fill_sign_up(page, *, business: str, owner: str = "John Doe", kind: str = "RETAIL",
                 phone: str = "0712 345 678", password: str = PASSWORD) -> str:
    """Fill in the sign-up form already on screen (not submitted); returns the email, new
    on every call since an email signs up once."""
    email = f"owner-{uuid.uuid4().hex[:8]}@shop.example"
    page.get_by_label("Business name").fill(business)
    page.get_by_label("Your name").fill(owner)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Phone").fill(phone)
    page.get_by_label("Type of business").select_option(kind)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Repeat the password").fill(password)
    return email


def sign_up(page, **owner) -> str:
    """Open /signup, fill it in (fill_sign_up's keywords) and create the account; the app
    then shows the guided setup (/channels/new). Returns the email."""
    page.goto("/signup")
    email = fill_sign_up(page, **owner)
    page.get_by_role("button", name="Create my account").click()
    return email


def log_in(page, email: str, password: str = PASSWORD) -> None:
    """Log in on /login and wait for the dashboard, where a log-in lands: a test's next
    goto then never races the form's post."""
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))


def verify_and_register_while_safaricom_is_slow(stack, page, shot: Callable[[str], None],
                                                working_shot: str) -> None:
    """On a channel's setup page: Verify, then Register URLs, with every Daraja answer 2 s
    late. Each step says it is working and its result replaces that on the same document
    (nothing reloads the page), and the channel activates itself once both are done.
    `working_shot` names the screenshot of the verification at work."""
    verification = page.locator('[data-live="verification"]')
    urls = page.locator('[data-live="urls"]')
    slow_safaricom(stack, 2000)
    page.get_by_role("button", name="Verify with Safaricom").click()
    expect(verification).to_have_text("Checking with Safaricom…")
    expect(page.locator(".working .spinner")).to_be_visible()
    shot(working_shot)
    page.evaluate("window.sameDocument = true")  # gone if anything reloads the page
    expect(verification).to_have_text("Verified", timeout=30_000)
    assert page.evaluate("window.sameDocument") is True

    page.get_by_role("button", name="Register URLs").click()
    expect(urls).to_have_text("Registering with Safaricom…")
    page.evaluate("window.sameDocument = true")  # each button posts its form: a new page
    expect(urls).to_have_text("Registered", timeout=30_000)
    slow_safaricom(stack, 0)

    expect(page.locator('[data-live="active"]')).to_have_text("Active", timeout=30_000)
    expect(page.get_by_text("Activated automatically after Safaricom confirmed your details."))\
        .to_be_visible()
    assert page.evaluate("window.sameDocument") is True


# --- What a screen must hold ---------------------------------------------------------------

def fits_the_screen(page, what: str) -> None:
    """Assert the page does not scroll sideways at the current viewport width."""
    # After the stylesheets (the merchant's theme.css is served by the app): a layout of
    # the page without them is wider than any the merchant sees.
    page.wait_for_load_state("load")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    width = page.viewport_size["width"]
    assert overflow <= 0, f"{what} scrolls sideways at {width}px by {overflow}px"


def inside_the_screen(locator) -> None:
    """Assert the element lies within the viewport's width (seen without scrolling sideways)."""
    box = locator.bounding_box()
    width = locator.page.viewport_size["width"]
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, box


# --- A shop made ready over the API --------------------------------------------------------

def api(stack, method: str, path: str, key: str | None = None, body: dict | None = None):
    """Call /api/v1 on the stack (with an API key if given); returns the decoded answer."""
    request = urllib.request.Request(
        stack.base + "/api/v1" + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {key}"} if key else {})})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def _merchant(stack) -> tuple[str, str]:
    """A new merchant, Acme Electronics; returns (log-in email, API key)."""
    email = f"owner-{uuid.uuid4().hex[:8]}@acme.example"
    key = api(stack, "POST", "/merchants", body={
        "business_name": "Acme Electronics", "owner_name": "John Doe", "email": email,
        "phone": "0712345678", "business_type": "RETAIL", "password": PASSWORD})["api_key"]
    return email, key


def _active_paybill(stack, key: str, **extra) -> int:
    """The sandbox PayBill 174379 (with `extra` fields), verified, registered and active;
    returns its id."""
    channel = api(stack, "POST", "/mpesa-channels", key, {
        "name": "Main PayBill", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "demo-consumer-key", "consumer_secret": "demo-consumer-secret",
        "passkey": SANDBOX_PASSKEY, **extra})["id"]
    for step in ("verify?wait=10", "register-urls?wait=10", "activate"):
        api(stack, "POST", f"/mpesa-channels/{channel}/{step}", key,
            {} if "register" in step else None)
    return channel


def merchant_with_a_paid_customer(stack) -> str:
    """Over the API: a merchant, VIP, a channel with an API operator, verified, registered,
    active; a customer pays KES 5,000 to VIP001. Returns the log-in email."""
    email, key = _merchant(stack)
    api(stack, "POST", "/programs", key, {"code": "vip", "name": "VIP", "multiplier": "2"})
    _active_paybill(stack, key, initiator_name="testapi", initiator_password="Safaricom999!*!",
                    account_mapping={"VIP*": "vip"})
    pay(stack)
    eventually(stack, lambda: [t for t in api(stack, "GET", "/transactions", key)["items"]
                               if t["status"] == "credited"], "the payment credited")
    return email


def shop_with_a_lost_confirmation(stack) -> tuple[str, int, str]:
    """Over the API: an active sandbox PayBill; the emulator's customer pays it and the
    confirmation is lost. Returns (log-in email, channel id, API key)."""
    email, key = _merchant(stack)
    channel = _active_paybill(stack, key)
    pay(stack, DropConfirmation=True)
    return email, channel, key


# --- The world outside, played by the emulator -----------------------------------------------

def _control(stack, path: str, body: dict, status: int = 200) -> dict:
    request = urllib.request.Request(
        f"{stack.base}/_emulator/control/{path}", method="POST",
        headers={"Content-Type": "application/json"}, data=json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == status, f"emulator {path}: {answer.status}, not {status}"
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:  # say what the emulator refused, not just "400"
        raise AssertionError(f"emulator {path}: {error.code} {error.read()[:300]!r}") from None


def pay(stack, **changes) -> dict:
    """A customer pays (the emulator plays Safaricom and sends the validation and
    confirmation callbacks): PAYMENT with `changes` (Amount, BillRefNumber,
    DropConfirmation...). Returns the emulator's answer (TransID, TransTime...)."""
    return _control(stack, "c2b-payment", {**PAYMENT, **changes}, status=202)


def slow_safaricom(stack, milliseconds: int) -> None:
    """Every Daraja call the emulator answers takes this long (0: full speed again)."""
    _control(stack, "settings", {"daraja_latency_ms": milliseconds})
