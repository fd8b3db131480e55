"""M-Pesa channels over the REST API: rules, masking, primary, tenancy."""

import logging

import pytest
import sqlalchemy as sa

from tests.conftest import auth

SECRET = "sEcReT-consumer-secret-9f8e7d"
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


def paybill(**overrides):
    body = {"name": "Main PayBill", "shortcode": "174379", "channel_type": "paybill",
            "environment": "sandbox", "consumer_key": "ck-abcdefgh-WXYZ",
            "consumer_secret": SECRET, "passkey": PASSKEY,
            "account_mapping": {"default": "loyalty"}}
    body.update(overrides)
    return body


@pytest.fixture
def api(client, merchant_a):
    key = merchant_a[1]

    def call(method, path, **kwargs):
        return client.open(f"/api/v1{path}", method=method, headers=auth(key), **kwargs)

    return call


def test_create_masks_every_secret(api, db_session, caplog):
    with caplog.at_level(logging.DEBUG):
        response = api("POST", "/mpesa-channels", json=paybill())
    assert response.status_code == 201
    channel = response.get_json()
    assert channel["status"] == "configured" and channel["is_primary"] is True
    assert channel["credentials"] == {"consumer_key": "****WXYZ", "consumer_secret": True,
                                      "passkey": True, "initiator_name": None,
                                      "initiator_password": False}
    text = response.get_data(as_text=True) + api("GET", "/mpesa-channels").get_data(as_text=True)
    for secret in (SECRET, PASSKEY, "ck-abcdefgh-WXYZ"):
        assert secret not in text
        assert secret not in caplog.text
    raw = db_session.execute(sa.text(
        "SELECT consumer_key, consumer_secret, passkey FROM mpesa_channels")).one()
    for column, secret in zip(raw, ("ck-abcdefgh-WXYZ", SECRET, PASSKEY), strict=True):
        assert column and secret not in column


def test_without_key_and_secret_a_channel_is_a_draft(api):
    body = paybill()
    del body["consumer_key"], body["consumer_secret"]
    channel = api("POST", "/mpesa-channels", json=body).get_json()
    assert channel["status"] == "draft"
    updated = api("PATCH", f"/mpesa-channels/{channel['id']}",
                  json={"consumer_key": "k1234", "consumer_secret": "s"}).get_json()
    assert updated["status"] == "configured"


def test_callback_urls_are_opaque_and_per_channel(api):
    first = api("POST", "/mpesa-channels", json=paybill()).get_json()
    second = api("POST", "/mpesa-channels", json=paybill(name="Second")).get_json()
    url = first["callback_urls"]["confirmation_url"]
    assert url.startswith("https://loyalty.example.com/hooks/") and url.endswith("/c2b/confirmation")
    assert url != second["callback_urls"]["confirmation_url"]
    assert "mpesa" not in url.lower()


def test_changing_a_credential_sends_the_channel_back_to_configured(api, db_session):
    channel = api("POST", "/mpesa-channels", json=paybill()).get_json()
    db_session.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true, "
                               "verification_state='done', urls_state='done'"))
    unchanged = api("PATCH", f"/mpesa-channels/{channel['id']}",
                    json={"name": "Renamed", "consumer_secret": SECRET}).get_json()
    assert unchanged["status"] == "active" and unchanged["is_active"] is True
    changed = api("PATCH", f"/mpesa-channels/{channel['id']}",
                  json={"consumer_secret": "a new secret"}).get_json()
    assert changed["status"] == "configured" and changed["is_active"] is False
    assert changed["verification"]["state"] == "not_started"
    assert changed["urls"]["state"] == "registered"  # same shortcode: registration stands
    moved = api("PATCH", f"/mpesa-channels/{channel['id']}", json={"shortcode": "600000"}).get_json()
    assert moved["urls"]["state"] == "not_registered"


