"""Reversals over real processes: the API queues the request, the worker asks the emulator's
Reversal API, the emulator posts its result to the platform's ResultURL, and the points come
back (and the customer is told) only then; a receipt reversed elsewhere first comes back as
R000001 and is shown so."""

from __future__ import annotations

import re

import pytest

from tests.e2e.stack import SHORTCODE, Stack

pytestmark = pytest.mark.e2e

JOHN = "0712345678"


def _paid(stack: Stack, shop, trans_id: str) -> dict:
    stack.simulate_c2b(amount=5000, bill_ref="VIP001", phone=JOHN, trans_id=trans_id)
    return stack.wait(lambda: next((t for t in shop.transactions()
                                    if t["trans_id"] == trans_id and t["status"] == "credited"),
                                   None), timeout=30, message=f"{trans_id} credited")


def _reversal(shop, trans_id: str, state: str, status: str):
    payment = next(t for t in shop.transactions() if t["trans_id"] == trans_id)
    found = payment["reversal"] and payment["reversal"]["state"] == state
    return payment if found and payment["status"] == status else None


def test_a_reversal_through_mpesa_takes_the_points_back_when_its_result_arrives(stack: Stack):
    shop = stack.onboard(initiator=True)
    assert shop.api("PATCH", "/programs/vip", json={"sms_on_reversal": True}).status_code == 200
    payment = _paid(stack, shop, "REVE2E0001")
    assert shop.balance(JOHN, "vip") == 100

    asked = shop.api("POST", f"/transactions/{payment['id']}/reverse",
                     json={"reason": "Paid twice", "idempotency_key": "e2e-1"})
    assert asked.status_code == 202, asked.text
    assert asked.json()["reversal"]["state"] == "requested"
    done = stack.wait(lambda: _reversal(shop, "REVE2E0001", "done", "reversed"), timeout=30,
                      message="the reversal's result applied")
    assert done["status"] == "reversed" and done["reversal"]["points"] == 100
    assert shop.balance(JOHN, "vip") == 0
    notice = stack.wait(lambda: [m for m in stack.inbox(JOHN) if "reversed" in m["message"]],
                        timeout=30, message="the reversal notice")
    assert notice[0]["message"] == ("Hi John, your payment REVE2E0001 of KES 5,000 to Acme "
                                    "Electronics was reversed: 100 VIP points were taken back. "
                                    "Total: 0 points.")
    [result] = [d for d in stack.deliveries() if d["kind"] == "reversal_result"]
    # The ResultURL names the async request the result answers.
    assert result["status"] == 200 and re.search(r"/result/reversal/\d+$", result["url"])

    # Reversed on the portal first (the emulator's own Reversal API): M-Pesa says R000001.
    other = _paid(stack, shop, "REVE2E0002")
    portal = stack.http.post(stack.url("/_emulator/daraja/mpesa/reversal/v1/request"), json={
        "Initiator": "portal", "SecurityCredential": "x", "CommandID": "TransactionReversal",
        "TransactionID": "REVE2E0002", "Amount": "5000", "ReceiverParty": SHORTCODE,
        "RecieverIdentifierType": "11", "ResultURL": "http://127.0.0.1:9/nowhere",
        "QueueTimeOutURL": "http://127.0.0.1:9/nowhere", "Remarks": "By customer care"},
        headers={"Authorization": f"Bearer {stack.daraja_token()}"}, timeout=10)
    assert portal.status_code == 200, portal.text
    shop.api("POST", f"/transactions/{other['id']}/reverse",
             json={"reason": "Paid twice", "idempotency_key": "e2e-2"})
    failed = stack.wait(lambda: _reversal(shop, "REVE2E0002", "failed", "credited"), timeout=30,
                        message="the R000001 result")
    assert failed["reversal"]["result_code"] == "R000001"
    assert "already reversed" in failed["reversal"]["message"]
    assert failed["status"] == "credited" and shop.balance(JOHN, "vip") == 100
    marked = shop.api("POST", f"/transactions/{other['id']}/mark-reversed",
                      json={"reason": "Reversed by customer care", "idempotency_key": "e2e-3"})
    assert marked.status_code == 200 and marked.json()["status"] == "reversed"
    assert shop.balance(JOHN, "vip") == 0
