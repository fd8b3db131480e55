"""A Reversal API request's life after it was sent, on PostgreSQL: the queue timeout fails it,
a result that still comes afterwards is what M-Pesa did (applied once, or refused when the
payment was reversed meanwhile), the worker never sends one request twice, and a spooled
result or timeout of any kind is applied on replay."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import responses
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from loyalty.extensions import db
from loyalty.services import callback_log, channel_setup, crediting, reversals
from loyalty.services.callback_log import Received
from loyalty.tenancy import tenant_context
from tests.conftest import auth, make_test_app
from tests.integration import test_reversals as base
from tests.integration.conftest import VIP, c2b_body, make_shop
from tests.integration.test_reversals import (
    DARAJA,
    accepted,
    ask,
    asked,
    balance,
    mark,
    pay,
    result,
    reverse_entries,
    send,
    with_initiator,
)

# The fixtures of the reversal tests: a shop with VIP, Daraja mocked, tasks recorded.
shop, daraja = base.shop, base.daraja
pytestmark = pytest.mark.usefixtures("recorded_tasks")

TIMED_OUT = {"Result": {"ResultType": 0, "ResultCode": 1, "ResultDesc": "The request timed out.",
                        "OriginatorConversationID": "7788-1234-1",
                        "ConversationID": "AG_20240710_rev1"}}


def sent(shop, db_session, daraja, key="mpesa-1", **ids) -> tuple[int, int]:
    """A credited payment asked to be reversed through M-Pesa and acknowledged:
    (reversal id, the async request its result answers)."""
    payment_id = db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    reversal_id = ask(shop, payment_id, key=key).get_json()["reversal"]["id"]
    accepted(daraja, **ids)
    send(shop, reversal_id)
    return reversal_id, asked(db_session, reversal_id)


def shown(shop) -> dict:
    return shop.api("GET", "/transactions").get_json()["items"][0]


def notes(db_session) -> list[str | None]:
    return db_session.execute(sa.text("SELECT error FROM callback_log ORDER BY id")).scalars().all()


@pytest.fixture
def requested(shop, db_session, daraja):
    """KES 5,000 to VIP (100 points), a reversal sent to M-Pesa: (reversal id, its ref)."""
    pay(shop, db_session)
    with_initiator(shop, db_session)
    return sent(shop, db_session, daraja)


def test_a_queue_timeout_fails_the_reversal_and_it_can_be_asked_again(shop, db_session,
                                                                      requested):
    _, ref = requested
    # The notice's shape is undocumented: the URL names the request, whatever the body says.
    assert shop.hook(f"timeout/reversal/{ref}", b"<timeout/>").status_code == 200
    payment = shown(shop)
    assert (payment["status"], payment["reversal"]["state"]) == ("credited", "failed")
    assert "queue timed out" in payment["reversal"]["message"]
    assert balance(db_session)[0] == 100
    assert ask(shop, payment["id"], key="mpesa-2").status_code == 202


def test_a_success_after_the_timeout_still_takes_the_points_back_once(shop, db_session,
                                                                      requested):
    _, ref = requested
    assert shop.hook(f"timeout/reversal/{ref}", TIMED_OUT).status_code == 200
    assert shop.hook(f"result/reversal/{ref}", result()).status_code == 200
    payment = shown(shop)
    assert (payment["status"], payment["reversal"]["state"], payment["reversal"]["receipt"]) == (
        "reversed", "done", "SGJ81CVBQF")
    assert balance(db_session)[0] == 0
    assert shop.hook(f"result/reversal/{ref}", result()).status_code == 200
    assert reverse_entries(db_session) == [(-100, 0)]
    assert "answered already" in notes(db_session)[-1]


def test_a_failure_after_the_timeout_shows_safaricoms_reason(shop, db_session, requested):
    _, ref = requested
    shop.hook(f"timeout/reversal/{ref}", TIMED_OUT)
    shop.hook(f"result/reversal/{ref}", result(code=1))
    reversal = shown(shop)["reversal"]
    assert (reversal["state"], reversal["result_code"]) == ("failed", "1")
    assert "does not hold enough money" in reversal["message"]


def test_a_late_success_supersedes_the_request_asked_again_meanwhile(shop, db_session, daraja,
                                                                     requested):
    _, first = requested
    shop.hook(f"timeout/reversal/{first}", TIMED_OUT)
    _, second = sent(shop, db_session, daraja, key="mpesa-2", conversation="AG_2",
                     originator="2-2")
    shop.hook(f"result/reversal/{first}", result())
    assert shown(shop)["status"] == "reversed" and balance(db_session)[0] == 0
    # M-Pesa refuses the second request: the payment had gone back already.
    shop.hook(f"result/reversal/{second}", result(code="R000001", conversation="AG_2",
                                                  originator="2-2"))
    assert reverse_entries(db_session) == [(-100, 0)]
    states = db_session.execute(sa.text(
        "SELECT state, result_desc FROM reversals ORDER BY id")).all()
    assert states[0][0] == "done"
    assert states[1][0] == "failed" and "earlier request reversed" in states[1][1]


def test_a_late_success_after_the_payment_was_marked_reversed_takes_nothing_more(
        shop, db_session, requested):
    _, ref = requested
    shop.hook(f"timeout/reversal/{ref}", TIMED_OUT)
    assert mark(shop, shown(shop)["id"]).status_code == 200
    assert shop.hook(f"result/reversal/{ref}", result()).status_code == 200
    assert reverse_entries(db_session) == [(-100, 0)] and balance(db_session)[0] == 0
    assert "Check the M-PESA statement for a second reversal" in notes(db_session)[-1]


def test_a_claimed_request_is_never_sent_again(shop, db_session, daraja):
    """A worker that died after claiming (or is still waiting for Safaricom's answer):
    the redelivered task finds the claim and sends nothing."""
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    reversal_id = ask(shop, payment_id).get_json()["reversal"]["id"]
    db_session.execute(sa.text("UPDATE async_requests SET sent_at = now()"))
    accepted(daraja)
    send(shop, reversal_id)
    assert not [c for c in daraja.calls if "reversal" in c.request.url]
    assert shown(shop)["reversal"]["state"] == "requested"


@pytest.mark.parametrize("kind", ["result_reversal", "timeout_reversal"])
def test_spooled_results_and_timeouts_are_applied_on_replay(shop, db_session, requested, kind):
    _, ref = requested
    body = result() if kind == "result_reversal" else TIMED_OUT
    outcome = callback_log.replay(Received(
        kind=kind, token=shop.channel["callback_token"], body=json.dumps(body).encode(),
        remote_addr="196.201.214.200", request_id=ref))
    assert outcome == "kept"
    state = shown(shop)["reversal"]["state"]
    assert state == ("done" if kind == "result_reversal" else "failed")
    assert db_session.execute(sa.text("SELECT kind, outcome FROM callback_log")).all() == [
        (kind, "result")]


def balance_check_asked(shop, db_session, daraja) -> dict:
    """Verification has asked Safaricom for the balance (the initiator set): the ResultCode 0
    answer it waits for, to be delivered by the test."""
    with_initiator(shop, db_session)
    daraja.add(responses.POST, f"{DARAJA}/mpesa/accountbalance/v1/query", json={
        "OriginatorConversationID": "9-9", "ConversationID": "AG_9", "ResponseCode": "0"})
    with tenant_context(shop.merchant_id):
        channel_setup.verify_channel(shop.channel["id"])
    body = {"Result": {"ResultType": 0, "ResultCode": 0, "ResultDesc": "ok",
                       "OriginatorConversationID": "9-9", "ConversationID": "AG_9",
                       "ResultParameters": {"ResultParameter": {
                           "Key": "AccountBalance",
                           "Value": "Utility Account|KES|100.00|100.00|0.00|0.00"}}}}
    return body


def test_a_spooled_balance_result_is_applied_on_replay(shop, db_session, daraja):
    body = balance_check_asked(shop, db_session, daraja)
    callback_log.replay(Received(kind="result_balance", token=shop.channel["callback_token"],
                                 body=json.dumps(body).encode(), remote_addr=None))
    channel = shop.api("GET", f"/mpesa-channels/{shop.channel['id']}").get_json()
    assert channel["verification"]["details"]["account_balance_accessible"] is True


def test_the_payment_page_reads_the_payment_and_its_reversals_in_one_statement(
        shop, db_session):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    assert ask(shop, payment_id).status_code == 202
    assert mark(shop, payment_id).status_code == 200  # the M-Pesa request superseded
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with tenant_context(shop.merchant_id):
            found = reversals.preview(payment_id)
            assert [r.state.value for r in found["payment"].reversals] == ["done", "failed"]
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    reads = [s for s in statements if "FROM reversals" in s or "JOIN reversals" in s]
    assert len(reads) == 1 and "FROM payments" in reads[0], reads


# --- under real concurrency: committed data, threads -------------------------------------


@pytest.fixture
def committed(scratch_database, redis_prefix, monkeypatch):
    """An app on its own committed database; a credited VIP payment on a channel with an
    initiator, and a reversal requested of M-Pesa: (app, merchant id, reversal id)."""
    monkeypatch.setattr("loyalty.background.publish", lambda *a, **k: True)
    app = make_test_app(scratch_database, redis_prefix)
    with app.app_context():
        upgrade()
    client = app.test_client()
    with app.app_context():
        shop = make_shop(client, db.session, programs=[VIP],
                         mapping={"default": "loyalty", "VIP*": "vip"})
        db.session.commit()
    with_initiator(shop, _Committing(app))
    assert shop.hook("c2b/confirmation", c2b_body()).status_code == 200
    with app.app_context():
        crediting.credit_waiting()
        payment_id = db.session.execute(sa.text("SELECT id FROM payments")).scalar()
    response = client.post(f"/api/v1/transactions/{payment_id}/reverse", headers=auth(shop.key),
                           json={"reason": "Paid twice", "idempotency_key": "once"})
    assert response.status_code == 202, response.get_json()
    return app, shop.merchant_id, response.get_json()["reversal"]["id"]


class _Committing:
    """What with_initiator needs of a session, on the committed database."""

    def __init__(self, app):
        self.app = app

    def execute(self, statement, params=None):
        with self.app.app_context(), db.engine.begin() as conn:
            return conn.execute(statement, params or {})


def test_deliveries_of_one_task_at_once_send_one_request(committed):
    app, merchant_id, reversal_id = committed
    calls, lock = [], threading.Lock()

    def slow_ack(request):
        with lock:
            calls.append(request)
        time.sleep(0.5)  # Safaricom takes its time: the other deliveries arrive meanwhile
        return 200, {}, json.dumps({"OriginatorConversationID": "1-1", "ConversationID": "AG_1",
                                    "ResponseCode": "0"})

    def deliver(_):
        with app.app_context(), tenant_context(merchant_id):
            reversals.send_reversal(reversal_id)

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{DARAJA}/oauth/v1/generate?grant_type=client_credentials",
                 json={"access_token": "tok-once", "expires_in": "3599"})
        mock.add_callback(responses.POST, f"{DARAJA}/mpesa/reversal/v1/request",
                          callback=slow_ack)
        with ThreadPoolExecutor(5) as pool:
            list(pool.map(deliver, range(5)))
    assert len(calls) == 1
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT state, conversation_id FROM async_requests")).all() == [("pending", "AG_1")]


def test_a_reversal_sent_before_revision_0015_is_still_matched_by_its_ids(committed):
    """Downgraded to 0014 (the ids back on the reversal) and upgraded again: the request
    is rebuilt from the reversal, and its result finds it by Safaricom's ids."""
    app, merchant_id, reversal_id = committed
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE async_requests SET sent_at = now(), "
                                 "conversation_id = 'AG_old', originator_conversation_id = '0-0'"))
        downgrade(revision="0014")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text(
                "SELECT conversation_id FROM reversals")).scalar() == "AG_old"
        upgrade()
        with db.engine.connect() as conn:
            rebuilt = conn.execute(sa.text(
                "SELECT kind, state, reversal_id, conversation_id, sent_at IS NOT NULL "
                "FROM async_requests")).all()
        assert rebuilt == [("reversal", "pending", reversal_id, "AG_old", True)]
        token = db.session.execute(sa.text("SELECT callback_token FROM mpesa_channels")).scalar()
    answer = app.test_client().post(f"/hooks/{token}/result/reversal",
                                    json=result(conversation="AG_old", originator="0-0"))
    assert answer.status_code == 200
    with app.app_context(), db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT state FROM reversals")).scalar() == "done"
        assert conn.execute(sa.text("SELECT points FROM balances")).scalar() == 0
