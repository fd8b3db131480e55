"""Steps the browser tests share: a shop owner filling in the sign-up form, and the
emulator's control endpoints standing in for the world outside (a customer paying,
Safaricom slowing down). One place, so a change to the form or the emulator's control
body is one edit, not one per story."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

PASSWORD = "correct horse battery"
PHONE = {"width": 375, "height": 740}
WIDE = {"width": 1280, "height": 900}
# A test of a whole path runs on a laptop and on a phone: `screen` is the viewport size.
SCREENS = pytest.mark.parametrize("screen", [WIDE, PHONE], ids=["1280px", "375px"])
# The emulator's customer: John pays KES 5,000 to the PayBill with account VIP001.
PAYMENT = {"ShortCode": "174379", "Amount": 5000, "BillRefNumber": "VIP001",
           "Msisdn": "254712345678", "FirstName": "John"}


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
