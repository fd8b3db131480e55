"""Shared setup for payment tests: a merchant with programs and an active channel."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import redis
import responses
import sqlalchemy as sa
from flask_migrate import upgrade
from werkzeug.serving import make_server

from loyalty import background
from loyalty.extensions import db
from loyalty.phones import hash_msisdn
from loyalty.services.ingest import forget_routes
from loyalty.tenancy import all_merchants
from tests import processes
from tests.conftest import REDIS_URL, auth, make_test_app, register_merchant

JOHN = "254712345678"
EAT = timezone(timedelta(hours=3))


def trans_time(moment: datetime | None = None) -> str:
    """Daraja's TransTime (Nairobi wall clock) for now, or for a given moment.

    Payments default to "now" so that pages counting "today" or "this week" see them on
    whatever day the suite runs; tests about a particular day pass their own TransTime.
    """
    return (moment or datetime.now(timezone.utc)).astimezone(EAT).strftime("%Y%m%d%H%M%S")


@dataclass
class Shop:
    merchant_id: int
    key: str
    channel: dict
    client: object

    def api(self, method: str, path: str, **kwargs):
        return self.client.open(f"/api/v1{path}", method=method, headers=auth(self.key), **kwargs)

    def hook(self, path: str, body, token: str | None = None):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.client.post(f"/hooks/{token or self.channel['callback_token']}/{path}",
                                data=data, content_type="application/json")


def pending_push(db_session, shop, phone: str, *, amount: int = 100, reference: str = "VIP7",
                 checkout: str | None = "ws_CO_1") -> int:
    """A pending STK push on `shop`'s channel, as a push leaves it while Safaricom's result
    is awaited (`checkout` None: the push timed out before Daraja named it); its id."""
    return db_session.execute(sa.text(
        "INSERT INTO payment_requests (merchant_id, channel_id, phone, amount, account_reference, "
        "checkout_request_id, status, created_at, updated_at) VALUES (:m, :c, :p, :a, :r, :k, "
        "'pending', now(), now()) RETURNING id"),
        {"m": shop.merchant_id, "c": shop.channel["id"], "p": phone, "a": amount, "r": reference,
         "k": checkout}).scalar()


def c2b_body(shortcode="174379", trans_id="RKTQDM7W6S", amount="5000.00", bill_ref="VIP001",
             msisdn=None, first_name="John", **extra):
    body = {"TransactionType": "Pay Bill", "TransID": trans_id, "TransTime": trans_time(),
            "TransAmount": amount, "BusinessShortCode": shortcode, "BillRefNumber": bill_ref,
            "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "",
            "MSISDN": msisdn if msisdn is not None else hash_msisdn(JOHN),
            "FirstName": first_name, "MiddleName": "", "LastName": "Doe"}
    body.update(extra)
    return body


def make_shop(client, db_session, *, business_name="Acme Electronics", channel_type="paybill",
              shortcode="174379", mapping=None, programs=()) -> Shop:
    _, key = register_merchant(client, business_name=business_name)
    shop = Shop(merchant_id=0, key=key, channel={}, client=client)
    shop.merchant_id = shop.api("GET", "/merchants/me").get_json()["id"]
    for program in programs:
        assert shop.api("POST", "/programs", json=program).status_code == 201
    body = {"name": "Main", "shortcode": shortcode, "channel_type": channel_type,
            "consumer_key": "demo-consumer-key", "consumer_secret": "demo-consumer-secret",
            "account_mapping": mapping if mapping is not None else {"default": "loyalty"}}
    if channel_type != "paybill":
        body["store_number"] = "600111"
    created = shop.api("POST", "/mpesa-channels", json=body)
    assert created.status_code == 201, created.get_json()
    channel_id = created.get_json()["id"]
    with all_merchants():  # the test's own shortcut past verification (row security too)
        db_session.execute(sa.text(
            "UPDATE mpesa_channels SET status='active', is_active=true, verification_state='done', "
            "urls_state='done' WHERE id = :id"), {"id": channel_id})
        token = db_session.execute(sa.text(
            "SELECT callback_token FROM mpesa_channels WHERE id = :id"), {"id": channel_id}).scalar()
    shop.channel = {**created.get_json(), "callback_token": token}
    forget_routes()
    return shop


VIP = {"code": "vip", "name": "VIP", "multiplier": "2"}
DELIVERY = {"code": "delivery", "name": "Delivery", "points_per_unit": 0, "stamps_required": 5,
            "stamp_reward": "free delivery"}


@pytest.fixture
def acme(client, db_session):
    return make_shop(client, db_session, programs=[VIP],
                     mapping={"default": "loyalty", "VIP*": "vip"})


@pytest.fixture
def broker(app, redis_prefix):
    """Read the queues the app publishes to (Redis lists under this run's prefix), emptied
    when the test starts: `broker(queue)` takes the messages published since."""
    client = redis.Redis.from_url(REDIS_URL)
    prefix = app.config["REDIS_KEY_PREFIX"] + "celery:"

    def drain(queue: str) -> list[dict]:
        messages = []
        while (raw := client.rpop(prefix + queue)) is not None:
            messages.append(json.loads(raw))
        return messages

    for queue in background.QUEUES:
        drain(queue)
    return drain


def published(messages: list[dict]) -> list[tuple[str, list]]:
    """(task name, args) of each message read from the broker."""
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


@pytest.fixture
def open_sandbox(app, monkeypatch):
    """SANDBOX_SMS_POLICY=open with room to spare, as `make run` and the e2e stack run: a
    sandbox channel texts whoever pays it (hashed payers included), for tests about the
    texts themselves rather than about whom a sandbox may text (test_sms_relay.py)."""
    monkeypatch.setitem(app.config, "SANDBOX_SMS_POLICY", "open")
    monkeypatch.setitem(app.config, "SMS_DAILY_QUOTA_SANDBOX", 10_000)


AT = "https://sms.gateway.test"
SENT = {"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: KES 0.8000", "Recipients": [
    {"statusCode": 101, "number": "+254712345678", "cost": "KES 0.8000", "status": "Success",
     "messageId": "ATXid_1"}]}}


@pytest.fixture
def gateway(app):
    """Africa's Talking as the SMS backend, mocked at the HTTP edge."""
    saved = {k: app.config[k] for k in ("SMS_BACKEND", "AT_USERNAME", "AT_API_KEY", "AT_BASE_URL")}
    app.config.update(SMS_BACKEND="africastalking", AT_USERNAME="acme", AT_API_KEY="at-secret-key",
                      AT_BASE_URL=AT)
    app.extensions.pop("sms_backend", None)
    with responses.RequestsMock() as mock:
        yield mock
    app.config.update(saved)
    app.extensions.pop("sms_backend", None)


@pytest.fixture
def live(scratch_database, redis_prefix):
    """An app on its own committed database (for tests of concurrency: each thread commits)
    with an active VIP channel: (app, callback token, API key)."""
    app = make_test_app(scratch_database, redis_prefix, REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        upgrade()
    client = app.test_client()
    _, key = register_merchant(client)
    client.post("/api/v1/programs", headers=auth(key), json=VIP)
    client.post("/api/v1/mpesa-channels", headers=auth(key), json={
        "name": "Main", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "k", "consumer_secret": "s",
        "account_mapping": {"default": "loyalty", "VIP*": "vip"}})
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true"))
        token = conn.execute(sa.text("SELECT callback_token FROM mpesa_channels")).scalar()
    forget_routes()
    return app, token, key


@pytest.fixture
def emulator_prefix(redis_prefix):
    """The Redis prefix the emulator keeps its state under; a test module that wants its own
    inbox and queues overrides this fixture."""
    return redis_prefix


@pytest.fixture
def emulator_url(database_url, emulator_prefix):
    """The local Daraja + SMS emulator served over real HTTP in a thread, for a real worker
    process to call: its base URL."""
    app = make_test_app(database_url, emulator_prefix, DARAJA_EMULATOR=True)
    server = make_server("127.0.0.1", processes.free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
