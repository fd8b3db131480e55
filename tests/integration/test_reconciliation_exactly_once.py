"""A recovered receipt is credited and texted once, however often it arrives again: by the
late callback, by a second reconciliation, or by both at the same moment (real PostgreSQL,
committed data, many threads); and `?wait` on a run the request has to wait for."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import responses
import sqlalchemy as sa
from flask_migrate import upgrade

from loyalty.extensions import db
from loyalty.services import crediting, reconciliation
from loyalty.services.ingest import forget_routes
from loyalty.tenancy import tenant_context
from tests.conftest import auth, make_test_app, register_merchant
from tests.integration.conftest import JOHN, VIP, c2b_body

DARAJA = "https://sandbox.daraja.test"


def pull_row(trans_id: str) -> dict:
    when = (datetime.now(UTC) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"transactionId": trans_id, "trxDate": when, "msisdn": int(JOHN),
            "transactiontype": "c2b-pay-bill-debit", "billreference": "VIP001",
            "amount": "5000.00", "organizationname": "Acme"}


@pytest.fixture
def live(scratch_database, redis_prefix):
    """Committed data: a merchant with a VIP program and an active channel registered for
    Pull; Safaricom's Pull answers with whatever `rows` holds, then an empty page."""
    app = make_test_app(scratch_database, redis_prefix)
    with app.app_context():
        upgrade()
    client = app.test_client()
    merchant, key = register_merchant(client)
    client.post("/api/v1/programs", headers=auth(key), json=VIP)
    channel = client.post("/api/v1/mpesa-channels", headers=auth(key), json={
        "name": "Main", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "k", "consumer_secret": "s",
        "account_mapping": {"default": "loyalty", "VIP*": "vip"}}).get_json()
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true, "
                             "pull_state='done', pull_nominated_number='254722000111'"))
        token = conn.execute(sa.text("SELECT callback_token FROM mpesa_channels")).scalar()
    forget_routes()
    rows: list[dict] = []

    def query(request):
        offset = int(json.loads(request.body)["OffSetValue"])
        found = rows[offset:]
        return 200, {}, json.dumps(
            {"ResponseCode": "1000" if found else "1001", "Response": [found]})

    with responses.RequestsMock(assert_all_requests_are_fired=False) as daraja:
        daraja.add(responses.GET, f"{DARAJA}/oauth/v1/generate",
                   json={"access_token": "tok", "expires_in": "3599"})
        daraja.add_callback(responses.POST, f"{DARAJA}/pulltransactions/v1/query", callback=query)
        yield app, client, token, merchant["id"], channel["id"], rows, key


def _reconcile(app, merchant_id, channel_id):
    with app.app_context(), tenant_context(merchant_id):
        run = reconciliation.start_reconciliation(channel_id)
        reconciliation.reconcile(run.id)
        return reconciliation.get_run(run.id)


def _credit(app):
    with app.app_context():
        return crediting.credit_waiting()


def _one(app, sql):
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(sa.text(sql)).one()


def test_a_recovered_receipt_delivered_again_by_callback_and_by_a_second_reconcile(live):
    app, client, token, merchant_id, channel_id, rows, _ = live
    rows.append(pull_row("LOSTONCE01"))
    first = _reconcile(app, merchant_id, channel_id)
    assert (first.state.value, first.recovered) == ("done", 1)
    assert _credit(app) == 1

    def callback(_):
        return client.post(f"/hooks/{token}/c2b/confirmation",
                           json=c2b_body(trans_id="LOSTONCE01")).status_code

    with ThreadPoolExecutor(8) as pool:
        answers = pool.map(callback, range(8))
        second = pool.submit(_reconcile, app, merchant_id, channel_id).result()
        assert list(answers) == [200] * 8
    assert (second.state.value, second.already_known, second.recovered) == ("done", 1, 0)
    assert _credit(app) == 0
    assert _one(app, "SELECT count(*), min(source), min(status) FROM payments") == (
        1, "pull", "credited")
    assert _one(app, "SELECT count(*), sum(points) FROM ledger_entries") == (1, 100)
    assert _one(app, "SELECT count(*) FROM sms_messages") == (1,)
    assert _one(app, "SELECT points FROM balances") == (100,)


def test_a_callback_and_a_reconcile_racing_for_a_new_receipt_store_it_once(live):
    app, client, token, merchant_id, channel_id, rows, _ = live
    rows.append(pull_row("RACE000001"))

    def callback(_):
        return client.post(f"/hooks/{token}/c2b/confirmation",
                           json=c2b_body(trans_id="RACE000001")).status_code

    with ThreadPoolExecutor(8) as pool:
        run = pool.submit(_reconcile, app, merchant_id, channel_id)
        assert list(pool.map(callback, range(6))) == [200] * 6
        run = run.result()
    assert run.state.value == "done" and run.recovered + run.already_known == 1
    assert _credit(app) == 1
    assert _one(app, "SELECT count(*) FROM payments") == (1,)
    assert _one(app, "SELECT count(*), sum(points) FROM ledger_entries") == (1, 100)
    assert _one(app, "SELECT count(*) FROM sms_messages") == (1,)


def test_racing_reconcile_requests_start_one_run(live):
    app, client, _, _, channel_id, _, key = live

    def reconcile(_):
        return app.test_client().post(f"/api/v1/mpesa-channels/{channel_id}/reconcile",
                                      headers=auth(key), json={}).status_code

    # The task is published to Redis and no worker runs it: every run stays `running`.
    with ThreadPoolExecutor(10) as pool:
        answers = sorted(pool.map(reconcile, range(10)))
    assert answers == [202] + [409] * 9
    assert _one(app, "SELECT count(*) FROM reconciliation_runs WHERE state = 'running'") == (1,)


def test_waiting_for_a_run_answers_200_once_the_worker_finished_it(live, monkeypatch):
    app, client, _, _, channel_id, rows, key = live
    rows.append(pull_row("WAITED0001"))
    # The run goes to a thread of its own, as `make run` runs tasks: the request that
    # queued it has to wait for it, polling the committed run.
    monkeypatch.setitem(app.config, "TASKS_IN_THREAD", True)
    monkeypatch.setitem(app.extensions["celery"].conf, "task_always_eager", True)
    answer = client.post(f"/api/v1/mpesa-channels/{channel_id}/reconcile?wait=10",
                         headers=auth(key), json={})
    assert answer.status_code == 200, answer.get_json()
    run = answer.get_json()["run"]
    assert (run["state"], run["rows_seen"], run["recovered"]) == ("done", 1, 1)
    assert run["finished_at"] is not None
