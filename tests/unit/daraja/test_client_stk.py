"""M-Pesa Express: the push (never retried) and the query (pending is not an error)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
import requests
import responses

from loyalty.daraja.errors import DarajaUnavailable, InvalidRequest, RateLimited, RequestRejected
from loyalty.daraja.payloads import stk_parties

from .conftest import BASE, PASSKEY, TOKEN

PUSH_URL = f"{BASE}/mpesa/stkpush/v1/processrequest"
QUERY_URL = f"{BASE}/mpesa/stkpushquery/v1/query"
CALLBACK = "https://cb.example.com/stk/t/8f3a"
TIMESTAMP = "20240710091526"  # conftest.FIXED_NOW in Nairobi
ACCEPTED = {"MerchantRequestID": "2654-4b64-97ff-b827b542881d3130",
            "CheckoutRequestID": "ws_CO_1007202409152617172396192", "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing"}


def _push(client, channel_type="paybill", shortcode="174379", store=None, **overrides):
    business_shortcode, party_b, transaction_type = stk_parties(channel_type, shortcode, store)
    arguments = dict(business_shortcode=business_shortcode, passkey=PASSKEY, party_b=party_b,
                     transaction_type=transaction_type, amount=1, phone="254708374149",
                     callback_url=CALLBACK, account_reference="MEM1234", description="Points")
    arguments.update(overrides)
    return client.stk_push(**arguments)


def _password(shortcode: str) -> str:
    return base64.b64encode(f"{shortcode}{PASSKEY}{TIMESTAMP}".encode()).decode()


def test_paybill_push_sends_the_documented_request(client, rsps, with_token):
    rsps.add(responses.POST, PUSH_URL, json=ACCEPTED)
    result = _push(client)
    call = rsps.calls[1]
    assert call.request.method == "POST" and call.request.url == PUSH_URL
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.req_kwargs["timeout"] == 7.5
    assert json.loads(call.request.body) == {
        "BusinessShortCode": 174379, "Password": _password("174379"), "Timestamp": TIMESTAMP,
        "TransactionType": "CustomerPayBillOnline", "Amount": 1, "PartyA": 254708374149,
        "PartyB": 174379, "PhoneNumber": 254708374149, "CallBackURL": CALLBACK,
        "AccountReference": "MEM1234", "TransactionDesc": "Points"}
    assert result.checkout_request_id == "ws_CO_1007202409152617172396192"
    assert result.merchant_request_id == "2654-4b64-97ff-b827b542881d3130"
    assert (result.response_code, result.customer_message) == (
        "0", "Success. Request accepted for processing")


def test_till_push_uses_the_store_number_for_shortcode_and_password(client, rsps, with_token):
    rsps.add(responses.POST, PUSH_URL, json=ACCEPTED)
    _push(client, channel_type="till", shortcode="5551234", store="7654321",
          amount=Decimal("250"), phone="0708 374 149",
          description="Loyalty points top-up")
    body = json.loads(rsps.calls[1].request.body)
    assert body["BusinessShortCode"] == 7654321
    assert body["PartyB"] == 5551234
    assert body["TransactionType"] == "CustomerBuyGoodsOnline"
    assert base64.b64decode(body["Password"]).decode() == f"7654321{PASSKEY}{TIMESTAMP}"
    assert (body["Amount"], body["PartyA"], body["PhoneNumber"]) == (250, 254708374149,
                                                                      254708374149)
    assert body["TransactionDesc"] == "Loyalty point"


@pytest.mark.parametrize("field, overrides", [
    ("account_reference", {"account_reference": "VIP0000000013"}),
    ("amount", {"amount": 0}),
    ("amount", {"amount": 10.0}),
    ("amount", {"amount": Decimal("99.50")}),
    ("phone", {"phone": "12345"}),
    ("callback_url", {"callback_url": "https://cb.example.com/mpesa/stk"}),
    ("passkey", {"passkey": ""}),
    ("transaction_type", {"transaction_type": "CustomerPayBill"}),
])
def test_push_refuses_bad_arguments_before_any_call(client, rsps, field, overrides):
    with pytest.raises(InvalidRequest) as caught:
        _push(client, **overrides)
    assert caught.value.field == field
    assert len(rsps.calls) == 0  # not even a token: nothing can have reached the phone


@pytest.mark.parametrize("error", [requests.ReadTimeout("read timed out"),
                                   requests.ConnectionError("connection reset")])
def test_push_is_never_retried_after_a_timeout_or_network_error(client, rsps, with_token, error):
    rsps.add(responses.POST, PUSH_URL, body=error)
    with pytest.raises(DarajaUnavailable):
        _push(client)
    assert [call.request.method for call in rsps.calls] == ["GET", "POST"]


def test_push_timeout_message_warns_it_may_have_been_processed(client, rsps, with_token):
    rsps.add(responses.POST, PUSH_URL, body=requests.ReadTimeout("read timed out"))
    with pytest.raises(DarajaUnavailable, match="may still have processed"):
        _push(client)


def test_push_is_never_retried_after_a_5xx(client, rsps, with_token):
    rsps.add(responses.POST, PUSH_URL, status=500, json={
        "requestId": "1", "errorCode": "500.003.1001", "errorMessage": "Internal Server Error"})
    with pytest.raises(DarajaUnavailable) as caught:
        _push(client)
    assert not isinstance(caught.value, RateLimited)
    assert caught.value.code == "500.003.1001"
    assert len(rsps.calls) == 2


@pytest.mark.parametrize("message", [
    "Merchant does not exist", "Wrong credentials",
    "Unable to lock subscriber, a transaction is already in process for the current subscriber",
])
def test_push_business_errors_are_rejections(client, rsps, with_token, message):
    rsps.add(responses.POST, PUSH_URL, status=500, json={
        "requestId": "1", "errorCode": "500.001.1001", "errorMessage": message})
    with pytest.raises(RequestRejected) as caught:
        _push(client)
    assert caught.value.code == "500.001.1001" and message in str(caught.value)


def test_push_invalid_field_names_the_field(client, rsps, with_token):
    rsps.add(responses.POST, PUSH_URL, status=400, json={
        "requestId": "1c5b-4ba8-815c-ac45c57a3db0", "errorCode": "400.002.02",
        "errorMessage": "Bad Request - Invalid BusinessShortCode"})
    with pytest.raises(RequestRejected, match="Invalid BusinessShortCode") as caught:
        _push(client)
    assert (caught.value.code, caught.value.http_status) == ("400.002.02", 400)


def test_push_accepted_without_a_checkout_id_is_not_a_success(client, rsps, with_token):
    rsps.add(responses.POST, PUSH_URL, json={"ResponseCode": "0"})
    with pytest.raises(DarajaUnavailable, match="CheckoutRequestID"):
        _push(client)


# --- query -------------------------------------------------------------------------------------


def _query(client):
    return client.stk_query(business_shortcode="174379", passkey=PASSKEY,
                            checkout_request_id="ws_CO_1007202409152617172396192")


def test_query_sends_the_documented_request_and_reads_string_codes(client, rsps, with_token):
    rsps.add(responses.POST, QUERY_URL, json={
        "ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": "22205-34066-1", "CheckoutRequestID": "ws_CO_1007202409152617172396192",
        "ResultCode": "1032", "ResultDesc": "[STK_CB - ]Request cancelled by user"})
    result = _query(client)
    call = rsps.calls[1]
    assert call.request.url == QUERY_URL
    assert call.request.headers["Content-Type"] == "application/json"
    assert json.loads(call.request.body) == {
        "BusinessShortCode": 174379, "Password": _password("174379"), "Timestamp": TIMESTAMP,
        "CheckoutRequestID": "ws_CO_1007202409152617172396192"}
    assert not result.pending and not result.succeeded
    assert result.result_code == "1032"
    assert result.result_desc == "[STK_CB - ]Request cancelled by user"
    assert result.merchant_request_id == "22205-34066-1"


def test_query_success_with_a_numeric_code(client, rsps, with_token):
    rsps.add(responses.POST, QUERY_URL, json={
        "ResponseCode": "0", "MerchantRequestID": "m", "CheckoutRequestID": "c",
        "ResultCode": 0, "ResultDesc": "The service request is processed successfully."})
    result = _query(client)
    assert result.succeeded and result.result_code == "0"


def test_query_while_the_customer_has_not_answered_is_pending(client, rsps, with_token):
    rsps.add(responses.POST, QUERY_URL, status=500, json={
        "requestId": "12345-1", "errorCode": "500.001.1001",
        "errorMessage": "The transaction is being processed"})
    result = _query(client)
    assert result.pending and not result.succeeded
    assert result.result_code is None
    assert result.checkout_request_id == "ws_CO_1007202409152617172396192"


def test_query_other_500_001_1001_errors_are_still_errors(client, rsps, with_token):
    rsps.add(responses.POST, QUERY_URL, status=500, json={
        "requestId": "1", "errorCode": "500.001.1001", "errorMessage": "Wrong credentials"})
    with pytest.raises(RequestRejected, match="Wrong credentials"):
        _query(client)


def test_query_spike_arrest_is_rate_limited(client, rsps, with_token):
    rsps.add(responses.POST, QUERY_URL, status=500, json={
        "requestId": "1", "errorCode": "500.003.02", "errorMessage": "Spike arrest violation"})
    with pytest.raises(RateLimited) as caught:
        _query(client)
    assert isinstance(caught.value, DarajaUnavailable)
