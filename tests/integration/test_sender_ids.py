"""Sender IDs and a merchant's own SMS account: requested over the API, decided by the
operator's CLI, and used as the `from` (and the account) of that merchant's texts at
Africa's Talking's HTTP edge (mocked with `responses`)."""

import logging
from datetime import datetime, time
from urllib.parse import parse_qs

import pytest
import requests
import responses
import sqlalchemy as sa

from loyalty.services import crediting, messages, sms_pause
from loyalty.tenancy import tenant_context
from tests.integration.conftest import AT, JOHN, SENT, c2b_body, make_shop
from tests.integration.test_promotional_texts import DAY, NAIROBI, _customer, _queue, clock  # noqa: F401

USER_DATA = {"UserData": {"balance": "KES 1234.5000"}}
OWN_KEY = "atsk_own-merchant-key-0123456789"


@pytest.fixture
def shop(client, db_session):
    return make_shop(client, db_session)


def _receipt(shop, db_session, trans_id="RKTQDM7W6S"):
    shop.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"})
    shop.hook("c2b/confirmation", c2b_body(trans_id=trans_id, bill_ref="X1",
                                           shortcode=shop.channel["shortcode"]))
    crediting.credit_waiting()
    return db_session.execute(sa.text("SELECT max(id) FROM sms_messages")).scalar()


def _form(call) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(call.request.body).items()}


@pytest.mark.parametrize("name", ["M-PESA", "Safaricom", "KCB Bank", "MP3SA", "e-Citizen"])
def test_names_imitating_mpesa_banks_or_government_are_refused(shop, name):
    refused = shop.api("PUT", "/merchants/me/sender-id",
                       json={"sender_id": name, "category": "transactional"})
    assert refused.status_code == 422
    assert "imitate M-PESA, Safaricom, banks or the government" in \
        refused.get_json()["error"]["fields"]["sender_id"][0]
    assert shop.api("GET", "/merchants/me/sender-id").get_json()["items"] == []


def test_too_long_or_odd_names_are_refused_with_the_reason(shop):
    for name, why in (("ACME ELECTRONICS", "11"), ("ACME!", "letters, digits and spaces")):
        refused = shop.api("PUT", "/merchants/me/sender-id",
                           json={"sender_id": name, "category": "promotional"})
        assert refused.status_code == 422 and why in refused.get_json()["error"]["message"]


def test_an_approved_sender_id_is_the_from_of_that_categorys_texts(app, shop, db_session,
                                                                   gateway):
    requested = shop.api("PUT", "/merchants/me/sender-id",
                         json={"sender_id": "ACME  SHOP", "category": "transactional"})
    assert requested.status_code == 200
    assert (requested.get_json()["sender_id"], requested.get_json()["state"]) == \
        ("ACME SHOP", "pending")
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)

    pending = _receipt(shop, db_session, "RKTQDM7W61")  # pending: the platform's sender
    messages.send_batch([(shop.merchant_id, pending)])
    assert "from" not in _form(gateway.calls[-1])

    runner = app.test_cli_runner()
    listed = runner.invoke(args=["sender-ids", "list", "--state", "pending"])
    assert "'ACME SHOP'" in listed.output and "transactional" in listed.output
    approved = runner.invoke(args=["sender-ids", "approve", str(shop.merchant_id)])
    assert approved.exit_code == 0 and "approved" in approved.output
    assert runner.invoke(args=["sender-ids", "approve", str(shop.merchant_id)]).exit_code == 1

    shown = shop.api("GET", "/merchants/me/sender-id").get_json()
    assert [(s["sender_id"], s["category"], s["state"]) for s in shown["items"]] == [
        ("ACME SHOP", "transactional", "approved")]
    receipt = _receipt(shop, db_session, "RKTQDM7W62")
    messages.send_batch([(shop.merchant_id, receipt)])
    assert _form(gateway.calls[-1])["from"] == "ACME SHOP"


def test_promotional_texts_use_only_a_promotional_id(app, shop, db_session, gateway,
                                                     clock):  # noqa: F811
    for name, category in (("ACME", "transactional"), ("ACME DEALS", "promotional")):
        shop.api("PUT", "/merchants/me/sender-id", json={"sender_id": name, "category": category})
    app.test_cli_runner().invoke(args=["sender-ids", "approve", str(shop.merchant_id),
                                       "--category", "transactional"])
    customer = _customer(shop, db_session, marketing_consent=True)
    noon = datetime.combine(DAY, time(12), NAIROBI)
    clock(noon)
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    offer = _queue(shop, customer, noon)
    messages.send_batch([(shop.merchant_id, offer)])
    assert "from" not in _form(gateway.calls[-1])  # the promotional one is still pending
    app.test_cli_runner().invoke(args=["sender-ids", "approve", str(shop.merchant_id)])
    offer = _queue(shop, customer, noon)
    messages.send_batch([(shop.merchant_id, offer)])
    assert _form(gateway.calls[-1])["from"] == "ACME DEALS"


def test_a_rejected_request_shows_the_reason(app, shop):
    shop.api("PUT", "/merchants/me/sender-id", json={"sender_id": "ACME", "category": "promotional"})
    rejected = app.test_cli_runner().invoke(args=[
        "sender-ids", "reject", str(shop.merchant_id), "--reason", "No authorisation letter yet"])
    assert rejected.exit_code == 0, rejected.output
    item = shop.api("GET", "/merchants/me/sender-id").get_json()["items"][0]
    assert (item["state"], item["reason"]) == ("rejected", "No authorisation letter yet")


