"""Texts at gateway speed: a chunk's gateway calls run concurrently, bounded, inside the
claim; a rate-limited gateway is backed off from; an account out of credit pauses sending
(Africa's Talking mocked at the HTTP edge)."""

import json
import logging
import threading
import time

import pytest
import responses
import sqlalchemy as sa

from loyalty.background import TaskName
from loyalty.services import crediting, messages, sms_pause
from tests.integration.conftest import AT, JOHN, c2b_body, make_shop
from tests.integration.test_sms_sending import _many, _sent_json
from tests.web.conftest import login_as, text

SEND = f"{AT}/version1/messaging"
NO_CREDIT = {"SMSMessageData": {"Message": "Sent to 0/1 Total Cost: 0", "Recipients": [
    {"statusCode": 405, "number": "+254712345678", "cost": "0", "status": "InsufficientBalance",
     "messageId": "None"}]}}


@pytest.fixture(autouse=True)
def _no_pause_left_behind(app):
    yield
    with app.app_context():
        sms_pause.resume("platform")


def _rows(db_session):
    return [tuple(r) for r in db_session.execute(sa.text(
        "SELECT status, attempts, claimed_until IS NULL FROM sms_messages ORDER BY id"))]


def _queued_texts(client, db_session, *, shops, each, prefix):
    """`shops` merchants, each with John enrolled and `each` of his payments credited:
    their queued receipts as (merchant_id, message id) pairs, oldest first."""
    for n in range(shops):
        shop = make_shop(client, db_session, business_name=f"Shop {n}")
        shop.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"})
        for k in range(each):
            shop.hook("c2b/confirmation", c2b_body(trans_id=f"{prefix}{n}{k:06d}"))
    crediting.credit_waiting()
    return [tuple(r) for r in db_session.execute(sa.text(
        "SELECT merchant_id, id FROM sms_messages WHERE status = 'queued' ORDER BY id"))]


class Gateway:
    """A gateway that takes `delay` seconds per call and counts the calls in flight."""

    def __init__(self, delay, answer=lambda n: (201, _sent_json(n))):
        self.delay, self.answer = delay, answer
        self.lock = threading.Lock()
        self.in_flight = self.most = self.calls = self.finished = 0
        self.timeouts = []

    def __call__(self, request):
        with self.lock:
            self.in_flight += 1
            self.calls += 1
            number = self.calls
            self.most = max(self.most, self.in_flight)
            self.timeouts.append(request.req_kwargs.get("timeout"))
        time.sleep(self.delay(number) if callable(self.delay) else self.delay)
        with self.lock:
            self.in_flight -= 1
            self.finished += 1
        status, body = self.answer(number)
        return status, {}, json.dumps(body)

    def wait_idle(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while self.in_flight and time.monotonic() < deadline:
            time.sleep(0.02)


def test_calls_run_concurrently_never_more_than_sms_concurrency(acme, app, db_session, gateway,
                                                               monkeypatch):
    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 4)
    ids = _many(acme, db_session, 12)
    slow = Gateway(delay=0.2)
    gateway.add_callback(responses.POST, SEND, callback=slow)
    started = time.monotonic()
    assert messages.send_batch([(acme.merchant_id, i) for i in ids]) == []
    elapsed = time.monotonic() - started
    assert slow.most == 4  # four at once, never a fifth
    assert elapsed < 12 * 0.2 / 2  # one after another would take 2.4 s; 4 at a time ~0.6 s
    assert _rows(db_session) == [("sent", 1, True)] * 12
    # One connection pool, sized to the concurrency, for every call of the process.
    adapter = app.extensions["sms_backend"]._session.get_adapter(AT)
    assert adapter._pool_maxsize == 4


def test_the_texts_of_many_merchants_share_one_window(app, client, db_session, gateway,
                                                     monkeypatch):
    """A month-end batch is a text or two for each of many merchants: their calls run
    together, not one merchant's chunk after another's."""
    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 8)
    pairs = _queued_texts(client, db_session, shops=4, each=2, prefix="WIN")
    assert len(pairs) == 8 and len({merchant for merchant, _ in pairs}) == 4
    slow = Gateway(delay=0.3)
    gateway.add_callback(responses.POST, SEND, callback=slow)
    started = time.monotonic()
    assert messages.send_batch(pairs) == []
    elapsed = time.monotonic() - started
    assert slow.most == 8  # every merchant's texts in flight at once
    assert elapsed < 4 * 0.3  # merchant after merchant: four round trips
    # Each outcome written as its own merchant (a statement naming the wrong one changes
    # nothing, and the text would still be queued).
    assert _rows(db_session) == [("sent", 1, True)] * 8


