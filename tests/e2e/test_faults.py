"""Faults over real processes: Redis gone, the SMS gateway failing, a worker killed while it
credits, Safaricom failing during verification. Each test starts and stops its own stack."""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests import processes, services
from tests.conftest import REDIS_URL
from tests.e2e.stack import Stack, c2b_confirmation, receipt, start_stack, wait_seconds

pytestmark = pytest.mark.e2e

JOHN = "0712345678"


def _phone(number: int) -> str:
    return f"07{number:08d}"


# --- (a) Redis down while confirmations arrive ------------------------------------------------


@pytest.fixture
def own_redis(tmp_path):
    """A redis-server of this test's own, so it can be stopped and started again."""
    if shutil.which("redis-server") is None:
        services._missing("redis-server", FileNotFoundError("redis-server is not installed"))
    port = processes.free_port()
    state = {"process": None}

    def start():
        process = processes.Process(f"redis-{time.monotonic_ns()}",
                                    processes.redis_server_args(port), dict(os.environ),
                                    tmp_path)
        state["process"] = process
        processes.wait_for_log(process, "Ready to accept connections", timeout=10)

    def stop():
        if state["process"] is not None:
            state["process"].stop()
            state["process"] = None

    start()
    try:
        yield f"redis://127.0.0.1:{port}/0", start, stop
    finally:
        stop()


def test_redis_down_confirmations_are_answered_stored_and_credited_later(
        scratch_database, redis_prefix, tmp_path, own_redis):
    redis_url, start_redis, stop_redis = own_redis
    with start_stack(scratch_database, redis_url, redis_prefix, tmp_path) as stack:
        shop = stack.onboard()
        stop_redis()

        answers = []
        for number in range(20):
            body = c2b_confirmation(receipt(number, "RDS"), amount="1000.00",
                                    bill_ref="VIP001" if number % 2 else "", phone=_phone(number))
            started = time.monotonic()
            response = stack.hook(shop.token, "c2b/confirmation", body)
            answers.append((response.status_code, response.json(), time.monotonic() - started))
        for status, body, seconds in answers:
            assert status == 200 and body == {"ResultCode": 0, "ResultDesc": "Accepted"}, body
            assert seconds < 1.5, f"a confirmation took {seconds:.2f} s with Redis down"
        assert stack.scalar("SELECT count(*) FROM payments WHERE status = 'received'") == 20
        wait_seconds(3)  # Redis is down: nothing can be credited, however long we wait
        assert stack.scalar("SELECT count(*) FROM payments WHERE status = 'received'") == 20

        start_redis()  # empty, as after a crash with no persistence
        stack.wait(lambda: stack.scalar(
            "SELECT count(*) FROM payments WHERE status = 'credited'") == 20,
            timeout=60, message="the beat sweep to credit the stored payments")
        assert stack.scalar("SELECT count(*) FROM ledger_entries") == 20
        assert stack.scalar("SELECT sum(points) FROM payments") == 10 * 10 + 10 * 20
        stack.wait(lambda: stack.scalar(
            "SELECT count(*) FROM sms_messages WHERE status = 'sent'") == 20,
            timeout=30, message="every receipt SMS sent")
        assert len(stack.inbox()) == 20


def test_sms_queued_while_redis_is_down_is_sent_once_it_is_back(
        scratch_database, redis_prefix, tmp_path, own_redis):
    redis_url, start_redis, stop_redis = own_redis
    with start_stack(scratch_database, redis_url, redis_prefix, tmp_path) as stack:
        shop = stack.onboard()
        masked = {**c2b_confirmation("MSK0000001"), "MSISDN": "2547*****678"}
        assert stack.hook(shop.token, "c2b/confirmation", masked).status_code == 200
        [payment] = stack.wait(lambda: shop.transactions(status="unattributed") or None,
                               timeout=30, message="the masked payment to be unattributed")
        stop_redis()
        # The merchant attaches the payment to the customer's phone: credited at once, and
        # the receipt SMS goes to the outbox, but its task cannot be published.
        attributed = shop.api("POST", f"/transactions/{payment['id']}/attribute",
                              json={"phone": JOHN})
        assert attributed.status_code == 200 and attributed.json()["status"] == "credited"
        assert stack.scalar("SELECT status FROM sms_messages WHERE payment_id = :p",
                            p=payment["id"]) == "queued"
        start_redis()
        stack.wait(lambda: stack.scalar("SELECT status FROM sms_messages WHERE payment_id = :p",
                                        p=payment["id"]) == "sent",
                   timeout=30, message="the queued SMS sent once Redis is back")


