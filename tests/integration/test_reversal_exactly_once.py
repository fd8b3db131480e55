"""Claw-back, adjustments and redemptions exactly once under real PostgreSQL concurrency:
committed data, twenty threads at once (the `live` app of tests/integration/conftest.py).
Idempotency keys are claimed with INSERT … ON CONFLICT DO NOTHING (ledger.claim_key): the
same key twenty times is one ledger entry and twenty answers, never a 500."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.services import crediting
from tests.conftest import auth
from tests.integration.conftest import c2b_body

THREADS = 20


@pytest.fixture
def paid(live):
    """A credited KES 5,000 VIP payment (100 points): (app, API key, payment id, customer id)."""
    app, token, key = live
    assert app.test_client().post(f"/hooks/{token}/c2b/confirmation",
                                  json=c2b_body()).status_code == 200
    with app.app_context():
        crediting.credit_waiting()
    payment, customer = _rows(app, "SELECT id, customer_id FROM payments")[0]
    return app, key, payment, customer


def _rows(app, sql):
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(sa.text(sql)).all()


def _all_at_once(app, key, path, body_for):
    def post(n):
        response = app.test_client().post(path, headers=auth(key), json=body_for(n))
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(post, range(THREADS)))


def test_twenty_mark_reversed_at_once_claw_back_once(paid):
    app, key, payment, _ = paid
    answers = _all_at_once(app, key, f"/api/v1/transactions/{payment}/mark-reversed",
                           lambda n: {"reason": "Customer care", "idempotency_key": f"k{n}"})
    codes = sorted(status for status, _ in answers)
    assert codes == [200] + [409] * (THREADS - 1), answers
    assert {body["error"]["code"] for status, body in answers if status == 409} == \
        {"already_reversed"}
    assert _rows(app, "SELECT points, stamps FROM ledger_entries WHERE kind = 'reverse'") == \
        [(-100, 0)]
    assert _rows(app, "SELECT points FROM balances") == [(0,)]
    assert _rows(app, "SELECT status, reversed_amount FROM payments")[0][0] == "reversed"
    assert _rows(app, "SELECT count(*) FROM reversals") == [(1,)]


def test_twenty_with_one_key_all_get_the_one_reversal(paid):
    app, key, payment, _ = paid
    answers = _all_at_once(app, key, f"/api/v1/transactions/{payment}/mark-reversed",
                           lambda n: {"reason": "Customer care", "idempotency_key": "one",
                                      "amount": "2500"})
    assert {status for status, _ in answers} == {200}, answers
    assert len({body["reversal"]["id"] for _, body in answers}) == 1
    assert _rows(app, "SELECT points FROM ledger_entries WHERE kind = 'reverse'") == [(-50,)]
    assert _rows(app, "SELECT points FROM balances") == [(50,)]


def test_twenty_adjustments_with_one_key_add_once(paid):
    app, key, _, customer = paid
    answers = _all_at_once(app, key, f"/api/v1/customers/{customer}/adjustments",
                           lambda n: {"program": "vip", "points": 10, "reason": "Goodwill",
                                      "idempotency_key": "gw"})
    assert sorted(status for status, _ in answers) == [200] * (THREADS - 1) + [201], answers
    assert len({body["id"] for _, body in answers}) == 1
    assert _rows(app, "SELECT count(*) FROM ledger_entries WHERE kind = 'adjust'") == [(1,)]
    assert _rows(app, "SELECT points FROM balances") == [(110,)]


def test_twenty_redemptions_with_one_key_spend_once(paid):
    app, key, _, customer = paid
    answers = _all_at_once(app, key, f"/api/v1/customers/{customer}/redemptions",
                           lambda n: {"program": "vip", "points": 30, "description": "Mug",
                                      "idempotency_key": "mug"})
    assert sorted(status for status, _ in answers) == [200] * (THREADS - 1) + [201], answers
    assert {(body["id"], body["balance"]) for _, body in answers} == {
        (answers[0][1]["id"], 70)}
    assert _rows(app, "SELECT points FROM ledger_entries WHERE kind = 'redeem'") == [(-30,)]
    assert _rows(app, "SELECT points FROM balances") == [(70,)]


def test_twenty_adjustments_with_their_own_keys_each_count_once(paid):
    app, key, _, customer = paid
    answers = _all_at_once(app, key, f"/api/v1/customers/{customer}/adjustments",
                           lambda n: {"program": "vip", "points": -1, "reason": "Correction",
                                      "idempotency_key": f"fix-{n}"})
    assert {status for status, _ in answers} == {201}, answers
    assert _rows(app, "SELECT count(*) FROM ledger_entries WHERE kind = 'adjust'") == [(THREADS,)]
    assert _rows(app, "SELECT points FROM balances") == [(100 - THREADS,)]


def test_redemptions_racing_with_a_reversal_never_overspend(paid):
    """A redemption and the claw-back both lock the balance row: whichever comes second
    sees the first's result (a redemption after the claw-back finds nothing to spend)."""
    app, key, payment, customer = paid

    def body_for(n):
        return {"program": "vip", "points": 10, "idempotency_key": f"r{n}"}

    with ThreadPoolExecutor(THREADS + 1) as pool:
        reversal = pool.submit(lambda: app.test_client().post(
            f"/api/v1/transactions/{payment}/mark-reversed", headers=auth(key),
            json={"reason": "Customer care", "idempotency_key": "rev"}).status_code)
        redeemed = list(pool.map(lambda n: app.test_client().post(
            f"/api/v1/customers/{customer}/redemptions", headers=auth(key),
            json=body_for(n)).status_code, range(THREADS)))
    assert reversal.result() == 200
    spent = 10 * redeemed.count(201)
    assert 0 <= spent <= 100 and set(redeemed) <= {201, 409}
    assert _rows(app, "SELECT points FROM balances") == [(-spent,)]