def test_a_draining_sender_keeps_its_window_full_with_other_waiting_texts(
        app, client, db_session, gateway, monkeypatch):
    """A send task carries a crediting batch's few texts; draining, it takes on every other
    waiting text (of any merchant) while it has room, instead of a round trip per task."""
    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 8)
    monkeypatch.setitem(app.config, "SMS_CHUNK_SIZE", 3)
    pairs = _queued_texts(client, db_session, shops=3, each=3, prefix="DRN")
    assert len(pairs) == 9
    slow = Gateway(delay=0.3)
    gateway.add_callback(responses.POST, SEND, callback=slow)

    # Not draining: only its own text.
    assert messages.send_batch(pairs[:1]) == []
    assert [r[0] for r in _rows(db_session)].count("sent") == 1
    # Draining: its own, then all eight others, together in one window.
    started = time.monotonic()
    assert messages.send_batch(pairs[1:2], final_attempt=False, drain=True) == []
    elapsed = time.monotonic() - started
    assert _rows(db_session) == [("sent", 1, True)] * 9
    assert slow.calls == 9 and slow.most >= 6
    assert elapsed < 3 * 0.3  # not a round trip per merchant's chunk


def test_a_draining_sender_takes_on_texts_that_become_free_while_its_calls_run(
        acme, app, db_session, gateway, monkeypatch):
    """Nothing else is free when its own text goes out; a text another sender held is let
    go while that call is under way. The draining send looks again after its answers
    instead of ending at the first empty claim (and leaving the text to a task of its own)."""
    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 4)
    first, held = _many(acme, db_session, 2)
    db_session.execute(sa.text(
        "UPDATE sms_messages SET claimed_until = clock_timestamp() + interval '100 milliseconds' "
        "WHERE id = :id"), {"id": held})
    slow = Gateway(delay=0.3)
    gateway.add_callback(responses.POST, SEND, callback=slow)

    assert messages.send_batch([(acme.merchant_id, first)], final_attempt=False, drain=True) == []
    assert slow.calls == 2
    assert _rows(db_session) == [("sent", 1, True)] * 2


def test_a_draining_sender_leaves_an_account_out_of_credit_alone(
        app, client, db_session, gateway, monkeypatch):
    shop = make_shop(client, db_session)
    shop.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"})
    for k in range(3):
        shop.hook("c2b/confirmation", c2b_body(trans_id=f"PSD{k:07d}"))
    crediting.credit_waiting()
    with app.app_context():
        sms_pause.pause("platform", "InsufficientBalance")
    gateway.assert_all_requests_are_fired = False
    gateway.add_callback(responses.POST, SEND, callback=Gateway(delay=0))
    started = time.monotonic()
    messages.send_batch([], final_attempt=False, drain=True)
    assert time.monotonic() - started < 1.0  # no spinning on texts it may not send
    assert len(gateway.calls) == 0
    assert [r[0] for r in _rows(db_session)] == ["queued"] * 3


def test_the_send_task_drains_except_on_its_last_attempt(monkeypatch):
    """A drained text's first try must not be a task's last (it would fail at the first
    refusal instead of being retried)."""
    from tasks import sms as sms_tasks

    seen = []
    monkeypatch.setattr(messages, "send_batch",
                        lambda pairs, final_attempt, drain: seen.append((final_attempt, drain)))
    sms_tasks.send_batch.apply(args=([[1, 2]],))
    sms_tasks.send_batch.apply(args=([[1, 2]],), retries=sms_tasks.MAX_RETRIES)
    assert seen == [(False, True), (True, False)]