def test_exactly_one_primary_channel(api):
    first = api("POST", "/mpesa-channels", json=paybill()).get_json()
    second = api("POST", "/mpesa-channels", json=paybill(name="Till", channel_type="till",
                                                         shortcode="123456", store_number="654321",
                                                         account_mapping={})).get_json()
    assert first["is_primary"] and not second["is_primary"]
    api("PATCH", f"/mpesa-channels/{second['id']}", json={"is_primary": True})
    primaries = [c["id"] for c in api("GET", "/mpesa-channels").get_json()["items"] if c["is_primary"]]
    assert primaries == [second["id"]]
    refused = api("PATCH", f"/mpesa-channels/{second['id']}", json={"is_primary": False})
    assert refused.status_code == 409
    assert api("DELETE", f"/mpesa-channels/{second['id']}").status_code == 204
    remaining = api("GET", "/mpesa-channels").get_json()["items"]
    assert [(c["id"], c["is_primary"]) for c in remaining] == [(first["id"], True)]
    assert api("GET", f"/mpesa-channels/{second['id']}").status_code == 404


def test_production_shortcode_is_unique_across_merchants_sandbox_is_shared(client, api, merchant_b):
    other = merchant_b[1]
    assert api("POST", "/mpesa-channels", json=paybill(environment="production",
                                                       shortcode="888880")).status_code == 201
    clash = client.post("/api/v1/mpesa-channels", headers=auth(other),
                        json=paybill(environment="production", shortcode="888880"))
    assert clash.status_code == 409 and clash.get_json()["error"]["code"] == "shortcode_taken"
    shared = client.post("/api/v1/mpesa-channels", headers=auth(other), json=paybill())
    assert shared.status_code == 201


