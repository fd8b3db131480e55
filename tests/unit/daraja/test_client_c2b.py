"""C2B URL registration (with v1/v2 fallback) and the sandbox simulator."""

from __future__ import annotations

import json

import pytest
import responses

from loyalty.daraja.errors import (
    InvalidRequest,
    ProductNotEnabled,
    RequestRejected,
    UrlsAlreadyRegistered,
)

from .conftest import BASE, TOKEN

CONFIRM = "https://cb.example.com/c2b/t/8f3a/confirm"
VALIDATE = "https://cb.example.com/c2b/t/8f3a/validate"
REGISTER_BODY = {"ShortCode": "600984", "ResponseType": "Completed",
                 "ConfirmationURL": CONFIRM, "ValidationURL": VALIDATE}
REGISTERED = {"OriginatorCoversationID": "7619-37765134-1", "ResponseCode": "0",
              "ResponseDescription": "Success"}
NO_PRODUCT = {"requestId": "11728-2929992-1", "errorCode": "401.003.01",
              "errorMessage": "Invalid Access Token - Invalid API call as no apiproduct match found"}


def _register(client, **overrides):
    arguments = dict(shortcode="600984", confirmation_url=CONFIRM, validation_url=VALIDATE)
    arguments.update(overrides)
    return client.register_c2b_urls(**arguments)


def _assert_json_post(call, url):
    assert call.request.method == "POST"
    assert call.request.url == url
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.req_kwargs["timeout"] == 7.5


