"""The emulator on its own port (`flask emulator serve`): Safaricom's paths at the root,
the same checks as when mounted, and Safaricom's production URL rules in front of a
production-config platform."""

from __future__ import annotations

import uuid

import pytest

from loyalty.emulator import standalone
from tests.conftest import REDIS_URL
from tests.unit.emulator.conftest import add_app, basic, register
from tests.unit.emulator.test_stk import push_body

PUBLIC = "https://loyalty.example.com/hooks/ab12"


@pytest.fixture
def make_standalone(redis_prefix):
    built = []

    def build(**config):
        app = standalone.create_app({"REDIS_URL": REDIS_URL, "APP_ENV": "development",
                                     "REDIS_KEY_PREFIX": f"{redis_prefix}solo-{uuid.uuid4().hex[:6]}:",
                                     **config})
        built.append(app)
        return app.test_client()

    yield build
    for app in built:
        app.extensions["emulator"].close()


def root_bearer(client, **kwargs) -> dict[str, str]:
    answer = client.get("/oauth/v1/generate?grant_type=client_credentials", headers=basic(**kwargs))
    assert answer.status_code == 200, answer.data
    return {"Authorization": f"Bearer {answer.get_json()['access_token']}"}


def register_at_root(client, headers, base: str, shortcode: str = "600000"):
    return client.post("/mpesa/c2b/v1/registerurl", headers=headers, json={
        "ShortCode": shortcode, "ResponseType": "Completed",
        "ConfirmationURL": f"{base}/confirm", "ValidationURL": f"{base}/validate"})


def test_safaricoms_paths_answer_at_the_root_and_nothing_under_the_prefix(make_standalone):
    client = make_standalone()
    headers = root_bearer(client)
    assert register_at_root(client, headers, "http://127.0.0.1:9/hooks/ab12").get_json()[
        "ResponseDescription"] == "Success"
    # The mounted prefix is not served: a path Safaricom does not have is its 404.
    missing = client.post("/_emulator/daraja/mpesa/c2b/v1/registerurl", headers=headers, json={})
    assert missing.status_code == 404 and missing.get_json()["errorCode"] == "404.001.01"
    # A wrong method on a real path is Safaricom's 405, as when mounted.
    assert client.get("/mpesa/c2b/v1/registerurl").get_json()["errorCode"] == "405.001"
    # Africa's Talking at the root too; control and the page stay under /_emulator.
    sent = client.post("/version1/messaging", headers={"apiKey": "k"}, data={
        "username": "sandbox", "to": "+254708374149", "message": "Hello"})
    assert sent.status_code == 201
    assert [m["message"] for m in client.get("/inbox?to=0708374149").get_json()] == ["Hello"]
    assert "600000" in client.get("/_emulator/state").get_json()["registrations"]
    assert client.get("/_emulator/").status_code == 200
    assert client.get("/healthz").get_json()["emulator"] is True


def test_it_is_as_strict_as_the_mounted_one(make_standalone):
    client = make_standalone()
    headers = root_bearer(client)
    bad = register_at_root(client, headers, "https://cb.example.com/mpesa")
    assert bad.status_code == 400 and bad.get_json()["errorMessage"] == (
        "Bad Request - ConfirmationURL contains a forbidden word: 'mpesa'")
    assert client.get("/oauth/v1/generate?grant_type=client_credentials",
                      headers=basic(secret="wrong")).status_code == 400
    assert client.post("/mpesa/stkpush/v9/processrequest", headers=headers,
                       json={}).get_json()["errorCode"] == "404.001.01"
    # Faults are matched on Safaricom's path, wherever the views are mounted.
    client.post("/_emulator/control/faults", json={"target": "daraja", "mode": "spike",
                                                    "path": "/oauth/v1/generate", "count": 1})
    spiked = client.get("/oauth/v1/generate?grant_type=client_credentials", headers=basic())
    assert spiked.status_code == 500 and spiked.get_json()["errorCode"] == "500.003.02"


@pytest.mark.parametrize("base", [
    "http://loyalty.example.com/hooks/ab12",      # not https
    "https://127.0.0.1:8001/hooks/ab12",         # loopback
    "https://localhost/hooks/ab12",
    "https://10.0.0.5/hooks/ab12",               # a private network
    "https://192.168.1.20/hooks/ab12",
])
def test_a_production_platform_gets_safaricoms_production_url_rules(make_standalone, base):
    client = make_standalone(APP_ENV="production")
    headers = root_bearer(client)  # a sandbox app: the platform's config decides
    refused = register_at_root(client, headers, base)
    assert refused.status_code == 400
    assert refused.get_json()["errorCode"] == "400.003.02"
    assert refused.get_json()["errorMessage"] == "Bad Request - Invalid ConfirmationURL"
    push = client.post("/mpesa/stkpush/v1/processrequest", headers=headers,
                       json=push_body(base + "/stk"))
    assert push.status_code == 400
    assert push.get_json()["errorMessage"] == "Bad Request - Invalid CallBackURL"
    # The push above was well formed but for its URL: with a public one it is accepted.
    assert register_at_root(client, headers, PUBLIC).status_code == 200
    assert client.post("/mpesa/stkpush/v1/processrequest", headers=headers,
                       json=push_body(PUBLIC + "/stk")).status_code == 200


def test_a_production_app_needs_public_https_urls_on_any_platform(emu_client):
    add_app(emu_client, consumer_key="live", environment="production", shortcodes=["600222"])
    live = {"Authorization": "Bearer " + emu_client.get(
        "/_emulator/daraja/oauth/v1/generate?grant_type=client_credentials",
        headers=basic("live", "secret")).get_json()["access_token"]}
    refused = register(emu_client, live, "600222", "http://127.0.0.1:9")
    assert refused.status_code == 400
    assert refused.get_json()["errorMessage"] == "Bad Request - Invalid ConfirmationURL"
    assert register(emu_client, live, "600222", PUBLIC).status_code == 200
