"""What a developer meets first (issue 15): one error body, one list shape, every object
retrievable (payment requests; a payment's stamp and reward), and a warning before a
shared sandbox shortcode's test traffic moves to another channel."""

from __future__ import annotations

import pytest
import responses

from loyalty import background
from loyalty.services import crediting, stk
from loyalty.tenancy import tenant_context
from tests.integration.conftest import DELIVERY, VIP, c2b_body, make_shop
from tests.integration.test_stk_follow_up import PASSKEY, PUSH, _callback

DARAJA = "https://sandbox.daraja.test"


@pytest.fixture(autouse=True)
def published(monkeypatch) -> list[tuple]:
    """Tasks are recorded, not sent: the worker's part is called by the tests themselves."""
    sent: list[tuple] = []
    monkeypatch.setattr(background, "publish",
                        lambda name, args=(), kwargs=None, **kw: sent.append((name, args)) or True)
    return sent


@pytest.fixture
def shop(client, db_session):
    return make_shop(client, db_session, programs=[VIP, DELIVERY],
                     mapping={"default": "loyalty", "VIP*": "vip", "DELIVERY": "delivery"})


# --- one error body ----------------------------------------------------------------------


def test_a_json_body_sent_as_a_form_is_a_415_naming_the_header(shop):
    # curl -d '{"phone": …}' says application/x-www-form-urlencoded.
    sent = shop.api("POST", "/customers", data='{"phone": "0712345678"}',
                    content_type="application/x-www-form-urlencoded")
    assert sent.status_code == 415
    error = sent.get_json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "Content-Type: application/json" in error["message"]
    assert "application/x-www-form-urlencoded" in error["message"]
    assert "Missing data" not in error["message"] and "fields" not in error
    bare = shop.api("POST", "/customers", data='{"phone": "0712345678"}', content_type="")
    assert bare.status_code == 415 and "no Content-Type" in bare.get_json()["error"]["message"]
    # The same body as JSON enrols; a step without a body needs no Content-Type at all.
    assert shop.api("POST", "/customers", json={"phone": "0712345678"}).status_code == 201
    assert shop.api("POST", f"/mpesa-channels/{shop.channel['id']}/deactivate").status_code == 200


def test_several_problems_with_one_field_read_as_one_sentence(shop):
    response = shop.api("PATCH", f"/mpesa-channels/{shop.channel['id']}", json={
        "account_mapping": {"*": "vip", "VIP*": "nope"}})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert "('" not in error["message"] and "['" not in error["message"]
    assert "use 'default' instead" in error["message"] and "Unknown program code" in error["message"]
    assert len(error["fields"]["account_mapping"]) == 2
    # A schema's own errors name the field and say why, in the message too.
    refused = shop.api("POST", "/customers", json={"phone": "12"})
    message = refused.get_json()["error"]["message"]
    assert message.startswith("Some fields are invalid: phone (") and "'12'" in message


# --- one list shape ------------------------------------------------------------------------


LISTS = ("/programs", "/mpesa-channels", "/mpesa-channels/export", "/api-keys", "/customers",
         "/customers/{customer}/ledger", "/transactions", "/payment-requests",
         "/analytics/channels", "/callback-log", "/reconciliation-runs",
         "/merchants/me/sender-id")
# What a page may carry beside itself: totals over every run, the platform's sender.
EXTRA = {"/reconciliation-runs": {"totals"}, "/merchants/me/sender-id": {"default_sender"}}


def test_every_collection_is_a_page_of_items(shop):
    assert shop.hook("c2b/confirmation", c2b_body()).status_code == 200
    crediting.credit_waiting()
    customer = shop.api("GET", "/customers").get_json()["items"][0]["id"]
    for path in LISTS:
        body = shop.api("GET", path.format(customer=customer)).get_json()
        assert set(body) == {"items", "next_cursor"} | EXTRA.get(path, set()), path
        assert isinstance(body["items"], list), path