def test_register_sends_the_documented_request(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl", json=REGISTERED)
    result = _register(client)
    call = rsps.calls[1]
    _assert_json_post(call, f"{BASE}/mpesa/c2b/v2/registerurl")
    assert json.loads(call.request.body) == REGISTER_BODY
    assert result.version == "v2"
    assert result.response_code == "0"
    assert result.description == "Success"
    assert result.originator_conversation_id == "7619-37765134-1"  # despite Safaricom's typo


def test_register_v1_path_and_cancelled_response_type(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v1/registerurl", json=REGISTERED)
    assert _register(client, version="v1", response_type="Cancelled").version == "v1"
    assert json.loads(rsps.calls[1].request.body)["ResponseType"] == "Cancelled"


@pytest.mark.parametrize("answer", [
    {"ConversationID": "", "OriginatorCoversationID": "", "ResponseDescription": "success"},
    {"ResponseDescription": "SUCCESS"},
    {"OriginatorConversationID": "x-1", "ResponseCode": 0, "ResponseDescription": "Accepted"},
])
def test_register_success_variants(client, rsps, with_token, answer):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl", json=answer)
    assert _register(client).version == "v2"


def test_register_falls_back_from_v2_to_v1_on_no_apiproduct_match(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl", status=401, json=NO_PRODUCT)
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v1/registerurl", json=REGISTERED)
    result = _register(client)
    assert result.version == "v1"
    oauth, v2, v1 = rsps.calls  # no token refresh: the token was fine, the product is missing
    assert v2.request.url.endswith("/v2/registerurl") and v1.request.url.endswith("/v1/registerurl")
    assert json.loads(v1.request.body) == json.loads(v2.request.body) == REGISTER_BODY


def test_register_falls_back_from_v1_to_v2(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v1/registerurl", status=401, json=NO_PRODUCT)
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl", json=REGISTERED)
    assert _register(client, version="v1").version == "v2"


def test_register_with_neither_version_enabled(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl", status=401, json=NO_PRODUCT)
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v1/registerurl", status=401, json=NO_PRODUCT)
    with pytest.raises(ProductNotEnabled) as caught:
        _register(client)
    assert caught.value.code == "401.003.01" and caught.value.http_status == 401
    assert "v1" in str(caught.value) and "v2" in str(caught.value)
    assert len(rsps.calls) == 3


def test_fallback_stops_at_other_errors(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl", status=401, json=NO_PRODUCT)
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v1/registerurl", status=400, json={
        "requestId": "1", "errorCode": "400.002.05", "errorMessage": "Invalid Request Payload"})
    with pytest.raises(RequestRejected) as caught:
        _register(client)
    assert not isinstance(caught.value, ProductNotEnabled)
    assert caught.value.code == "400.002.05"


def test_urls_already_registered_tells_the_merchant_how_to_clear_it(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl", status=500, json={
        "requestId": "1", "errorCode": "500.003.1001", "errorMessage": "Urls are already registered"})
    with pytest.raises(UrlsAlreadyRegistered) as caught:
        _register(client)
    error = caught.value
    assert error.code == "500.003.1001" and error.http_status == 500
    assert "URL Management" in error.message and "apisupport@safaricom.co.ke" in error.message
    assert str(error) == error.message
    assert len(rsps.calls) == 2  # never retried


def test_duplicate_notification_info_points_at_the_broker_platform(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl", status=500, json={
        "requestId": "1", "errorCode": "500.003.1001",
        "errorMessage": "Duplicate notification info, SP ID 107031, correlator 600984"})
    with pytest.raises(UrlsAlreadyRegistered) as caught:
        _register(client)
    assert "broker" in str(caught.value) and "apisupport@safaricom.co.ke" in str(caught.value)


def test_a_200_with_a_refusal_is_not_success(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/registerurl",
             json={"ResponseCode": "1", "ResponseDescription": "Invalid ShortCode"})
    with pytest.raises(RequestRejected) as caught:
        _register(client)
    assert caught.value.code == "1" and "Invalid ShortCode" in str(caught.value)


@pytest.mark.parametrize("field, value", [
    ("confirmation_url", "https://cb.example.com/mpesa/confirm"),
    ("validation_url", "https://cb.example.com/validate?query=1"),
    ("version", "v3"),
    ("response_type", "Complete"),
    ("shortcode", "60098x4"),
])
def test_register_refuses_bad_arguments_before_any_call(client, rsps, field, value):
    with pytest.raises(InvalidRequest) as caught:
        _register(client, **{field: value})
    assert caught.value.field == field
    assert len(rsps.calls) == 0


def test_production_registration_needs_https(make_client, rsps):
    with pytest.raises(InvalidRequest) as caught:
        _register(make_client(environment="production"),
                  confirmation_url="http://cb.example.com/c2b/confirm")
    assert caught.value.field == "confirmation_url" and "https" in str(caught.value)


def test_simulate_sends_the_documented_request(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v1/simulate", json={
        "OriginatorCoversationID": "53e3-4aa8-9fe0-8fb5e4092cdd3405976", "ResponseCode": "0",
        "ResponseDescription": "Accept the service request successfully."})
    answer = client.c2b_simulate(shortcode="600984", amount=1, msisdn="254708374149",
                                 bill_ref="TEST001")
    call = rsps.calls[1]
    _assert_json_post(call, f"{BASE}/mpesa/c2b/v1/simulate")
    assert json.loads(call.request.body) == {
        "ShortCode": 600984, "CommandID": "CustomerPayBillOnline", "Amount": 1,
        "Msisdn": 254708374149, "BillRefNumber": "TEST001"}
    assert answer["ResponseCode"] == "0"
    assert answer["OriginatorConversationID"] == "53e3-4aa8-9fe0-8fb5e4092cdd3405976"


def test_simulate_buy_goods_sends_a_null_reference(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/c2b/v2/simulate", json={"ResponseCode": "0"})
    client.c2b_simulate(shortcode="600984", amount=10, msisdn="0708374149", bill_ref=None,
                        command_id="CustomerBuyGoodsOnline", version="v2")
    body = json.loads(rsps.calls[1].request.body)
    assert body["BillRefNumber"] is None and body["Msisdn"] == 254708374149


def test_simulate_is_refused_in_production(make_client, rsps):
    with pytest.raises(InvalidRequest) as caught:
        make_client(environment="production").c2b_simulate(
            shortcode="600984", amount=1, msisdn="254708374149", bill_ref="A")
    assert caught.value.field == "environment"
    assert len(rsps.calls) == 0
