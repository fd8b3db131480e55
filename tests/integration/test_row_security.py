"""Row-level security, the opt-in second line of tenancy: the policies ship inert, and with
DB_ROW_SECURITY=on and `flask row-security on` they hold, on a database owned by an
ordinary role (as in production: PostgreSQL exempts superusers, which the rest of the
suite connects as).

The app here commits for real, on its own database (dropped at the end), so the callback's
autocommit insert and the SMS sender's statements run as they do in production."""

from __future__ import annotations

import logging
import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from loyalty.db import row_security
from loyalty.extensions import db
from loyalty.models import LoyaltyProgram
from loyalty.services import crediting, messages
from loyalty.tenancy import _tenant_tables, all_merchants, tenant_context
from loyalty.unit_of_work import unit_of_work
from tests import services
from tests.conftest import PG_ADMIN_URL, _built_apps, auth, make_test_app, register_merchant
from tests.integration.conftest import c2b_body


@pytest.fixture(scope="module")
def owned(redis_prefix):
    """(admin URL, app URL) of a fresh database owned by a fresh ordinary role."""
    services.require_postgres(PG_ADMIN_URL)
    tag = uuid.uuid4().hex[:10]
    role, name = f"loyalty_rls_{tag}", f"loyalty_rls_{tag}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}" OWNER "{role}"'))
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield base + "/" + name, base.replace("//postgres@", f"//{role}@") + "/" + name
    for built in list(_built_apps):
        with built.app_context():
            if name in str(db.engine.url):
                db.engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :n"), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
    admin.dispose()


@pytest.fixture(scope="module")
def rls_app(owned, redis_prefix):
    """The app on that database as its owner, which migrates it, with row security turned
    on as an operator would: DB_ROW_SECURITY=on, then `flask row-security on` (tables owned
    by the app's role, held to the policies by FORCE ROW LEVEL SECURITY)."""
    app = make_test_app(owned[1], redis_prefix + "rls:", DB_ROW_SECURITY="on")
    with app.app_context():
        upgrade()
    result = app.test_cli_runner().invoke(args=["row-security", "on"])
    assert result.exit_code == 0, result.output
    assert f"Row security is on for {len(_tenant_tables())} tables." in result.output
    return app


@pytest.fixture
def admin(owned):
    """A superuser on the same database: sees every row, for the tests' own checks."""
    engine = sa.create_engine(owned[0])
    yield engine
    engine.dispose()


@pytest.fixture
def client(rls_app, recorded_tasks):
    with rls_app.app_context():
        yield rls_app.test_client()


def _merchant(client) -> tuple[int, str]:
    _, key = register_merchant(client)
    return client.get("/api/v1/merchants/me", headers=auth(key)).get_json()["id"], key


def _rows(sql: str) -> list:
    return db.session.execute(sa.text(sql)).scalars().all()


def test_every_tenant_table_has_the_policy_and_is_held_to_it(client, admin):
    tenant_tables = sorted(table.name for table in _tenant_tables())
    with admin.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.qual "
            "FROM pg_class c LEFT JOIN pg_policies p ON p.tablename = c.relname "
            "WHERE c.relkind = 'r' AND c.relname = ANY(:names) ORDER BY c.relname"),
            {"names": tenant_tables}).all()
    assert [row.relname for row in rows] == tenant_tables
    assert all(row.relrowsecurity and row.relforcerowsecurity for row in rows)
    assert all("app.merchant_id" in row.qual and "app.all_merchants" in row.qual for row in rows)


def test_a_statement_that_forgot_its_merchant_sees_only_that_merchants_rows(client):
    (first, _), (second, _) = _merchant(client), _merchant(client)
    with tenant_context(first):
        assert set(_rows("SELECT merchant_id FROM api_keys")) == {first}
        assert set(_rows("SELECT merchant_id FROM loyalty_programs")) == {first}
        db.session.rollback()
    with all_merchants():
        assert {first, second} <= set(_rows("SELECT merchant_id FROM api_keys"))
        db.session.rollback()
    assert _rows("SELECT merchant_id FROM api_keys") == []  # no merchant: nothing at all
    db.session.rollback()


