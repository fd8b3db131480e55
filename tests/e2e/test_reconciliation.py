"""A confirmation lost on the way, recovered by beat's reconciliation over real processes:
gunicorn (with the emulator playing Safaricom, which does not retry), a Celery worker and
beat with a short RECONCILE_INTERVAL, PostgreSQL and Redis."""

from __future__ import annotations

import pytest

from tests.conftest import REDIS_URL
from tests.e2e.stack import c2b_confirmation, start_stack, wait_seconds

pytestmark = pytest.mark.e2e

JOHN = "0712345678"


@pytest.fixture
def stack(scratch_database, redis_prefix, tmp_path):
    with start_stack(scratch_database, REDIS_URL, redis_prefix, tmp_path,
                     RECONCILE_INTERVAL="3") as running:
        yield running


def test_beat_recovers_a_lost_confirmation_and_texts_once(stack):
    shop = stack.onboard()
    registered = shop.api("POST", f"/mpesa-channels/{shop.channel_id}/pull/register?wait=30",
                          json={"nominated_number": "0722000111"})
    assert registered.status_code == 200 and registered.json()["registered"], registered.text
    assert shop.channel()["pull"]["state"] == "registered"

    stack.control("drop-confirmations", {"count": 1})
    stack.simulate_c2b(amount=5000, bill_ref="VIP001", phone=JOHN, trans_id="LOSTE2E001")

    def lost():
        return [d for d in stack.deliveries()
                if d["ref"] == "LOSTE2E001" and "lost on the way" in (d["error"] or "")]

    stack.wait(lost, timeout=20, message="the emulator to lose the confirmation")

    def recovered():
        found = [t for t in shop.transactions() if t["trans_id"] == "LOSTE2E001"]
        return found if found and found[0]["status"] == "credited" else None

    [payment] = stack.wait(recovered, timeout=45, message="beat's reconciliation to recover it")
    assert (payment["source"], payment["points"], payment["matched_pattern"]) == (
        "pull", 100, "VIP*")
    [sms] = stack.wait(lambda: stack.inbox(JOHN), timeout=30, message="the receipt SMS")
    # Pull rows carry no names (DARAJA.md 17): an unenrolled payer is greeted generically.
    assert sms["message"] == "Hi Customer! You earned 100 VIP points. Total: 100 points."

    runs = shop.api("GET", "/reconciliation-runs",
                    params={"channel_id": shop.channel_id, "limit": 200}).json()["items"]
    assert [r["recovered"] for r in runs if r["recovered"]] == [1]
    assert {r["state"] for r in runs} <= {"running", "done"}

    # Safaricom's confirmation turns up after all: a duplicate, answered Accepted.
    late = stack.hook(shop.token, "c2b/confirmation", c2b_confirmation("LOSTE2E001"))
    assert late.status_code == 200 and late.json()["ResultDesc"] == "Accepted"
    wait_seconds(7)  # two more reconciliations and sweeps: none may credit or text again
    assert stack.scalar("SELECT count(*) FROM payments") == 1
    assert stack.scalar("SELECT count(*) FROM ledger_entries") == 1
    assert stack.scalar("SELECT count(*) FROM sms_messages") == 1
    assert len(stack.inbox(JOHN)) == 1
    assert shop.balance(JOHN, "vip") == 100
    later = shop.api("GET", "/reconciliation-runs", params={"limit": 200}).json()["items"]
    assert len(later) > len(runs) and sum(r["recovered"] for r in later) == 1
    assert any(r["already_known"] == 1 and r["state"] == "done" for r in later)
