"""Exactly-once against real PostgreSQL concurrency: committed data, many threads."""

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from loyalty.extensions import db
from loyalty.services import crediting
from loyalty.services.ingest import forget_routes
from tests.integration.conftest import c2b_body


def _count(app, sql):
    with app.app_context(), db.engine.connect() as conn:
        return conn.execute(sa.text(sql)).one()


def test_one_confirmation_delivered_20_times_at_once_credits_once(live):
    app, token, _ = live
    body = c2b_body()

    def deliver(_):
        response = app.test_client().post(f"/hooks/{token}/c2b/confirmation", json=body)
        return response.status_code, response.get_json()

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(deliver, range(20)))
    assert answers == [(200, {"ResultCode": 0, "ResultDesc": "Accepted"})] * 20
    assert _count(app, "SELECT count(*) FROM payments") == (1,)

    def drain(_):
        with app.app_context():
            return crediting.credit_waiting()

    with ThreadPoolExecutor(4) as pool:
        taken = list(pool.map(drain, range(4)))
    assert sum(taken) == 1
    assert _count(app, "SELECT count(*), sum(points) FROM ledger_entries") == (1, 100)
    assert _count(app, "SELECT count(*) FROM sms_messages") == (1,)
    assert _count(app, "SELECT points FROM balances") == (100,)


def test_a_backlog_drained_by_competing_workers_is_credited_once_each(live):
    app, token, _ = live
    client = app.test_client()
    for n in range(120):
        assert client.post(f"/hooks/{token}/c2b/confirmation",
                           json=c2b_body(trans_id=f"BULK{n:06d}", amount="100")).status_code == 200

    def drain(_):
        with app.app_context():
            total = 0
            while taken := crediting.credit_waiting(limit=7):
                total += taken
            return total

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(drain, range(6))) == 120
    assert _count(app, "SELECT count(*), sum(points) FROM ledger_entries") == (120, 240)
    assert _count(app, "SELECT count(DISTINCT payment_id) FROM sms_messages") == (120,)
    assert _count(app, "SELECT count(*) FROM payments WHERE status = 'credited'") == (120,)


def test_broker_down_still_answers_and_the_sweep_credits_later(live):
    """The app in `live` points at a closed Redis port: publishing fails fast."""
    app, token, _ = live
    response = app.test_client().post(f"/hooks/{token}/c2b/confirmation", json=c2b_body())
    assert response.status_code == 200
    assert _count(app, "SELECT status FROM payments") == ("received",)
    with app.app_context():  # what the beat sweep runs once the broker is back
        assert crediting.credit_waiting() == 1
    assert _count(app, "SELECT status, points FROM payments") == ("credited", 100)


def test_a_confirmation_after_the_database_dropped_its_connections_is_stored(live, caplog):
    """The callback's single statements keep no pre-ping: a dropped connection is found by
    the statement itself and retried once on a fresh one (the INSERT and the route lookup)."""
    app, token, _ = live
    client = app.test_client()
    url = f"/hooks/{token}/c2b/confirmation"
    assert client.post(url, json=c2b_body(trans_id="BEFOREDROP")).status_code == 200

    def drop_connections():
        name = str(db.engine.url).rsplit("/", 1)[-1]
        admin = sa.create_engine(str(db.engine.url).rsplit("/", 1)[0] + "/postgres",
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
        admin.dispose()

    with app.app_context():
        drop_connections()
    assert client.post(url, json=c2b_body(trans_id="AFTERDROP1")).status_code == 200  # cached
    forget_routes()
    with app.app_context():
        drop_connections()
    assert client.post(url, json=c2b_body(trans_id="AFTERDROP2")).status_code == 200  # looked up
    rows = _count(app, "SELECT string_agg(trans_id, ',' ORDER BY id) FROM payments")
    assert rows == ("BEFOREDROP,AFTERDROP1,AFTERDROP2",)
    assert caplog.text.count("retrying the statement once") >= 2