def test_no_merchant_can_write_another_merchants_rows(client, admin):
    (first, _), (second, _) = _merchant(client), _merchant(client)
    with tenant_context(first):
        changed = db.session.execute(sa.text(
            "UPDATE loyalty_programs SET name = 'taken over' WHERE merchant_id = :m"),
            {"m": second}).rowcount
        assert changed == 0
        with pytest.raises(sa.exc.DBAPIError, match="row-level security"):
            db.session.execute(sa.text(
                "INSERT INTO api_keys (merchant_id, name, key_hash, prefix, created_at, "
                "updated_at) VALUES (:m, 'planted', :h, 'mpl_x', now(), now())"),
                {"m": second, "h": uuid.uuid4().hex})
        db.session.rollback()
    with admin.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM loyalty_programs WHERE merchant_id = :m"),
                             {"m": second}).scalars().all()
        keys = conn.execute(sa.text("SELECT name FROM api_keys WHERE merchant_id = :m"),
                            {"m": second}).scalars().all()
    assert names == ["Loyalty"] and keys == ["Default key"]


def _active_channel(client, admin, key, **body) -> tuple[int, str]:
    """A channel made active behind the API's back (verification is not what is tested):
    its id and callback token."""
    created = client.post("/api/v1/mpesa-channels", headers=auth(key), json={
        "name": "Main", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "k", "consumer_secret": "s", "account_mapping": {"default": "loyalty"},
        **body})
    assert created.status_code == 201, created.get_json()
    channel_id = created.get_json()["id"]
    with admin.begin() as conn:
        token = conn.execute(sa.text(
            "UPDATE mpesa_channels SET status='active', is_active=true, verification_state='done',"
            " urls_state='done' WHERE id = :id RETURNING callback_token"),
            {"id": channel_id}).scalar()
    return channel_id, token


def test_a_payment_is_stored_credited_and_texted_under_row_security(client, admin):
    merchant_id, key = _merchant(client)
    _, token = _active_channel(client, admin, key)
    customer = client.post("/api/v1/customers", headers=auth(key),
                           json={"phone": "0712345678", "first_name": "John"})
    assert customer.status_code == 201, customer.get_json()
    trans_id = "RLS" + uuid.uuid4().hex[:7].upper()
    answer = client.post(f"/hooks/{token}/c2b/confirmation", json=c2b_body(
        trans_id=trans_id, msisdn="254712345678"))
    assert answer.status_code == 200 and answer.get_json()["ResultCode"] == 0
    assert crediting.credit_waiting() >= 1  # the batch, across merchants
    with tenant_context(merchant_id):
        queued = _rows("SELECT id FROM sms_messages WHERE status = 'queued'")
        db.session.rollback()
    messages.send_batch([(merchant_id, message_id) for message_id in queued])
    with admin.connect() as conn:
        payment = conn.execute(sa.text("SELECT status, points FROM payments WHERE trans_id = :t"),
                               {"t": trans_id}).one()
        texts = conn.execute(sa.text("SELECT status FROM sms_messages WHERE merchant_id = :m"),
                             {"m": merchant_id}).scalars().all()
    assert tuple(payment) == ("credited", 50)
    assert texts == ["sent"]
    listed = client.get("/api/v1/transactions", headers=auth(key)).get_json()
    assert [p["trans_id"] for p in listed["items"]] == [trans_id]


def test_an_api_key_is_found_and_marked_used_under_row_security(client, admin):
    merchant_id, key = _merchant(client)
    with admin.connect() as conn:
        used = conn.execute(sa.text("SELECT last_used_at FROM api_keys WHERE merchant_id = :m"),
                            {"m": merchant_id}).scalar()
    assert used is not None


def test_the_policies_ship_inert_and_the_switch_needs_the_setting_first(app, rls_app):
    tenant_tables = sorted(table.name for table in _tenant_tables())
    with app.app_context(), db.engine.connect() as connection:  # the suite's default database
        assert row_security.tables(connection) == dict.fromkeys(tenant_tables, False)
        assert row_security.enforcing(db.engine) is False  # DB_ROW_SECURITY is off by default
    refused = app.test_cli_runner().invoke(args=["row-security", "on"])
    assert refused.exit_code != 0 and "Set DB_ROW_SECURITY=on on every process" in refused.output
    status = rls_app.test_cli_runner().invoke(args=["row-security", "status"])
    assert "payments: on" in status.output and "DB_ROW_SECURITY here: on" in status.output


def test_a_role_the_policies_do_not_hold_is_named_once(app, caplog, monkeypatch):
    monkeypatch.setattr(row_security, "_warned", False)
    with app.app_context(), caplog.at_level(logging.WARNING):
        raw = db.engine.raw_connection()
        try:
            row_security._check_role(raw.driver_connection, None)
        finally:
            raw.close()
    assert "does not apply to the database role postgres" in caplog.text


