"""The confirmation fast path (hooks/fast.py): same answers and rows as the Flask view, and
everything unusual still handled by the view."""

import pytest
import sqlalchemy as sa

from loyalty.services import ingest
from tests.integration.conftest import c2b_body


@pytest.fixture
def view_calls(app):
    """How many confirmations reached the Flask view."""
    calls = []
    original = app.view_functions["hooks.c2b_confirmation"]

    def counting(**kwargs):
        calls.append(kwargs["token"])
        return original(**kwargs)

    app.view_functions["hooks.c2b_confirmation"] = counting
    yield calls
    app.view_functions["hooks.c2b_confirmation"] = original


def _payments(db_session):
    return db_session.execute(sa.text(
        "SELECT trans_id, amount, bill_ref, msisdn_form, status, first_name, payload->>'LastName' "
        "FROM payments ORDER BY id")).all()


def test_a_known_channel_is_answered_without_the_view_and_alike(acme, app, db_session,
                                                                  view_calls):
    fast_path = app.wsgi_app
    app.wsgi_app = fast_path.downstream  # the view's answer alone, for comparison
    try:
        by_view = acme.hook("c2b/confirmation", c2b_body(trans_id="VIEW000001"))
    finally:
        app.wsgi_app = fast_path
    ingest.forget_routes()
    fast = acme.hook("c2b/confirmation", c2b_body(trans_id="FAST000001"))  # not cached yet
    cached = acme.hook("c2b/confirmation", c2b_body(trans_id="FAST000002"))
    assert len(view_calls) == 1
    for response in (by_view, fast):
        assert response.status_code == 200
        assert response.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["X-Request-ID"]
    assert fast.data == by_view.data
    assert cached.data == by_view.data
    rows = _payments(db_session)
    assert [r[0] for r in rows] == ["VIEW000001", "FAST000001", "FAST000002"]
    assert rows[0][1:] == rows[1][1:] == rows[2][1:]  # the same row either way


def test_an_unknown_token_is_answered_404_by_the_view_after_one_lookup(acme, db_session,
                                                                       view_calls, monkeypatch):
    lookups = []
    real = ingest.route_for
    monkeypatch.setattr(ingest, "route_for", lambda token: lookups.append(token) or real(token))
    stranger = "s" * len(acme.channel["callback_token"])
    response = acme.client.post(f"/hooks/{stranger}/c2b/confirmation",
                                json=c2b_body(trans_id="STRANGER01"))
    assert response.status_code == 404
    assert view_calls == [stranger] and lookups == [stranger]  # the database asked once
    assert _payments(db_session) == []
    assert db_session.execute(sa.text("SELECT count(*) FROM callback_log")).scalar() == 0


def test_a_database_error_looking_up_a_route_is_left_to_the_view(acme, db_session, view_calls,
                                                                 monkeypatch):
    failures = []
    real = ingest.route_for

    def failing_once(token):
        if not failures:
            failures.append(1)
            raise sa.exc.OperationalError("SELECT", {}, Exception("connection reset"))
        return real(token)

    ingest.forget_routes()
    monkeypatch.setattr(ingest, "route_for", failing_once)
    response = acme.hook("c2b/confirmation", c2b_body(trans_id="LOOKUP0001"))
    assert response.status_code == 200 and failures == [1]
    assert len(view_calls) == 1
    assert [r[0] for r in _payments(db_session)] == ["LOOKUP0001"]


def test_the_request_id_is_echoed(acme, view_calls):
    acme.hook("c2b/confirmation", c2b_body(trans_id="WARM000001"))
    response = acme.client.post(f"/hooks/{acme.channel['callback_token']}/c2b/confirmation",
                                json=c2b_body(trans_id="ECHO000001"),
                                headers={"X-Request-ID": "req-from-proxy"})
    assert response.headers["X-Request-ID"] == "req-from-proxy"
    assert len(view_calls) == 0


def test_a_duplicate_on_the_fast_path_is_accepted_and_stored_once(acme, db_session, view_calls):
    for _ in range(3):
        assert acme.hook("c2b/confirmation", c2b_body(trans_id="DUP0000001")).status_code == 200
    assert len(view_calls) == 0
    assert len(_payments(db_session)) == 1


def test_a_bad_body_on_a_cached_channel_goes_to_the_view_and_is_logged(acme, db_session,
                                                                       view_calls):
    acme.hook("c2b/confirmation", c2b_body(trans_id="WARM000002"))
    wrong_shortcode = acme.hook("c2b/confirmation", c2b_body(shortcode="999999", trans_id="X1"))
    not_json = acme.hook("c2b/confirmation", b"{not json")
    assert (wrong_shortcode.status_code, not_json.status_code) == (400, 400)
    assert wrong_shortcode.get_json()["error"]["code"] == "shortcode_mismatch"
    assert len(view_calls) == 2
    logged = db_session.execute(sa.text("SELECT body FROM callback_log ORDER BY id")).scalars().all()
    assert logged[-1] == "{not json" and "999999" in logged[-2]