def test_a_production_store_number_is_one_merchants(client, api, merchant_b, db_session):
    """A Till's C2B callbacks carry its store (head office) number: another merchant may not
    claim it, as store number or as shortcode; the owner may reuse it for more tills."""
    def till(shortcode, store_number="700100"):
        return paybill(environment="production", channel_type="till", shortcode=shortcode,
                       store_number=store_number, account_mapping={"default": "loyalty"})

    other = auth(merchant_b[1])
    assert api("POST", "/mpesa-channels", json=till("900001")).status_code == 201
    assert api("POST", "/mpesa-channels", json=till("900003")).status_code == 201  # same owner
    for body in (till("900002"), paybill(environment="production", shortcode="700100"),
                 till("900004", store_number="900001")):
        clash = client.post("/api/v1/mpesa-channels", headers=other, json=body)
        assert clash.status_code == 409, body
        error = clash.get_json()["error"]
        assert error["code"] == "shortcode_taken"
        assert (body.get("store_number") or body["shortcode"]) in error["message"]
    moved = client.post("/api/v1/mpesa-channels", headers=other, json=till("900005", "700200"))
    assert moved.status_code == 201
    refused = client.patch(f"/api/v1/mpesa-channels/{moved.get_json()['id']}", headers=other,
                           json={"store_number": "700100"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "shortcode_taken"
    # The database refuses it too, whatever a future code path forgets to check.
    with pytest.raises(sa.exc.IntegrityError, match="production_store_number"), \
            db_session.begin_nested():
        db_session.execute(sa.text("UPDATE mpesa_channels SET store_number = '700100' "
                                   "WHERE id = :id"), {"id": moved.get_json()["id"]})


def test_account_mapping_rules(api):
    response = api("POST", "/mpesa-channels", json=paybill(account_mapping={
        "default": "loyalty", "VIP*": "vip", "GOLD001": "gold", "A*B*": "loyalty", "*": "loyalty"}))
    assert response.status_code == 422
    problems = " ".join(response.get_json()["error"]["fields"]["account_mapping"])
    assert "gold" in problems and "vip" in problems and "'*' alone" in problems
    assert "A*B*" in problems
    till = api("POST", "/mpesa-channels", json=paybill(channel_type="till", store_number="600001",
                                                       account_mapping={"VIP*": "loyalty"}))
    assert till.status_code == 422
    assert "only 'default'" in till.get_json()["error"]["fields"]["account_mapping"][0]
    ok = api("POST", "/mpesa-channels", json=paybill(account_mapping={" Default ": "loyalty",
                                                                     "vip*": "loyalty"}))
    assert ok.status_code == 201
    assert ok.get_json()["account_mapping"] == {"default": "loyalty", "vip*": "loyalty"}


def test_unknown_fields_and_bad_shortcodes_are_422(api):
    response = api("POST", "/mpesa-channels", json=paybill(shortcode="12ab", colour="red"))
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"shortcode", "colour"}


def test_another_merchants_channel_is_not_found_everywhere(client, api, merchant_b):
    channel = api("POST", "/mpesa-channels", json=paybill()).get_json()
    other = auth(merchant_b[1])
    base = f"/api/v1/mpesa-channels/{channel['id']}"
    assert client.get("/api/v1/mpesa-channels", headers=other).get_json() == {
        "items": [], "next_cursor": None}
    assert client.get("/api/v1/mpesa-channels/export", headers=other).get_json()["items"] == []
    for method, path, body in [("GET", "", None), ("PATCH", "", {"name": "x"}), ("DELETE", "", None),
                               ("POST", "/verify", None), ("POST", "/register-urls", {}),
                               ("POST", "/activate", None), ("POST", "/deactivate", None)]:
        response = client.open(base + path, method=method, headers=other, json=body)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["code"] == "not_found"
    assert api("GET", f"/mpesa-channels/{channel['id']}").get_json()["name"] == "Main PayBill"


def test_export_never_contains_secrets_and_import_is_all_or_nothing(api):
    api("POST", "/mpesa-channels", json=paybill(initiator_name="apiop", initiator_password="pw!"))
    exported = api("GET", "/mpesa-channels/export")
    text = exported.get_data(as_text=True)
    assert exported.get_json()["items"][0]["shortcode"] == "174379"
    assert exported.get_json()["next_cursor"] is None
    for secret in (SECRET, PASSKEY, "ck-abcdefgh", "pw!", "consumer_secret", "passkey"):
        assert secret not in text
    rows = [paybill(name="A", environment="production", shortcode="700001"),
            paybill(name="B", environment="production", shortcode="700001"),
            paybill(name="C", account_mapping={"default": "nope"})]
    refused = api("POST", "/mpesa-channels/import", json={"channels": rows})
    assert refused.status_code == 422
    per_row = refused.get_json()["error"]["fields"]["channels"]
    assert set(per_row) == {"1", "2"}
    assert len(api("GET", "/mpesa-channels").get_json()["items"]) == 1
    accepted = api("POST", "/mpesa-channels/import", json={"channels": rows[:1]})
    assert accepted.get_json()["items"][0]["shortcode"] == "700001"
    assert accepted.status_code == 201 and len(api("GET", "/mpesa-channels").get_json()["items"]) == 2


def test_activate_names_the_missing_step(api, db_session):
    channel = api("POST", "/mpesa-channels", json=paybill()).get_json()
    response = api("POST", f"/mpesa-channels/{channel['id']}/activate")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_verified"
    db_session.execute(sa.text("UPDATE mpesa_channels SET verification_state='done', status='verified'"))
    response = api("POST", f"/mpesa-channels/{channel['id']}/activate")
    assert response.get_json()["error"]["code"] == "urls_not_registered"
    db_session.execute(sa.text("UPDATE mpesa_channels SET urls_state='done'"))
    active = api("POST", f"/mpesa-channels/{channel['id']}/activate").get_json()
    assert active["status"] == "active" and active["is_active"] is True
    inactive = api("POST", f"/mpesa-channels/{channel['id']}/deactivate").get_json()
    assert inactive["status"] == "verified" and inactive["is_active"] is False


def test_verify_needs_credentials(api):
    body = paybill()
    del body["consumer_key"]
    channel = api("POST", "/mpesa-channels", json=body).get_json()
    response = api("POST", f"/mpesa-channels/{channel['id']}/verify")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "credentials_missing"


def test_register_urls_lints_before_queueing(api, db_session):
    channel = api("POST", "/mpesa-channels", json=paybill(environment="production",
                                                          shortcode="888881")).get_json()
    db_session.execute(sa.text("UPDATE mpesa_channels SET verification_state='done', "
                               "status='verified' WHERE id = :id"), {"id": channel["id"]})
    response = api("POST", f"/mpesa-channels/{channel['id']}/register-urls", json={
        "validation_url": "https://shop.example.com/MPesa/validate",
        "confirmation_url": "http://shop.example.com/confirm"})
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "mpesa" in fields["validation_url"][0].lower()
    assert "https" in fields["confirmation_url"][0].lower()
    assert api("GET", f"/mpesa-channels/{channel['id']}").get_json()["urls"]["state"] == "not_registered"