def test_a_hanging_gateway_cannot_hold_a_chunk_past_its_claim(acme, app, db_session, gateway,
                                                              monkeypatch):
    monkeypatch.setitem(app.config, "SMS_CLAIM_SECONDS", 0.6)
    ids = _many(acme, db_session, 3)
    hanging = Gateway(delay=1.2)
    gateway.add_callback(responses.POST, SEND, callback=hanging)
    started = time.monotonic()
    retry = messages.send_batch([(acme.merchant_id, i) for i in ids], final_attempt=False)
    elapsed = time.monotonic() - started
    hanging.wait_idle()
    assert elapsed < 0.6  # done, outcomes written, before the claim ran out
    # Each call was told to give up within what was left of the claim.
    assert len(hanging.timeouts) == 3 and all(0 < t <= 0.6 for t in hanging.timeouts)
    # Unanswered: a timeout like any other (queued for a retry, the attempt counted).
    assert sorted(retry) == [(acme.merchant_id, i) for i in ids]
    assert _rows(db_session) == [("queued", 1, True)] * 3
    error = db_session.execute(sa.text("SELECT error FROM sms_messages LIMIT 1")).scalar()
    assert "no answer before the claim ran out" in error


def test_a_rate_limited_gateway_is_backed_off_from(acme, app, db_session, gateway, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 2)
    ids = _many(acme, db_session, 6)
    # The first call is refused with 429 at once; the one beside it in flight is accepted.
    busy = Gateway(delay=lambda n: 0 if n == 1 else 0.2,
                   answer=lambda n: (429, {}) if n == 1 else (201, _sent_json(n)))
    gateway.add_callback(responses.POST, SEND, callback=busy)
    retry = messages.send_batch([(acme.merchant_id, i) for i in ids], final_attempt=False)
    assert busy.calls == 2  # nothing started after the 429
    assert len(retry) == 5
    assert sorted(_rows(db_session)) == sorted(
        [("sent", 1, True), ("queued", 1, True)] + [("queued", 0, True)] * 4)


def test_the_send_task_backs_off_exponentially_with_jitter():
    from tasks.sms import backoff

    for retries in range(5):
        waits = {backoff(retries) for _ in range(50)}
        ceiling = min(300.0, 2.0 ** (retries + 1))
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 40  # jittered: senders refused together do not return together


def test_an_account_out_of_credit_pauses_sending_instead_of_spending_retries(
        acme, app, db_session, gateway, monkeypatch, client, caplog, run_task):
    from loyalty import metrics

    monkeypatch.setitem(app.config, "SMS_CONCURRENCY", 1)
    ids = _many(acme, db_session, 5)
    pauses = metrics.SMS_PAUSES.labels(account="platform")._value.get()
    gateway.add(responses.POST, SEND, json=NO_CREDIT, status=201)
    with caplog.at_level(logging.ERROR):
        retry = messages.send_batch([(acme.merchant_id, i) for i in ids], final_attempt=False)
    assert retry == []  # nothing for the task to retry: the texts wait for the pause
    assert len(gateway.calls) == 1
    assert _rows(db_session) == [("queued", 0, True)] * 5  # no attempt spent, none failed
    assert "SMS sending paused for account 'platform'" in caplog.text
    assert metrics.SMS_PAUSES.labels(account="platform")._value.get() == pauses + 1

    # While paused: no call, the sweep queues nothing, the dashboard says why.
    assert messages.send_batch([(acme.merchant_id, i) for i in ids]) == []
    assert len(gateway.calls) == 1
    db_session.execute(sa.text("UPDATE sms_messages SET updated_at = now() - interval '1 hour'"))
    assert run_task(TaskName.SWEEP_SMS_OUTBOX) == 0
    login_as(client, acme.merchant_id)
    assert "Texts are paused: the SMS account the platform sends them through has run out of " \
           "credit" in text(client.get("/dashboard"))

    # Topped up and resumed: everything goes out, each text attempted once.
    assert sms_pause.resume("platform")
    gateway.replace(responses.POST, SEND, json=_sent_json(1), status=201)
    assert run_task(TaskName.SWEEP_SMS_OUTBOX) == 5
    assert messages.send_batch([(acme.merchant_id, i) for i in ids]) == []
    assert _rows(db_session) == [("sent", 1, True)] * 5
    assert "Texts are paused" not in text(client.get("/dashboard"))


def test_operators_see_and_end_a_pause_from_the_command_line(app):
    runner = app.test_cli_runner()
    assert "No SMS account is paused." in runner.invoke(args=["sms", "status"]).output
    with app.app_context():
        sms_pause.pause("platform", "405 InsufficientBalance")
    assert "platform: paused since" in runner.invoke(args=["sms", "status"]).output
    assert "Resumed platform." in runner.invoke(args=["sms", "resume"]).output
    assert "platform was not paused." in runner.invoke(args=["sms", "resume"]).output