def test_a_database_error_on_the_fast_path_is_retried_by_the_view(acme, db_session, view_calls,
                                                                  monkeypatch):
    acme.hook("c2b/confirmation", c2b_body(trans_id="WARM000003"))
    failures = []
    real = ingest.store_confirmation

    def failing_once(route, confirmation):
        if not failures:
            failures.append(1)
            raise sa.exc.OperationalError("INSERT", {}, Exception("connection reset"))
        return real(route, confirmation)

    monkeypatch.setattr(ingest, "store_confirmation", failing_once)
    response = acme.hook("c2b/confirmation", c2b_body(trans_id="RETRY00001"))
    assert response.status_code == 200 and failures == [1]
    assert len(view_calls) == 1
    assert [r[0] for r in _payments(db_session)] == ["WARM000003", "RETRY00001"]


def test_the_source_ip_policy_is_never_skipped(acme, app, db_session, view_calls):
    acme.hook("c2b/confirmation", c2b_body(trans_id="WARM000004"))
    app.config["CALLBACK_IP_POLICY"] = "enforce"
    try:
        assert acme.hook("c2b/confirmation", c2b_body(trans_id="IP00000001")).status_code == 403
    finally:
        app.config["CALLBACK_IP_POLICY"] = "off"
    assert len(view_calls) == 1
    assert [r[0] for r in _payments(db_session)] == ["WARM000004"]


def test_other_callbacks_and_methods_never_take_the_fast_path(acme, view_calls):
    acme.hook("c2b/confirmation", c2b_body(trans_id="WARM000005"))
    token = acme.channel["callback_token"]
    assert acme.client.get(f"/hooks/{token}/c2b/confirmation").status_code == 405
    assert acme.hook("c2b/validation", c2b_body()).get_json()["ResultCode"] == "0"
    assert len(view_calls) == 0


def test_the_driver_level_insert_writes_what_sqlalchemy_would(acme, app, db_session):
    """db.driver.DriverInsert runs the model's INSERT on psycopg directly: the same row, defaults
    and conversions (enum, UTC, JSON, money) as SQLAlchemy's own execution of it."""
    from decimal import Decimal

    from loyalty.daraja.callbacks import parse_c2b
    from loyalty.db.driver import DriverInsert
    from loyalty.db.inserts import insert_ignore_statement
    from loyalty.extensions import db
    from loyalty.models import Payment

    payment = parse_c2b(c2b_body(amount="1234.56", trans_id="TEMPLATE01"))
    values = {"merchant_id": acme.merchant_id, "channel_id": acme.channel["id"],
              "source": "c2b", "trans_type": payment.trans_type, "trans_time": payment.trans_time,
              "amount": payment.amount, "bill_ref": payment.bill_ref, "msisdn": payment.msisdn,
              "msisdn_form": "hashed", "first_name": "Wanjiku", "middle_name": None,
              "last_name": "Otieno", "payload": {"TransAmount": "1234.56", "Nested": [1, "x"]}}
    keys = ("trans_id", *values)
    statement = insert_ignore_statement(Payment, keys, ("merchant_id", "trans_id"), None,
                                        "postgresql")
    connection = db.session.connection()
    by_sqlalchemy = connection.execute(statement, {"trans_id": "BYSQLA0001", **values}).scalar()
    writer = DriverInsert(statement, keys, connection.dialect)
    by_driver = writer.execute(connection.connection.driver_connection,
                               {"trans_id": "BYDRIVER01", **values})
    assert writer.execute(connection.connection.driver_connection,
                          {"trans_id": "BYDRIVER01", **values}) is None  # a duplicate
    rows = db_session.execute(sa.text(
        "SELECT * FROM payments WHERE id IN (:a, :b) ORDER BY id"),
        {"a": by_sqlalchemy, "b": by_driver}).mappings().all()
    first, second = ({k: v for k, v in row.items() if k not in ("id", "trans_id")} for row in rows)
    assert abs((first.pop("created_at") - second.pop("created_at")).total_seconds()) < 5
    assert abs((first.pop("updated_at") - second.pop("updated_at")).total_seconds()) < 5
    assert first == second
    assert second["amount"] == Decimal("1234.56") and second["status"] == "received"
    assert second["payload"] == {"TransAmount": "1234.56", "Nested": [1, "x"]}
    assert second["trans_time"].utcoffset().total_seconds() == 0
