"""OAuth and Bearer tokens behave like Daraja's (DARAJA.md 2 and 11)."""

from __future__ import annotations

from tests.unit.emulator.conftest import DEMO_KEY, add_app, basic, register, token

OAUTH = "/_emulator/daraja/oauth/v1/generate"


def test_demo_app_gets_a_token_in_safaricoms_shape(emu_client):
    response = emu_client.get(f"{OAUTH}?grant_type=client_credentials", headers=basic())
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "expires_in"}
    assert body["expires_in"] == "3599" and len(body["access_token"]) >= 20


def test_wrong_credentials_answer_400_with_an_empty_body(emu_client):
    for headers in (basic(secret="nope"), basic(key="stranger", secret="x")):
        response = emu_client.get(f"{OAUTH}?grant_type=client_credentials", headers=headers)
        assert response.status_code == 400 and response.data == b""


def test_wrong_grant_type_and_wrong_auth_scheme_have_their_codes(emu_client):
    response = emu_client.get(f"{OAUTH}?grant_type=password", headers=basic())
    assert response.status_code == 400
    assert response.get_json()["errorCode"] == "400.008.02"
    response = emu_client.get(f"{OAUTH}?grant_type=client_credentials",
                              headers={"Authorization": "Bearer abc"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["errorCode"] == "400.008.01" and body["requestId"]


def test_oauth_calls_are_counted_per_consumer_key(emu_client):
    token(emu_client)
    token(emu_client)
    emu_client.get(f"{OAUTH}?grant_type=client_credentials", headers=basic(secret="bad"))
    emu_client.get(f"{OAUTH}?grant_type=client_credentials", headers=basic("other", "x"))
    calls = emu_client.get("/_emulator/state").get_json()["oauth_calls"]
    assert calls == {DEMO_KEY: 3, "other": 1}


def test_minting_a_token_revokes_the_previous_one(emu_client, receiver):
    first = token(emu_client)
    second = token(emu_client)
    stale = register(emu_client, {"Authorization": f"Bearer {first}"}, "600000", receiver.url)
    assert stale.status_code == 404
    assert stale.get_json()["errorCode"] == "404.001.03"
    assert stale.get_json()["errorMessage"] == "Invalid Access Token"
    fresh = register(emu_client, {"Authorization": f"Bearer {second}"}, "600000", receiver.url)
    assert fresh.status_code == 200


def test_revocation_is_a_per_app_option(emu_client, receiver):
    add_app(emu_client, consumer_key="lenient", invalidate_previous_token=False)
    first = token(emu_client, key="lenient", secret="secret")
    token(emu_client, key="lenient", secret="secret")
    response = register(emu_client, {"Authorization": f"Bearer {first}"}, "600111", receiver.url)
    assert response.status_code == 200


def test_missing_or_unknown_bearer_tokens_are_refused(emu_client, receiver):
    missing = register(emu_client, {}, "600000", receiver.url)
    assert missing.status_code == 404 and missing.get_json()["errorCode"] == "404.001.04"
    unknown = register(emu_client, {"Authorization": "Bearer forged"}, "600000", receiver.url)
    assert unknown.status_code == 404 and unknown.get_json()["errorCode"] == "404.001.03"


def test_a_token_keeps_the_products_it_was_minted_with(emu_client, receiver):
    add_app(emu_client, consumer_key="growing", products=["c2b_v1"])
    old = token(emu_client, key="growing", secret="secret")
    add_app(emu_client, consumer_key="growing", products=["c2b_v1", "c2b_v2"],
            invalidate_previous_token=False)
    stale = register(emu_client, {"Authorization": f"Bearer {old}"}, "600111", receiver.url)
    assert stale.status_code == 401 and stale.get_json()["errorCode"] == "401.003.01"
    new = token(emu_client, key="growing", secret="secret")
    assert register(emu_client, {"Authorization": f"Bearer {new}"}, "600111",
                    receiver.url).status_code == 200


def test_unknown_paths_and_wrong_methods_answer_in_darajas_shape(emu_client):
    missing = emu_client.post("/_emulator/daraja/mpesa/nothing/v1/here", json={})
    assert missing.status_code == 404 and missing.get_json()["errorCode"] == "404.001.01"
    wrong = emu_client.get("/_emulator/daraja/mpesa/stkpush/v1/processrequest")
    assert wrong.status_code == 405 and wrong.get_json()["errorCode"] == "405.001"
