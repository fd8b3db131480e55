"""Verify and register-urls through a real Celery worker on Redis, with the local emulator
playing Safaricom over real HTTP."""

import pytest
from flask_migrate import upgrade

from tests import processes
from tests.conftest import REDIS_URL, auth, make_test_app, register_merchant


@pytest.fixture
def stack(scratch_database, redis_prefix, emulator_url, tmp_path):
    daraja = f"{emulator_url}/_emulator/daraja"
    settings = {"DARAJA_SANDBOX_URL": daraja, "PUBLIC_BASE_URL": emulator_url}
    app = make_test_app(scratch_database, redis_prefix, **settings)
    with app.app_context():
        upgrade()
    env = processes.app_environment(scratch_database, REDIS_URL, redis_prefix, **settings)
    with processes.running("worker", processes.celery_worker_args(queues="daraja,default"),
                           env, tmp_path) as worker:
        yield app, worker


def test_onboarding_steps_run_in_the_worker(stack):
    app, worker = stack
    client = app.test_client()
    _, key = register_merchant(client)
    channel = client.post("/api/v1/mpesa-channels", headers=auth(key), json={
        "name": "Main PayBill", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "demo-consumer-key", "consumer_secret": "demo-consumer-secret",
        "passkey": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"}).get_json()
    url = f"/api/v1/mpesa-channels/{channel['id']}"

    started = client.post(f"{url}/verify", headers=auth(key))
    assert started.status_code == 202
    verified = processes.wait_until(
        lambda: (lambda c: c if c["verification"]["state"] != "pending" else None)(
            client.get(url, headers=auth(key)).get_json()),
        timeout=60, message="the worker to verify the channel\n" + worker.log())
    assert verified["verification"]["state"] == "verified", worker.log()
    assert verified["status"] == "verified"

    registered = client.post(f"{url}/register-urls?wait=10", headers=auth(key), json={})
    assert registered.status_code == 200, worker.log()
    body = registered.get_json()
    assert body["registered"] is True, body
    assert body["urls"]["confirmation_url"] == channel["callback_urls"]["confirmation_url"]

    active = client.post(f"{url}/activate", headers=auth(key))
    assert active.status_code == 200 and active.get_json()["status"] == "active"


def test_wrong_credentials_end_failed_in_the_worker(stack):
    app, worker = stack
    client = app.test_client()
    _, key = register_merchant(client)
    channel = client.post("/api/v1/mpesa-channels", headers=auth(key), json={
        "name": "Typo", "shortcode": "174379", "channel_type": "paybill",
        "consumer_key": "demo-consumer-key", "consumer_secret": "not-the-secret"}).get_json()
    answer = client.post(f"/api/v1/mpesa-channels/{channel['id']}/verify?wait=10", headers=auth(key))
    assert answer.status_code == 200, worker.log()
    body = answer.get_json()
    assert body["verified"] is False and body["status"] == "configured"
    # The reason is the channel's, as every error: {code, message}, never a bare string.
    assert "error" not in body
    error = body["channel"]["verification"]["error"]
    assert error["code"] == "bad_credentials"
    assert "refused the consumer key and secret" in error["message"]