def test_a_change_made_as_a_merchant_is_written_as_that_merchant(client, admin):
    merchant_id, _ = _merchant(client)
    with unit_of_work():  # commits after the tenant context has ended
        with tenant_context(merchant_id):
            program = db.session.scalar(sa.select(LoyaltyProgram))
            program.name = "Renamed"
    with admin.connect() as conn:
        names = conn.execute(sa.text("SELECT name FROM loyalty_programs WHERE merchant_id = :m"),
                             {"m": merchant_id}).scalars().all()
    assert names == ["Renamed"]


def test_one_batch_credits_two_merchants_each_as_its_own(client, admin):
    """The batch reads channels, programs and allowances for several merchants at once:
    across merchants, each row still naming its own (Statement.running_as)."""
    shops = [_merchant(client) for _ in range(2)]
    tokens = [_active_channel(client, admin, key)[1] for _, key in shops]
    receipts = []
    for n, token in enumerate(tokens):
        receipts.append(f"RLS{n}{uuid.uuid4().hex[:6].upper()}")
        assert client.post(f"/hooks/{token}/c2b/confirmation", json=c2b_body(
            trans_id=receipts[-1], amount=f"{(n + 1) * 1000}.00")).status_code == 200
    assert crediting.credit_waiting() >= 2
    with admin.connect() as conn:
        credited = conn.execute(sa.text(
            "SELECT p.merchant_id, p.status, p.points, b.points AS balance FROM payments p "
            "JOIN balances b ON b.customer_id = p.customer_id AND b.merchant_id = p.merchant_id "
            "WHERE p.trans_id = ANY(:t) ORDER BY p.trans_id"), {"t": receipts}).all()
    assert [tuple(row) for row in credited] == [
        (shops[0][0], "credited", 10, 10), (shops[1][0], "credited", 20, 20)]


def test_an_stk_callback_settles_its_push_and_is_credited(client, admin):
    merchant_id, key = _merchant(client)
    channel_id, token = _active_channel(client, admin, key, passkey="a" * 64)
    pushed = client.post(f"/api/v1/mpesa-channels/{channel_id}/stk-push", headers=auth(key),
                         json={"phone": "0712345678", "amount": "300"})
    assert pushed.status_code == 202, pushed.get_json()
    request_id, receipt = pushed.get_json()["id"], "STK" + uuid.uuid4().hex[:7].upper()
    callback = {"Body": {"stkCallback": {
        "MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_" + receipt, "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": 300}, {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "PhoneNumber", "Value": 254712345678}]}}}}
    # The request was changed as its merchant; the change must be written as it too.
    answer = client.post(f"/hooks/{token}/stk/{request_id}", json=callback)
    assert answer.status_code == 200, answer.get_json()
    assert crediting.credit_waiting() >= 1
    shown = client.get(f"/api/v1/payment-requests/{request_id}", headers=auth(key)).get_json()
    assert (shown["status"], shown["receipt"]) == ("succeeded", receipt)
    with admin.connect() as conn:
        payment = conn.execute(sa.text("SELECT id, status, points FROM payments "
                                       "WHERE trans_id = :t"), {"t": receipt}).one()
    assert (payment.id, payment.status, payment.points) == (shown["payment_id"], "credited", 3)


def test_a_production_number_taken_by_another_merchant_is_409(client):
    """The check runs across merchants inside the caller's request; the changed channel
    must not be written when that check ends, or the database's own constraint answers
    first (a 500)."""
    (_, first), (_, second) = _merchant(client), _merchant(client)
    store = str(700000 + uuid.uuid4().int % 99999)

    def till(shortcode, store_number):
        return {"name": "Till", "shortcode": shortcode, "channel_type": "till",
                "environment": "production", "store_number": store_number,
                "consumer_key": "k", "consumer_secret": "s"}

    taken = str(int(store) + 1)
    assert client.post("/api/v1/mpesa-channels", headers=auth(first),
                       json=till(taken, store)).status_code == 201
    mine = client.post("/api/v1/mpesa-channels", headers=auth(second),
                       json=till(str(int(store) + 2), str(int(store) + 3)))
    assert mine.status_code == 201, mine.get_json()
    refused = client.patch(f"/api/v1/mpesa-channels/{mine.get_json()['id']}",
                           headers=auth(second), json={"store_number": store})
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"]["code"] == "shortcode_taken"