# --- (b) the SMS gateway failing ---------------------------------------------------------------


def test_sms_gateway_failing_three_times_sends_the_sms_once(stack: Stack):
    shop = stack.onboard()
    stack.control("faults", {"target": "sms", "count": 3, "status": 500})
    stack.simulate_c2b(amount=5000, bill_ref="VIP001", phone=JOHN)

    message = stack.wait(lambda: (lambda rows: rows[0] if rows and rows[0].status != "queued"
                                  else None)(stack.rows("SELECT * FROM sms_messages")),
                         timeout=40, message="the SMS to be settled")
    assert message.status == "sent", f"{message}\n{stack.logs()}"
    assert message.attempts == 4 and message.provider_message_id and message.error is None
    wait_seconds(2)
    [sms] = stack.inbox(JOHN)
    assert sms["message"] == "Hi John! You earned 100 VIP points. Total: 100 points."
    assert stack.scalar("SELECT count(*) FROM sms_messages") == 1
    assert shop.balance(JOHN, "vip") == 100
    assert stack.emulator("GET", "/state").json()["faults"] == []  # all three were used


# --- (c) the worker killed while it credits ----------------------------------------------------

# Crediting runs at thousands a second: the backlog must outlast the polling below.
BACKLOG = 4000


def _backlog(stack: Stack, token: str) -> None:
    """BACKLOG confirmations from as many payers, straight to the callback URL, quickly."""
    def post(number: int) -> int:
        body = c2b_confirmation(receipt(number, "KIL"), amount="200.00", bill_ref="VIP7",
                                phone=_phone(number))
        return stack.hook(token, "c2b/confirmation", body).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert set(pool.map(post, range(BACKLOG))) == {200}


def test_worker_killed_mid_crediting_credits_every_payment_exactly_once(stack: Stack):
    shop = stack.onboard()
    stack.procs["worker"].stop()  # a backlog builds up while no worker runs
    _backlog(stack, shop.token)
    assert stack.scalar("SELECT count(*) FROM payments WHERE status = 'received'") == BACKLOG

    worker = stack.start_worker("worker-2")
    credited = processes.wait_until(lambda: stack.scalar(
        "SELECT count(*) FROM payments WHERE status = 'credited'") or None,
        timeout=60, interval=0.01, message="crediting to start")
    worker.kill()  # SIGKILL to the whole process group: no warm shutdown, no ack
    at_kill = stack.scalar("SELECT count(*) FROM payments WHERE status = 'credited'")
    assert 0 < credited <= at_kill < BACKLOG, \
        f"the worker drained all {BACKLOG} before it could be killed; raise BACKLOG"

    stack.start_worker("worker-3")
    stack.wait(lambda: stack.scalar(
        "SELECT count(*) FROM payments WHERE status = 'credited'") == BACKLOG,
        timeout=90, message="every payment credited after the restart")
    assert stack.scalar("SELECT count(*) FROM payments WHERE status <> 'credited'") == 0
    assert stack.scalar("SELECT count(*) FROM ledger_entries") == BACKLOG
    assert stack.scalar("SELECT count(DISTINCT payment_id) FROM ledger_entries") == BACKLOG
    assert stack.scalar("SELECT count(*) FROM sms_messages") == BACKLOG
    assert stack.scalar("SELECT count(DISTINCT payment_id) FROM sms_messages") == BACKLOG
    assert stack.scalar("SELECT sum(points) FROM payments") == BACKLOG * 4
    assert stack.scalar("SELECT sum(points) FROM balances") == BACKLOG * 4
    # No payer was texted twice (the next test shows every text goes out after a restart).
    hashes = [m["hash"] for m in stack.inbox()]
    assert len(hashes) == len(set(hashes))


