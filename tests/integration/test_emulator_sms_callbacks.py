"""The emulator plays Africa's Talking's side of the callbacks: a text it accepted is
reported delivered (or failed, with its switch), and a customer's STOP typed on the
emulator's page reaches the platform and ends that customer's texts."""

import threading

import pytest
import requests
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.serving import make_server

from loyalty.extensions import db
from loyalty.services import crediting, messages
from loyalty.tenancy import tenant_context
from tests import processes
from tests.conftest import auth, make_test_app
from tests.integration.conftest import JOHN, VIP, c2b_body
from tests.integration.test_seed_cases_with_worker import _shop

TOKEN = "sms-callback-secret-0123456789"


@pytest.fixture
def served(scratch_database, redis_prefix):
    """The platform with the emulator mounted, served over HTTP as `make run` serves it:
    the SMS client talks to the emulator, and the emulator's callbacks reach the hooks."""
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    # A Redis prefix of its own: the emulator's inbox and switches live there, and other
    # tests' emulators (the same run's prefix) must not find this test's texts to John.
    app = make_test_app(scratch_database, f"{redis_prefix}sms-callbacks:", DARAJA_EMULATOR=True,
                        SMS_BACKEND="africastalking", AT_USERNAME="acme", AT_API_KEY="k",
                        AT_BASE_URL=f"{base}/_emulator/sms", SMS_CALLBACK_TOKEN=TOKEN,
                        CALLBACK_BASE_URL=base, SANDBOX_SMS_POLICY="open")
    with app.app_context():
        upgrade()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    requests.post(f"{base}/_emulator/control/settings", json={"sms_delivery_delay": 0.2},
                  timeout=5).raise_for_status()
    yield app, base
    server.shutdown()
    thread.join(5)


def _shop_with_john(app):
    client = app.test_client()
    key, token = _shop(client, app, "Acme Electronics", [VIP], {"default": "loyalty", "VIP*": "vip"})
    customer = client.post("/api/v1/customers", headers=auth(key),
                           json={"phone": JOHN, "first_name": "John"}).get_json()
    merchant_id = client.get("/api/v1/merchants/me", headers=auth(key)).get_json()["id"]
    return client, key, token, merchant_id, customer["id"]


def _pay_and_send(app, client, token, merchant_id, trans_id):
    """John pays; his receipt goes out through the emulator's Africa's Talking."""
    assert client.post(f"/hooks/{token}/c2b/confirmation",
                       json=c2b_body(trans_id=trans_id)).status_code == 200
    with app.app_context():
        crediting.credit_waiting()
        with db.engine.connect() as conn:
            message_id = conn.execute(sa.text("SELECT max(id) FROM sms_messages")).scalar()
        with tenant_context(merchant_id):
            messages.send_message(message_id)
    return message_id


def _status(app, message_id):
    with app.app_context(), db.engine.connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT status, failure_reason FROM sms_messages WHERE id = :i"),
            {"i": message_id}).one())


def test_a_text_sent_through_the_emulator_is_reported_delivered_or_failed(served):
    app, base = served
    client, key, token, merchant_id, customer_id = _shop_with_john(app)

    delivered = _pay_and_send(app, client, token, merchant_id, "RKTQDM7W61")
    processes.wait_until(lambda: _status(app, delivered)[0] == "delivered", timeout=15,
                         message="the delivery report")

    requests.post(f"{base}/_emulator/control/settings", json={"sms_delivery": "failed"},
                  timeout=5).raise_for_status()
    failed = _pay_and_send(app, client, token, merchant_id, "RKTQDM7W62")
    processes.wait_until(lambda: _status(app, failed)[0] == "failed", timeout=15,
                         message="the failed delivery report")
    assert _status(app, failed) == ("failed", "DeliveryFailure")

    shown = client.get(f"/api/v1/customers/{customer_id}/messages",
                       headers=auth(key)).get_json()["items"]
    assert [(m["status"], m["failure_reason"]) for m in shown] == [
        ("failed", "DeliveryFailure"), ("delivered", None)]
    # The emulator's page lists the reports without the callback URL's secret.
    page = requests.get(f"{base}/_emulator/", timeout=5).text
    assert "sms_delivery" in page and TOKEN not in page


def test_a_stop_typed_on_the_emulator_page_opts_the_customer_out(served):
    app, base = served
    client, key, token, merchant_id, customer_id = _shop_with_john(app)
    bad = requests.post(f"{base}/_emulator/sms-inbound",
                        data={"sms_from": "12", "sms_text": "STOP"}, timeout=5)
    assert bad.status_code == 400 and "Not sent" in bad.text

    sent = requests.post(f"{base}/_emulator/sms-inbound",
                         data={"sms_from": "0712 345 678", "sms_text": "STOP"}, timeout=5)
    assert sent.status_code == 200 and "Sent <code>STOP</code>" in sent.text  # after the 303

    def opted_out():
        return client.get(f"/api/v1/customers/{customer_id}",
                          headers=auth(key)).get_json()["sms_opt_out"]
    processes.wait_until(opted_out, timeout=15, message="the STOP to reach the platform")
    history = client.get(f"/api/v1/customers/{customer_id}",
                         headers=auth(key)).get_json()["consent_history"]
    assert [(e["source"], e["kind"], e["value"]) for e in history] == [
        ("sms", "sms_opt_out", True)]


def test_stop_with_a_keyword_from_the_emulator_ends_that_merchants_texts_only(served):
    app, base = served
    client, key, token, merchant_id, customer_id = _shop_with_john(app)
    mboga_key, mboga_token = _shop(client, app, "Mama Mboga", [], {"default": "loyalty"},
                                   shortcode="600000")
    assert client.patch("/api/v1/merchants/me", headers=auth(mboga_key),
                        json={"sms_keyword": "mboga"}).status_code == 200
    theirs = client.post("/api/v1/customers", headers=auth(mboga_key),
                         json={"phone": JOHN, "first_name": "John"}).get_json()["id"]

    sent = requests.post(f"{base}/_emulator/sms-inbound",
                         data={"sms_from": "0712 345 678", "sms_text": "STOP MBOGA"}, timeout=5)
    assert sent.status_code == 200

    johns = {"acme": (key, customer_id), "mboga": (mboga_key, theirs)}

    def opted_out(shop):  # by name: a failing assert must not print an API key
        api_key, customer = johns[shop]
        return client.get(f"/api/v1/customers/{customer}",
                          headers=auth(api_key)).get_json()["sms_opt_out"]
    processes.wait_until(lambda: opted_out("mboga"), timeout=15,
                         message="the STOP MBOGA to reach the platform")
    assert opted_out("acme") is False
    # John's next receipt from Mama Mboga is not sent; Acme's still is.
    assert client.post(f"/hooks/{mboga_token}/c2b/confirmation", json=c2b_body(
        shortcode="600000", trans_id="RKTQDM7W63", bill_ref="")).status_code == 200
    acme_text = _pay_and_send(app, client, token, merchant_id, "RKTQDM7W64")  # credits both
    with app.app_context(), db.engine.connect() as conn:
        mboga_text = conn.execute(sa.text(
            "SELECT status, reason FROM sms_messages WHERE customer_id = :c"),
            {"c": theirs}).one()
    assert tuple(mboga_text) == ("skipped", "opted_out")
    assert _status(app, acme_text)[0] in ("sent", "delivered")