def test_a_cursor_walks_a_collection_page_by_page(shop):
    for code in ("a1", "a2", "a3"):
        assert shop.api("POST", "/programs", json={"code": code, "name": code}).status_code == 201
    seen, cursor = [], None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = shop.api("GET", "/programs", query_string=query).get_json()
        assert len(page["items"]) <= 2
        seen += [program["code"] for program in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["loyalty", "vip", "delivery", "a1", "a2", "a3"]
    refused = shop.api("GET", "/programs", query_string={"limit": 0})
    assert refused.status_code == 422 and "limit" in refused.get_json()["error"]["fields"]


# --- every object retrievable ----------------------------------------------------------------


def _push(shop, daraja, reference: str) -> int:
    created = shop.api("POST", f"/mpesa-channels/{shop.channel['id']}/stk-push",
                       json={"phone": "0712345678", "amount": "100",
                             "account_reference": reference})
    assert created.status_code == 202, created.get_json()
    with tenant_context(shop.merchant_id):
        stk.send_stk_push(created.get_json()["id"])
    return created.get_json()["id"]


def test_payment_requests_are_listed_and_filtered_by_channel_and_status(shop, client,
                                                                       db_session):
    # Credentials of its own: the Daraja token this test mints stays out of other tests'
    # token cache (it is kept per consumer key in the run's Redis).
    shop.api("PATCH", f"/mpesa-channels/{shop.channel['id']}", json={
        "passkey": PASSKEY, "consumer_key": "api-shape-key", "consumer_secret": "api-shape"})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as daraja:
        daraja.add(responses.GET, f"{DARAJA}/oauth/v1/generate",
                   json={"access_token": "t", "expires_in": "3599"})
        daraja.add(responses.POST, PUSH, json={
            "MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_1", "ResponseCode": "0",
            "ResponseDescription": "Success", "CustomerMessage": "Success"})
        cancelled = _push(shop, daraja, "VIP7")
        assert shop.hook(f"stk/{cancelled}", _callback(code=1032)).status_code == 200
        daraja.replace(responses.POST, PUSH, json={
            "MerchantRequestID": "m-2", "CheckoutRequestID": "ws_CO_2", "ResponseCode": "0",
            "ResponseDescription": "Success", "CustomerMessage": "Success"})
        waiting = _push(shop, daraja, "VIP8")
    everything = shop.api("GET", "/payment-requests").get_json()
    assert [r["id"] for r in everything["items"]] == [waiting, cancelled]
    found = shop.api("GET", "/payment-requests", query_string={"status": "cancelled"})
    [request] = found.get_json()["items"]
    assert (request["id"], request["status"], request["result_code"]) == (cancelled, "cancelled",
                                                                          "1032")
    assert request["result_desc"] == "Request cancelled by user" and request["receipt"] is None
    by_channel = shop.api("GET", "/payment-requests",
                          query_string={"channel_id": shop.channel["id"], "status": "pending"})
    assert [r["id"] for r in by_channel.get_json()["items"]] == [waiting]
    elsewhere = shop.api("GET", "/payment-requests", query_string={"channel_id": 999})
    assert elsewhere.get_json()["items"] == []
    other = make_shop(client, db_session, business_name="Other Shop")
    assert other.api("GET", "/payment-requests").get_json()["items"] == []
    assert other.api("GET", f"/payment-requests/{waiting}").status_code == 404


def test_a_stamp_payment_shows_its_stamp_and_the_reward_it_completed(shop):
    for n in range(5):
        body = c2b_body(trans_id=f"CARD00000{n}", bill_ref="DELIVERY", amount="300")
        assert shop.hook("c2b/confirmation", body).status_code == 200
    crediting.credit_waiting()
    listed = shop.api("GET", "/transactions").get_json()["items"]
    by_receipt = {p["trans_id"]: p for p in listed}
    first, fifth = by_receipt["CARD000000"], by_receipt["CARD000004"]
    assert (first["points"], first["stamps"], first["reward"]) == (0, 1, None)
    assert (fifth["points"], fifth["stamps"], fifth["reward"]) == (0, 1, "free delivery")
    assert shop.hook("c2b/confirmation", c2b_body(trans_id="POINTS0001")).status_code == 200
    crediting.credit_waiting()
    points = shop.api("GET", "/transactions").get_json()["items"][0]
    assert (points["trans_id"], points["points"], points["stamps"]) == ("POINTS0001", 100, 0)


# --- a shared sandbox shortcode ----------------------------------------------------------------


def test_registering_a_shared_sandbox_shortcode_warns_that_its_test_traffic_moves(client,
                                                                                  db_session):
    first = make_shop(client, db_session, business_name="First Shop")    # URLs registered
    second = make_shop(client, db_session, business_name="Second Shop")  # the same 174379
    answer = second.api("POST", f"/mpesa-channels/{second.channel['id']}/register-urls", json={})
    assert answer.status_code == 202
    [warning] = answer.get_json()["warnings"]
    assert warning["code"] == "sandbox_shortcode_shared"
    assert "174379" in warning["message"] and "another channel" in warning["message"]
    assert "First Shop" not in warning["message"]  # nothing names the other merchant
    # A production number is nobody else's; a sandbox number nobody else uses: no warning.
    alone = make_shop(client, db_session, business_name="Alone", shortcode="600998")
    quiet = alone.api("POST", f"/mpesa-channels/{alone.channel['id']}/register-urls", json={})
    assert quiet.status_code == 202 and quiet.get_json()["warnings"] == []
    assert first.api("GET", f"/mpesa-channels/{first.channel['id']}").status_code == 200