def test_sms_queued_when_the_worker_dies_are_sent_after_a_restart(stack: Stack):
    shop = stack.onboard()
    # Slow the gateway down so the worker is surely in the middle of a batch when it dies.
    stack.control("faults", {"target": "sms", "mode": "delay", "delay": 0.5, "forever": True})
    for number in range(6):
        stack.hook(shop.token, "c2b/confirmation",
                   c2b_confirmation(receipt(number, "SMS"), phone=_phone(number)))
    stack.wait(lambda: stack.scalar(
        "SELECT count(*) FROM sms_messages WHERE status = 'sent'") >= 1,
        timeout=30, message="the first SMS of the batch sent")
    stack.procs["worker"].kill()
    assert stack.scalar("SELECT count(*) FROM sms_messages WHERE status = 'queued'") > 0
    stack.emulator("DELETE", "/control/faults")
    stack.start_worker("worker-2")
    stack.wait(lambda: stack.scalar(
        "SELECT count(*) FROM sms_messages WHERE status = 'sent'") == 6,
        timeout=30, message="every queued SMS sent after the restart")


# --- (d) Safaricom failing during verification -------------------------------------------------


@pytest.fixture
def slow_daraja_stack(scratch_database, redis_prefix, tmp_path):
    # Daraja calls give up after 2 s (the services read DARAJA_TIMEOUT), so a hung
    # Safaricom costs the test seconds, not the default 10 s per attempt.
    with start_stack(scratch_database, REDIS_URL, redis_prefix, tmp_path,
                     DARAJA_TIMEOUT="2") as running:
        yield running


def test_safaricom_failing_during_verify_ends_failed_and_a_retry_succeeds(slow_daraja_stack):
    stack = slow_daraja_stack
    registered = stack.api("POST", "/merchants", json={
        "business_name": "Acme Electronics", "owner_name": "John Doe",
        "email": "owner@acme.example", "phone": "0722000111", "business_type": "RETAIL",
        "password": "correct horse battery"})
    key = registered.json()["api_key"]
    channel = stack.api("POST", "/mpesa-channels", key, json={
        "name": "Main PayBill", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "demo-consumer-key", "consumer_secret": "demo-consumer-secret"}).json()
    url = f"/mpesa-channels/{channel['id']}"
    # Two hung answers (longer than DARAJA_TIMEOUT), then 500s for as long as it lasts.
    stack.control("faults", {"target": "daraja", "path": "/oauth/v1/generate", "mode": "delay",
                             "delay": 3, "count": 2})
    stack.control("faults", {"target": "daraja", "path": "/oauth/v1/generate", "mode": "error",
                             "status": 500, "forever": True})

    started = stack.api("POST", f"{url}/verify", key)
    assert started.status_code == 202, started.text
    assert started.json()["verification"]["state"] == "pending"
    failed = stack.wait(lambda: (lambda c: c if c["verification"]["state"] != "pending" else None)(
        stack.api("GET", url, key).json()), timeout=60, message="the verification to give up")
    assert failed["verification"]["state"] == "failed", failed
    error = failed["verification"]["error"]
    assert error["code"] == "safaricom_unreachable"
    assert "could not be reached" in error["message"] and "Try verifying again" in error["message"]
    assert failed["status"] == "configured" and failed["is_active"] is False
    worker_log = processes.read_log(stack.procs["worker"])
    assert worker_log.count("channels.verify") >= 4 and "retry" in worker_log.lower()
    activate = stack.api("POST", f"{url}/activate", key)
    assert activate.status_code == 409 and activate.json()["error"]["code"] == "not_verified"

    stack.emulator("DELETE", "/control/faults")
    again = stack.api("POST", f"{url}/verify?wait=10", key)
    assert again.status_code == 200, again.text
    assert again.json()["verified"] is True and again.json()["status"] == "verified"
    assert stack.api("GET", url, key).json()["verification"]["error"] is None


def test_stack_processes_are_stopped_and_loopback_only(scratch_database, redis_prefix, tmp_path):
    """The harness itself: everything listens on 127.0.0.1 and is gone afterwards."""
    with start_stack(scratch_database, REDIS_URL, redis_prefix, tmp_path) as stack:
        procs = dict(stack.procs)
        assert stack.base.startswith("http://127.0.0.1:")
        assert "Listening at: http://127.0.0.1:" in processes.read_log(procs["web"])
    for process in procs.values():
        assert not process.alive(), process.name
        try:
            os.killpg(process.popen.pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"{process.name}'s process group is still alive")

