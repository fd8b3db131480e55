"""`flask emulator serve` as a real process on its own port: a Daraja SDK that joins URLs
with `urljoin` (and so drops any base path) talks to it with Safaricom's own paths, the
platform pointed at it with DARAJA_SANDBOX_URL verifies a channel and registers its URLs,
and with AT_BASE_URL a receipt reaches its inbox from the merchant's approved sender ID."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urljoin

import pytest
import requests
import sqlalchemy as sa
from flask_migrate import upgrade

from loyalty.extensions import db
from loyalty.services import channel_setup, crediting, messages
from loyalty.tenancy import tenant_context
from tests import processes
from tests.conftest import REDIS_URL, auth, make_test_app, register_merchant
from tests.e2e.stack import DEMO_KEY, DEMO_SECRET, EAT, SANDBOX_PASSKEY, SHORTCODE
from tests.integration.conftest import JOHN, c2b_body, make_shop
from tests.unit.emulator.conftest import Receiver

pytestmark = pytest.mark.e2e

PHONE = "254708374149"


@pytest.fixture
def emulator(scratch_database, redis_prefix, tmp_path) -> Iterator[str]:
    """The standalone emulator's base URL (no path, like Safaricom's host)."""
    port = processes.free_port()
    env = processes.app_environment(scratch_database, REDIS_URL,
                                    f"{redis_prefix}solo-{uuid.uuid4().hex[:6]}:")
    args = [str(processes.BIN / "flask"), "--app", "wsgi", "emulator", "serve",
            "--port", str(port)]
    with processes.running("emulator", args, env, tmp_path) as process:
        base = f"http://127.0.0.1:{port}"
        processes.wait_for_http(base + "/healthz", process)
        assert f"DARAJA_SANDBOX_URL={base}" in processes.read_log(process)
        yield base


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _token(base: str) -> str:
    basic = base64.b64encode(f"{DEMO_KEY}:{DEMO_SECRET}".encode()).decode()
    # What an SDK does with a base URL: urljoin, which keeps only scheme and host.
    answer = requests.get(urljoin(base + "/some/prefix/", "/oauth/v1/generate"),
                          params={"grant_type": "client_credentials"},
                          headers={"Authorization": f"Basic {basic}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] == "3599"
    return answer.json()["access_token"]


def test_an_sdk_pays_and_pushes_with_safaricoms_paths_at_the_root(emulator, receiver):
    headers = {"Authorization": f"Bearer {_token(emulator)}"}
    registered = requests.post(urljoin(emulator, "/mpesa/c2b/v1/registerurl"), headers=headers,
                               timeout=10, json={
                                   "ShortCode": "600000", "ResponseType": "Completed",
                                   "ConfirmationURL": f"{receiver.url}/confirm",
                                   "ValidationURL": f"{receiver.url}/validate"})
    assert registered.json() == {**registered.json(), "ResponseCode": "0",
                                 "ResponseDescription": "Success"}
    # As strict as Safaricom: a forbidden word is refused here as it is when mounted.
    refused = requests.post(urljoin(emulator, "/mpesa/c2b/v1/registerurl"), headers=headers,
                            timeout=10, json={"ShortCode": "600000", "ResponseType": "Completed",
                                              "ConfirmationURL": f"{receiver.url}/mpesa/confirm",
                                              "ValidationURL": f"{receiver.url}/validate"})
    assert refused.status_code == 400 and refused.json()["errorCode"] == "400.003.02"

    simulated = requests.post(urljoin(emulator, "/mpesa/c2b/v1/simulate"), headers=headers,
                              timeout=10, json={"ShortCode": 600000, "Amount": 5000,
                                                "CommandID": "CustomerPayBillOnline",
                                                "Msisdn": int(PHONE), "BillRefNumber": "VIP001"})
    assert simulated.status_code == 200, simulated.text
    [confirmation] = receiver.wait("/confirm")
    assert confirmation["TransAmount"] == "5000.00" and confirmation["BillRefNumber"] == "VIP001"

    stamp = datetime.now(EAT).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"{SHORTCODE}{SANDBOX_PASSKEY}{stamp}".encode()).decode()
    pushed = requests.post(urljoin(emulator, "/mpesa/stkpush/v1/processrequest"),
                           headers=headers, timeout=10, json={
                               "BusinessShortCode": SHORTCODE, "Password": password,
                               "Timestamp": stamp, "TransactionType": "CustomerPayBillOnline",
                               "Amount": 100, "PartyA": PHONE, "PartyB": SHORTCODE,
                               "PhoneNumber": PHONE, "CallBackURL": f"{receiver.url}/stk",
                               "AccountReference": "VIP001", "TransactionDesc": "Points"})
    assert pushed.status_code == 200 and pushed.json()["ResponseCode"] == "0", pushed.text
    [result] = receiver.wait("/stk")
    callback = result["Body"]["stkCallback"]
    assert callback["ResultCode"] == 0
    assert callback["CheckoutRequestID"] == pushed.json()["CheckoutRequestID"]
    # The prefixed path is not Safaricom's: the standalone emulator does not serve it.
    assert requests.post(emulator + "/_emulator/daraja/mpesa/c2b/v1/registerurl",
                         headers=headers, json={}, timeout=10).status_code == 404


def test_the_platform_verifies_and_registers_a_channel_against_it(
        emulator, scratch_database, redis_prefix, monkeypatch):
    # Tasks run here, in the test, as the worker would run them.
    monkeypatch.setattr("loyalty.background.publish", lambda *args, **kwargs: True)
    # Its own Redis prefix: the token it caches for the demo app must not serve other tests.
    app = make_test_app(scratch_database, f"{redis_prefix}solo-app-{uuid.uuid4().hex[:6]}:",
                        DARAJA_SANDBOX_URL=emulator, PUBLIC_BASE_URL="http://127.0.0.1:9")
    with app.app_context():
        upgrade()
        client = app.test_client()
        merchant, key = register_merchant(client)
        channel = client.post("/api/v1/mpesa-channels", headers=auth(key), json={
            "name": "Main PayBill", "shortcode": SHORTCODE, "channel_type": "paybill",
            "consumer_key": DEMO_KEY, "consumer_secret": DEMO_SECRET,
            "passkey": SANDBOX_PASSKEY}).get_json()
        assert client.post(f"/api/v1/mpesa-channels/{channel['id']}/verify",
                           headers=auth(key)).status_code == 202
        with tenant_context(merchant["id"]):
            channel_setup.verify_channel(channel["id"])
        assert client.post(f"/api/v1/mpesa-channels/{channel['id']}/register-urls",
                           headers=auth(key), json={}).status_code == 202
        with tenant_context(merchant["id"]):
            channel_setup.register_urls(channel["id"])
        shown = client.get(f"/api/v1/mpesa-channels/{channel['id']}", headers=auth(key)).get_json()
        assert shown["verification"]["state"] == "verified"
        assert shown["urls"]["state"] == "registered", shown["urls"]
        # Both steps done: the channel went live on its own (auto_activate is the default).
        assert shown["status"] == "active"
    registration = requests.get(emulator + "/_emulator/state", timeout=10).json()[
        "registrations"][SHORTCODE]
    assert registration["ConfirmationURL"] == shown["callback_urls"]["confirmation_url"]
    assert registration["ConfirmationURL"].startswith("http://127.0.0.1:9/hooks/")


def test_an_approved_sender_id_is_the_from_of_a_receipt_in_its_inbox(
        emulator, scratch_database, redis_prefix, monkeypatch):
    """Africa's Talking played by the emulator: a receipt goes out from the platform's
    sender while the merchant's name is pending, and from that name once the operator ran
    `flask sender-ids approve`."""
    monkeypatch.setattr("loyalty.background.publish", lambda *args, **kwargs: True)
    app = make_test_app(scratch_database, f"{redis_prefix}solo-at-{uuid.uuid4().hex[:6]}:",
                        SMS_BACKEND="africastalking", AT_BASE_URL=emulator,
                        AT_USERNAME="sandbox", AT_API_KEY="emulator-accepts-any-key",
                        AT_SENDER_ID=None, SANDBOX_SMS_POLICY="open")
    with app.app_context():
        upgrade()
        client = app.test_client()
        shop = make_shop(client, db.session)
        db.session.commit()  # the shortcut past verification, seen by the requests below
        assert shop.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"}
                        ).status_code == 201
        assert shop.api("PUT", "/merchants/me/sender-id", json={
            "sender_id": "ACME SHOP", "category": "transactional"}).status_code == 200

        def receipt(trans_id: str) -> dict:
            """Pay, credit and send as the workers would; the text the handset got."""
            assert shop.hook("c2b/confirmation", c2b_body(trans_id=trans_id, bill_ref="X1")
                             ).status_code == 200
            crediting.credit_waiting()
            sms_id = db.session.scalar(sa.text("SELECT max(id) FROM sms_messages"))
            db.session.commit()
            assert messages.send_batch([(shop.merchant_id, sms_id)]) == []
            inbox = requests.get(f"{emulator}/inbox", params={"to": JOHN}, timeout=10).json()
            return inbox[0]  # newest first

        pending = receipt("RKTQDM7W71")
        assert pending["to"] == f"+{JOHN}" and pending["sender"] == ""  # the platform's
        approved = app.test_cli_runner().invoke(args=["sender-ids", "approve",
                                                      str(shop.merchant_id)])
        assert approved.exit_code == 0, approved.output
        paid = receipt("RKTQDM7W72")
    assert paid["sender"] == "ACME SHOP"
    assert paid["message"] == "Hi John! You earned 50 Loyalty points. Total: 100 points."
