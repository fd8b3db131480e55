"""Webhooks over real processes: a merchant's server that takes 5 s (or more) to answer
holds its own queue's work only; payments keep being credited meanwhile."""

from __future__ import annotations

import json

import pytest

from tests.e2e.stack import Stack, c2b_confirmation, receipt
from tests.receivers import receiving

pytestmark = pytest.mark.e2e


def _status(shop, trans_id: str) -> str | None:
    found = [t for t in shop.transactions() if t["trans_id"] == trans_id]
    return found[0]["status"] if found else None


def test_a_slow_receiver_does_not_slow_crediting(stack: Stack):
    shop = stack.onboard()
    # 5 s per answer, and no answer before the test has seen the second payment credited
    with receiving(delay=5.0, hold=True) as receiver:
        created = shop.api("POST", "/webhook-endpoints", json={
            "url": receiver.url, "events": ["payment.received"]})
        assert created.status_code == 201, created.text
        endpoint_id = created.json()["endpoint"]["id"]

        first, second = receipt(1, "WHK"), receipt(2, "WHK")
        assert stack.hook(shop.token, "c2b/confirmation",
                          c2b_confirmation(first)).status_code == 200
        # the first payment's relay reaches the receiver, which sits on it for 5 s
        stack.wait(lambda: receiver.received, timeout=30, message="the first relay to arrive")
        assert stack.hook(shop.token, "c2b/confirmation",
                          c2b_confirmation(second, amount="300.00")).status_code == 200
        stack.wait(lambda: _status(shop, second) == "credited", timeout=30,
                   message="the second payment credited")
        # credited while the first delivery was still waiting for the receiver's answer
        assert receiver.received[0].answered is None
        log = shop.api("GET", f"/webhook-endpoints/{endpoint_id}/deliveries").json()["items"]
        assert "pending" in {d["status"] for d in log}
        receiver.hold.set()

        stack.wait(lambda: len(receiver.received) == 2 and all(r.answered for r in receiver.received),
                   timeout=40, message="both relays answered")
    relayed = sorted(json.loads(r.body)["TransID"] for r in receiver.received)
    assert relayed == [first, second]

    def delivered():
        items = shop.api("GET", f"/webhook-endpoints/{endpoint_id}/deliveries").json()["items"]
        return items if items and all(d["status"] == "delivered" for d in items) else None

    done = stack.wait(delivered, timeout=20, message="both deliveries recorded")
    assert {d["last_status_code"] for d in done} == {200}