# --- the merchant's own Africa's Talking account -----------------------------------------


def test_own_account_is_checked_stored_encrypted_and_never_shown(shop, db_session, gateway,
                                                                 caplog):
    caplog.set_level(logging.DEBUG)
    gateway.add(responses.GET, f"{AT}/version1/user", json=USER_DATA)
    saved = shop.api("PUT", "/merchants/me/sms-provider",
                     json={"username": "acmeduka", "api_key": OWN_KEY})
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json() == {"own": True, "username": "acmeduka"}
    check = gateway.calls[0].request
    assert check.headers["apiKey"] == OWN_KEY and "username=acmeduka" in check.url
    stored = db_session.execute(sa.text(
        "SELECT sms_api_key FROM merchants WHERE id = :i"), {"i": shop.merchant_id}).scalar()
    assert OWN_KEY not in stored
    for path in ("/merchants/me", "/merchants/me/sms-provider"):
        assert OWN_KEY not in shop.api("GET", path).get_data(as_text=True)

    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    messages.send_batch([(shop.merchant_id, _receipt(shop, db_session))])
    sent = gateway.calls[-1].request
    assert sent.headers["apiKey"] == OWN_KEY and _form(gateway.calls[-1])["username"] == "acmeduka"
    assert OWN_KEY not in caplog.text

    assert shop.api("DELETE", "/merchants/me/sms-provider").get_json()["own"] is False
    messages.send_batch([(shop.merchant_id, _receipt(shop, db_session, "RKTQDM7W63"))])
    assert gateway.calls[-1].request.headers["apiKey"] == "at-secret-key"


def test_credentials_africas_talking_refuses_are_not_kept(shop, gateway):
    gateway.add(responses.GET, f"{AT}/version1/user", status=401,
                body=f"The supplied authentication is invalid {OWN_KEY}")
    refused = shop.api("PUT", "/merchants/me/sms-provider",
                       json={"username": "acmeduka", "api_key": OWN_KEY})
    assert refused.status_code == 422 and "api_key" in refused.get_json()["error"]["fields"]
    assert OWN_KEY not in refused.get_data(as_text=True)
    assert shop.api("GET", "/merchants/me/sms-provider").get_json()["own"] is False


def test_while_africas_talking_is_down_the_account_is_not_changed(shop, gateway):
    gateway.add(responses.GET, f"{AT}/version1/user", body=requests.ConnectionError("down"))
    answer = shop.api("PUT", "/merchants/me/sms-provider",
                      json={"username": "acmeduka", "api_key": OWN_KEY})
    assert answer.status_code == 503
    assert "nothing was changed" in answer.get_json()["error"]["message"]
    assert OWN_KEY not in answer.get_data(as_text=True)
    assert shop.api("GET", "/merchants/me/sms-provider").get_json()["own"] is False


@pytest.mark.parametrize("field, value", [("username", "acme duka"), ("username", "acme\x00"),
                                          ("api_key", "atsk_own\r\nX-Evil: 1"),
                                          ("api_key", "atsk own key 123")])
def test_names_and_keys_africas_talking_could_not_have_are_refused_unasked(shop, gateway,
                                                                          field, value):
    body = {"username": "acmeduka", "api_key": OWN_KEY, field: value}
    refused = shop.api("PUT", "/merchants/me/sms-provider", json=body)
    assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"]
    assert len(gateway.calls) == 0


def test_an_own_account_out_of_credit_pauses_only_itself(client, db_session, gateway, app):
    own = make_shop(client, db_session, business_name="Own Account Shop")
    platform = make_shop(client, db_session, business_name="Platform Shop", shortcode="600222")
    gateway.add(responses.GET, f"{AT}/version1/user", json=USER_DATA)
    own.api("PUT", "/merchants/me/sms-provider", json={"username": "owndu", "api_key": OWN_KEY})
    broke = {"SMSMessageData": {"Message": "Sent to 0/1", "Recipients": [
        {"statusCode": 405, "number": "+254712345678", "cost": "0",
         "status": "InsufficientBalance", "messageId": "None"}]}}
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=broke)
    own_text = _receipt(own, db_session, "RKTQDM7W64")
    messages.send_batch([(own.merchant_id, own_text)])
    try:
        with tenant_context(own.merchant_id):
            own_account = messages.sending_account()
        assert sms_pause.current(own_account) and own_account != "platform"
        assert sms_pause.current("platform") is None
        gateway.replace(responses.POST, f"{AT}/version1/messaging", json=SENT)
        # the platform's merchants still text through the platform's account
        text = _receipt(platform, db_session, "RKTQDM7W65")
        messages.send_batch([(platform.merchant_id, text)])
        assert gateway.calls[-1].request.headers["apiKey"] == "at-secret-key"
        status = db_session.execute(sa.text("SELECT status FROM sms_messages WHERE id = :i"),
                                    {"i": own_text}).scalar()
        assert status == "queued"  # kept for when the merchant tops up
    finally:
        sms_pause.resume(own_account)
