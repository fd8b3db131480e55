"""The whole flow over real processes: gunicorn (with the emulator playing Safaricom and
Africa's Talking), a Celery worker and beat, PostgreSQL and Redis, driven over HTTP only."""

from __future__ import annotations

import json
import time

import pytest

from tests.e2e.stack import Stack, phone_hash, wait_seconds

pytestmark = pytest.mark.e2e

JOHN = "0712345678"


def _credited(shop, trans_id=None):
    items = [t for t in shop.transactions() if trans_id is None or t["trans_id"] == trans_id]
    return items if items and all(t["status"] == "credited" for t in items) else None


def test_onboarding_then_c2b_payment_earns_points_and_an_sms(stack: Stack):
    shop = stack.onboard()
    channel = shop.channel()
    assert channel["verification"]["state"] == "verified"
    assert channel["urls"]["state"] == "registered"
    assert channel["urls"]["confirmation_url"] == \
        f"{stack.base}/hooks/{shop.token}/c2b/confirmation"
    # The emulator holds the registration exactly as Safaricom would.
    registration = stack.emulator("GET", "/state").json()["registrations"]["174379"]
    assert registration["ConfirmationURL"] == channel["urls"]["confirmation_url"]

    started = time.monotonic()
    stack.simulate_c2b(amount=5000, bill_ref="VIP001", phone=JOHN)
    [payment] = stack.wait(lambda: _credited(shop), timeout=30, message="the payment credited")
    assert payment["amount"] == "5000.00" and payment["points"] == 100
    assert payment["matched_pattern"] == "VIP*" and payment["msisdn_form"] == "hashed"
    [sms] = stack.wait(lambda: stack.inbox(JOHN), timeout=30, message="the receipt SMS")
    assert sms["message"] == "Hi John! You earned 100 VIP points. Total: 100 points."
    assert sms["kind"] == "hashed" and sms["hash"] == phone_hash(JOHN)
    assert time.monotonic() - started < 15

    # Earn now, claim later: the payer known by hash is one customer with the VIP balance.
    assert shop.balance(JOHN, "vip") == 100
    [confirmation] = [d for d in stack.deliveries() if d["kind"] == "c2b_confirmation"]
    assert confirmation["status"] == 200
    assert json.loads(confirmation["response"]) == {"ResultCode": 0, "ResultDesc": "Accepted"}


def test_stk_push_callback_credits_points(stack: Stack):
    shop = stack.onboard()
    stack.control("settings", {"stk_delay": 0.5})
    pushed = shop.api("POST", f"/mpesa-channels/{shop.channel_id}/stk-push",
                      json={"phone": JOHN, "amount": "1500", "account_reference": "VIP001"})
    assert pushed.status_code == 202, pushed.text
    assert pushed.json()["status"] == "pending"

    [payment] = stack.wait(lambda: _credited(shop), timeout=30, message="the STK payment")
    assert payment["points"] == 30  # 1,500 / 100 x 2 (VIP)
    request = stack.rows("SELECT status, receipt, checkout_request_id FROM payment_requests")[0]
    assert request.status == "succeeded" and request.receipt == payment["trans_id"]
    assert payment["trans_id"] == stack.scalar(
        "SELECT trans_id FROM payments WHERE source = 'stk'")
    [sms] = stack.wait(lambda: stack.inbox(JOHN), timeout=30, message="the receipt SMS")
    assert "You earned 30 VIP points" in sms["message"]
    [callback] = [d for d in stack.deliveries() if d["kind"] == "stk_callback"]
    assert callback["status"] == 200 and callback["ref"] == request.checkout_request_id


def test_same_receipt_as_stk_result_and_c2b_confirmation_credits_once(stack: Stack):
    shop = stack.onboard()
    stack.control("settings", {"stk_delay": 0.5, "stk_c2b_echo": True})
    pushed = shop.api("POST", f"/mpesa-channels/{shop.channel_id}/stk-push",
                      json={"phone": JOHN, "amount": "5000", "account_reference": "VIP001"})
    assert pushed.status_code == 202, pushed.text

    def both_delivered():
        kinds = {d["kind"]: d for d in stack.deliveries() if d["status"] == 200}
        return kinds if {"stk_callback", "c2b_confirmation"} <= set(kinds) else None

    delivered = stack.wait(both_delivered, timeout=30, message="the STK result and the C2B echo")
    receipt = delivered["c2b_confirmation"]["ref"]
    [payment] = stack.wait(lambda: _credited(shop, receipt), timeout=30, message="crediting")
    assert payment["points"] == 100
    wait_seconds(3)  # a sweep (every 2 s) and any late SMS would show up by now
    assert stack.scalar("SELECT count(*) FROM payments WHERE trans_id = :r", r=receipt) == 1
    assert stack.scalar("SELECT count(*) FROM ledger_entries") == 1
    assert stack.scalar("SELECT count(*) FROM sms_messages") == 1
    assert len(stack.inbox(JOHN)) == 1
    assert shop.balance(JOHN, "vip") == 100


def test_duplicate_confirmation_sends_no_second_sms(stack: Stack):
    shop = stack.onboard()
    stack.simulate_c2b(amount=300, bill_ref="DELIVERY", phone=JOHN, trans_id="RKTQDM7W6S")
    stack.wait(lambda: _credited(shop, "RKTQDM7W6S"), timeout=30, message="the first one")
    stack.wait(lambda: stack.inbox(JOHN), timeout=30, message="the first SMS")
    stack.simulate_c2b(amount=300, bill_ref="DELIVERY", phone=JOHN, trans_id="RKTQDM7W6S")

    def answered_twice():
        done = [d for d in stack.deliveries()
                if d["kind"] == "c2b_confirmation" and d["ref"] == "RKTQDM7W6S"]
        return done if len(done) == 2 else None

    for delivery in stack.wait(answered_twice, timeout=30, message="the duplicate delivered"):
        assert delivery["status"] == 200
        assert json.loads(delivery["response"]) == {"ResultCode": 0, "ResultDesc": "Accepted"}
    wait_seconds(3)  # give a (wrong) second crediting and SMS every chance to happen
    [sms] = stack.inbox(JOHN)
    assert sms["message"] == "Thanks John! 4 more orders for free delivery."
    assert stack.scalar("SELECT count(*) FROM payments") == 1
    assert stack.scalar("SELECT count(*) FROM ledger_entries") == 1
    assert stack.scalar("SELECT count(*) FROM sms_messages") == 1
