"""Auto-activation end to end: a real Celery worker on Redis verifies and registers the
channel against the local emulator over real HTTP, activates it by itself, and texts the
merchant's own phone through the outbox and the emulator's Africa's Talking."""

import uuid

import pytest
import requests
from flask_migrate import upgrade

from tests import processes
from tests.conftest import REDIS_URL, auth, make_test_app, register_merchant


@pytest.fixture
def prefix(redis_prefix):
    # Its own emulator state and queues: no other test reads this inbox or these tasks.
    return f"{redis_prefix}autoact-{uuid.uuid4().hex[:6]}:"


@pytest.fixture
def emulator_prefix(prefix):
    return prefix


def test_the_worker_activates_the_channel_and_texts_the_merchant(
        scratch_database, prefix, emulator_url, tmp_path):
    settings = {"DARAJA_SANDBOX_URL": f"{emulator_url}/_emulator/daraja",
                "PUBLIC_BASE_URL": emulator_url, "SMS_BACKEND": "africastalking",
                "AT_USERNAME": "acme", "AT_API_KEY": "k",
                "AT_BASE_URL": f"{emulator_url}/_emulator/sms"}
    app = make_test_app(scratch_database, prefix, **settings)
    with app.app_context():
        upgrade()
    client = app.test_client()
    phone = f"25471{uuid.uuid4().int % 10**7:07d}"
    _, key = register_merchant(client, phone=phone)
    channel = client.post("/api/v1/mpesa-channels", headers=auth(key), json={
        "name": "Main PayBill", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "demo-consumer-key", "consumer_secret": "demo-consumer-secret",
        "notify_by_sms": True}).get_json()
    url = f"/api/v1/mpesa-channels/{channel['id']}"

    def inbox():
        return requests.get(f"{emulator_url}/_emulator/sms/inbox", params={"to": phone},
                            timeout=5).json()

    env = processes.app_environment(scratch_database, REDIS_URL, prefix, **settings)
    with processes.running("worker", processes.celery_worker_args(queues="daraja,sms,default"),
                           env, tmp_path) as worker:
        verified = client.post(f"{url}/verify?wait=10", headers=auth(key))
        assert verified.status_code == 200, worker.log()
        assert verified.get_json()["verified"] is True
        # Not active yet: the URLs are not registered.
        assert client.get(url, headers=auth(key)).get_json()["is_active"] is False
        registered = client.post(f"{url}/register-urls?wait=10", headers=auth(key), json={})
        assert registered.status_code == 200 and registered.get_json()["registered"], worker.log()

        # No activate call: the worker that registered the URLs activated the channel.
        active = client.get(url, headers=auth(key)).get_json()
        assert active["status"] == "active" and active["is_active"] is True
        texts = processes.wait_until(inbox, timeout=30,
                                     message="the merchant's text\n" + worker.log())

    assert len(texts) == 1
    assert "Main PayBill (174379) is now active" in texts[0]["message"]
    events = client.get(f"{url}/events", headers=auth(key)).get_json()["items"]
    assert [(e["kind"], e["actor"]) for e in events] == [
        ("activated", "auto"), ("urls_registered", "system"), ("verified", "system"),
        ("created", "merchant")]
