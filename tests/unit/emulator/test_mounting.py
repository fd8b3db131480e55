"""Mounting rules, the human page, and state shared between processes through Redis."""

from __future__ import annotations

import re

import pytest
from flask import Flask

import loyalty.emulator
from loyalty.emulator.store import MemoryStore, RedisStore
from tests.unit.emulator.conftest import basic, bearer, register, token


def test_production_refuses_to_mount_it():
    app = Flask(__name__)
    app.config.update(APP_ENV="production", DARAJA_EMULATOR=True)
    with pytest.raises(RuntimeError, match="production"):
        loyalty.emulator.init_app(app)
    assert "emulator" not in app.extensions
    assert not any(r.rule.startswith("/_emulator") for r in app.url_map.iter_rules())


def test_nothing_is_mounted_without_the_flag(database_url, redis_prefix):
    from tests.conftest import make_test_app

    app = make_test_app(database_url, redis_prefix, DARAJA_EMULATOR=False)
    loyalty.emulator.init_app(app)
    assert "emulator" not in app.extensions
    assert app.test_client().get("/_emulator/").status_code == 404


def test_init_app_is_idempotent(emu_app):
    before = sorted(str(r) for r in emu_app.url_map.iter_rules())
    emulator = emu_app.extensions["emulator"]
    loyalty.emulator.init_app(emu_app)
    assert sorted(str(r) for r in emu_app.url_map.iter_rules()) == before
    assert emu_app.extensions["emulator"] is emulator


def test_csrf_does_not_block_the_emulator(make_emulator_app, receiver):
    app = make_emulator_app(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    assert isinstance(app.extensions["emulator"].state.store, RedisStore)
    assert register(client, bearer(client), "600000", receiver.url).status_code == 200
    assert client.post("/_emulator/control/reset").status_code == 200
    assert client.post("/_emulator/simulate", data={"shortcode": "600000", "amount": "10",
                                                     "phone": "0708374149"}).status_code == 303


def test_the_page_renders_self_contained_and_labelled(emu_client):
    response = emu_client.get("/_emulator/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r"<(script|link)[^>]+(src|href)=", html)  # no CDN, no external assets
    assert "//cdn" not in html
    for field in ("shortcode", "amount", "account", "phone", "first_name"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert "SMS inbox" in html and "Recent callbacks" in html


def test_the_page_pays_and_then_shows_the_callback_and_sms(emu_client, emu, receiver):
    register(emu_client, bearer(emu_client), "600000", receiver.url)
    emu_client.post("/_emulator/sms/version1/messaging", headers={"apiKey": "k"}, data={
        "username": "sandbox", "to": "+254708374149", "message": "Welcome to Acme"})
    response = emu_client.post("/_emulator/simulate", data={
        "shortcode": "600000", "amount": "750", "account": "VIP001", "phone": "0708 374 149",
        "first_name": "Akinyi", "command": "paybill"})
    assert response.status_code == 303
    paid = re.search(r"paid=([A-Z0-9]{10})", response.headers["Location"]).group(1)
    [confirmation] = receiver.wait("/confirm")
    assert confirmation["TransID"] == paid and confirmation["FirstName"] == "Akinyi"
    assert confirmation["TransAmount"] == "750.00" and confirmation["BillRefNumber"] == "VIP001"
    assert emu.dispatcher.join(5)

    page = emu_client.get(f"/_emulator/?paid={paid}").get_data(as_text=True)
    assert paid in page and "Welcome to Acme" in page and f"{receiver.url}/confirm" in page


def test_the_page_explains_a_refused_payment(emu_client):
    response = emu_client.post("/_emulator/simulate", data={
        "shortcode": "600000", "amount": "10", "phone": "12345", "first_name": "A"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'role="alert"' in html and "Invalid Msisdn" in html
    assert 'value="12345"' in html  # the form keeps what was typed


def test_without_redis_state_lives_in_memory(make_emulator_app, receiver):
    app = make_emulator_app(REDIS_URL="")
    client = app.test_client()
    assert isinstance(app.extensions["emulator"].state.store, MemoryStore)
    assert register(client, bearer(client), "600000", receiver.url).status_code == 200
    assert "600000" in client.get("/_emulator/state").get_json()["registrations"]


def test_two_apps_with_one_prefix_share_the_state(make_emulator_app, receiver):
    # Two app instances stand for two gunicorn workers.
    first, second = make_emulator_app().test_client(), make_emulator_app().test_client()
    minted = token(first)
    assert register(second, {"Authorization": f"Bearer {minted}"}, "600000",
                    receiver.url).status_code == 200
    second.post("/_emulator/sms/version1/messaging", headers={"apiKey": "k"}, data={
        "username": "sandbox", "to": "+254708374149", "message": "Shared"})
    state = first.get("/_emulator/state").get_json()
    assert state["registrations"]["600000"]["ConfirmationURL"] == f"{receiver.url}/confirm"
    assert [m["message"] for m in state["sms_inbox"]] == ["Shared"]
    assert state["oauth_calls"] == {"demo-consumer-key": 1}
    # A token minted through one worker revokes the one handed out by the other.
    token(second)
    stale = register(first, {"Authorization": f"Bearer {minted}"}, "600000", receiver.url)
    assert stale.status_code == 404
    # A fault set through one worker fires on the other, once.
    first.post("/_emulator/control/faults", json={"target": "daraja", "count": 1})
    oauth = "/_emulator/daraja/oauth/v1/generate?grant_type=client_credentials"
    assert second.get(oauth, headers=basic()).status_code == 500
    assert first.get(oauth, headers=basic()).status_code == 200


def test_reset_clears_everything_but_the_builtins(emu_client, receiver):
    register(emu_client, bearer(emu_client), "600000", receiver.url)
    emu_client.post("/_emulator/control/stk-outcome", json={"outcome": "cancel"})
    assert emu_client.post("/_emulator/control/reset").get_json() == {"reset": True}
    state = emu_client.get("/_emulator/state").get_json()
    assert state["registrations"] == {} and state["stk_outcomes"] == {}
    assert state["oauth_calls"] == {}
    assert [a["consumer_key"] for a in state["apps"]] == ["demo-consumer-key"]
    assert all("consumer_secret" not in app for app in state["apps"])
    assert "passkey" not in state["stk_shortcodes"]["174379"]
    assert token(emu_client)  # the demo app still works
