"""What Safaricom's edge really answers when things break, for every kind of call."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
import responses

from loyalty.daraja.errors import (
    BadCredentials,
    DarajaUnavailable,
    ProductNotEnabled,
    RateLimited,
    RequestRejected,
)
from loyalty.daraja.tokens import token_key

from .conftest import (
    BASE,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    OAUTH_URL,
    PASSKEY,
    SECURITY_CREDENTIAL,
    TOKEN,
    TOKEN_2,
    oauth_body,
)

HTML_503 = ("<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title>"
            "<style>body{color:red}</style></head><body><h1>Service Temporarily Unavailable"
            "</h1><p>" + "The server is overloaded. " * 40 + "</p></body></html>")
RESULT_URL = "https://cb.example.com/r/ab12"

CALLS = {
    "register": ("/mpesa/c2b/v2/registerurl", lambda c: c.register_c2b_urls(
        shortcode="600984", confirmation_url=RESULT_URL, validation_url=RESULT_URL)),
    "simulate": ("/mpesa/c2b/v1/simulate", lambda c: c.c2b_simulate(
        shortcode="600984", amount=1, msisdn="254708374149", bill_ref="A1")),
    "stk_push": ("/mpesa/stkpush/v1/processrequest", lambda c: c.stk_push(
        business_shortcode="174379", passkey=PASSKEY, party_b="174379",
        transaction_type="CustomerPayBillOnline", amount=1, phone="254708374149",
        callback_url=RESULT_URL, account_reference="A1", description="x")),
    "stk_query": ("/mpesa/stkpushquery/v1/query", lambda c: c.stk_query(
        business_shortcode="174379", passkey=PASSKEY, checkout_request_id="ws_CO_1")),
    "balance": ("/mpesa/accountbalance/v1/query", lambda c: c.account_balance(
        initiator="apiop1", security_credential=SECURITY_CREDENTIAL, party_a="600000",
        result_url=RESULT_URL, timeout_url=RESULT_URL)),
    "status": ("/mpesa/transactionstatus/v1/query", lambda c: c.transaction_status(
        initiator="apiop1", security_credential=SECURITY_CREDENTIAL, transaction_id="NEF61H8J60",
        party_a="600000", result_url=RESULT_URL, timeout_url=RESULT_URL)),
    "pull_register": ("/pulltransactions/v1/register", lambda c: c.pull_register(
        shortcode="600000", nominated_number="254722000000", callback_url=RESULT_URL)),
    "pull_query": ("/pulltransactions/v1/query", lambda c: c.pull_query(
        shortcode="600000", start=datetime(2020, 8, 4, tzinfo=UTC),
        end=datetime(2020, 8, 5, tzinfo=UTC))),
}

BROKEN = {
    "html 503": dict(status=503, body=HTML_503, content_type="text/html"),
    "empty 502": dict(status=502, body=""),
    "plain text 500": dict(status=500, body="upstream connect error", content_type="text/plain"),
    "html 200": dict(status=200, body="<html><title>Welcome</title></html>",
                     content_type="text/html"),
    "json list 200": dict(status=200, body="[]", content_type="application/json"),
    "truncated json 200": dict(status=200, body='{"ResponseCode": "0", "Respo',
                               content_type="application/json"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
@pytest.mark.parametrize("kind", sorted(CALLS))
def test_broken_answers_are_unavailable_for_every_call(client, rsps, with_token, kind, broken):
    path, call = CALLS[kind]
    rsps.add(responses.POST, BASE + path, **BROKEN[broken])
    with pytest.raises(DarajaUnavailable) as caught:
        call(client)
    error = caught.value
    assert not isinstance(error, RateLimited)
    assert error.http_status == BROKEN[broken]["status"]
    assert len(str(error)) < 600
    assert len(rsps.calls) == 2  # no retry of any kind


def test_html_page_is_summarised_by_its_title(client, rsps, with_token):
    rsps.add(responses.POST, BASE + CALLS["balance"][0], **BROKEN["html 503"])
    with pytest.raises(DarajaUnavailable) as caught:
        CALLS["balance"][1](client)
    assert "503 Service Temporarily Unavailable" in str(caught.value)
    assert "<" not in str(caught.value) and "overloaded" not in str(caught.value)


def test_long_plain_text_is_truncated(client, rsps, with_token):
    rsps.add(responses.POST, BASE + CALLS["status"][0], status=500, body="x" * 5000)
    with pytest.raises(DarajaUnavailable) as caught:
        CALLS["status"][1](client)
    assert "x" * 199 in str(caught.value) and "x" * 201 not in str(caught.value)


@pytest.mark.parametrize("kind", sorted(CALLS))
def test_html_4xx_pages_are_rejections_not_outages(client, rsps, with_token, kind):
    path, call = CALLS[kind]
    rsps.add(responses.POST, BASE + path, status=400, body="<html><title>Bad Request</title>",
             content_type="text/html")
    with pytest.raises(RequestRejected) as caught:
        call(client)
    assert caught.value.http_status == 400 and "Bad Request" in str(caught.value)


@pytest.mark.parametrize("code", ["500.003.02", "500.003.03"])
@pytest.mark.parametrize("kind", sorted(CALLS))
def test_spike_arrest_and_quota_are_rate_limits(client, rsps, with_token, kind, code):
    path, call = CALLS[kind]
    rsps.add(responses.POST, BASE + path, status=500,
             json={"requestId": "1", "errorCode": code, "errorMessage": "Spike Arrest Violation"})
    with pytest.raises(RateLimited) as caught:
        call(client)
    assert caught.value.code == code


def test_http_429_is_a_rate_limit(client, rsps, with_token):
    rsps.add(responses.POST, BASE + CALLS["balance"][0], status=429, body="Too Many Requests")
    with pytest.raises(RateLimited):
        CALLS["balance"][1](client)


def test_maintenance_is_unavailable(client, rsps, with_token):
    rsps.add(responses.POST, BASE + CALLS["balance"][0], status=503, json={
        "requestId": "1", "errorCode": "00.002.1001", "errorMessage": "Service is currently under maintenance"})
    with pytest.raises(DarajaUnavailable) as caught:
        CALLS["balance"][1](client)
    assert not isinstance(caught.value, RateLimited)
    assert caught.value.code == "00.002.1001"


# --- OAuth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status, body, content_type", [
    (400, "", "text/plain"),
    (401, "", "text/plain"),
    (400, "<html><body>Bad Request</body></html>", "text/html"),
    (400, json.dumps({"requestId": "1", "errorCode": "400.008.02",
                      "errorMessage": "Invalid grant type passed"}), "application/json"),
    (400, json.dumps({"requestId": "1", "errorCode": "400.008.01",
                      "errorMessage": "Invalid Authentication passed"}), "application/json"),
])
def test_oauth_refusals_are_bad_credentials(client, rsps, status, body, content_type):
    rsps.add(responses.GET, OAUTH_URL, status=status, body=body, content_type=content_type)
    with pytest.raises(BadCredentials) as caught:
        client.access_token()
    assert caught.value.http_status == status
    assert "sandbox app" in str(caught.value)


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_oauth_broken_answers_are_unavailable(client, rsps, broken):
    rsps.add(responses.GET, OAUTH_URL, **BROKEN[broken])
    with pytest.raises(DarajaUnavailable) as caught:
        client.access_token()
    assert caught.value.http_status == BROKEN[broken]["status"]


def test_oauth_200_without_a_token_is_unavailable(client, rsps):
    rsps.add(responses.GET, OAUTH_URL, json={"expires_in": "3599"})
    with pytest.raises(DarajaUnavailable, match="no access token"):
        client.access_token()


def test_oauth_unreadable_expiry_falls_back_to_the_documented_lifetime(client, rsps, cache):
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(expires_in="soon"))
    assert client.access_token() == TOKEN
    assert client.access_token() == TOKEN
    assert len(rsps.calls) == 1


@pytest.mark.parametrize("error", [requests.ConnectTimeout("connect timed out"),
                                   requests.ConnectionError("Name or service not known")])
def test_oauth_network_errors_are_unavailable(client, rsps, error):
    rsps.add(responses.GET, OAUTH_URL, body=error)
    with pytest.raises(DarajaUnavailable, match="Could not reach Safaricom") as caught:
        client.access_token()
    assert caught.value.http_status is None


# --- refused tokens ----------------------------------------------------------------------------

PUSH = CALLS["stk_push"][0]


@pytest.mark.parametrize("status, answer", [
    (404, {"requestId": "1", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}),
    (400, {"requestId": "1", "errorCode": "400.003.01", "errorMessage": "Invalid Access Token"}),
    (401, {"requestId": "1", "errorCode": "401.002.01", "errorMessage": "Error Occurred - Invalid Access Token"}),
    (401, None),
])
def test_refused_token_is_replaced_and_the_call_retried_once(client, rsps, cache, status, answer):
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN))
    rsps.add(responses.POST, BASE + PUSH, status=status,
             **({"json": answer} if answer else {"body": ""}))
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN_2))
    rsps.add(responses.POST, BASE + PUSH, json={"CheckoutRequestID": "ws_CO_1", "ResponseCode": "0"})
    assert CALLS["stk_push"][1](client).checkout_request_id == "ws_CO_1"
    methods = [(call.request.method, call.request.headers.get("Authorization")) for call in rsps.calls]
    assert methods[1] == ("POST", f"Bearer {TOKEN}")
    assert methods[2][0] == "GET"
    assert methods[3] == ("POST", f"Bearer {TOKEN_2}")
    assert rsps.calls[1].request.body == rsps.calls[3].request.body  # the very same request
    assert client.access_token() == TOKEN_2  # the new token replaced the refused one


def test_token_still_refused_after_refresh_is_bad_credentials(client, rsps):
    refused = {"requestId": "1", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN))
    rsps.add(responses.POST, BASE + PUSH, status=404, json=refused)
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN_2))
    rsps.add(responses.POST, BASE + PUSH, status=404, json=refused)
    with pytest.raises(BadCredentials) as caught:
        CALLS["stk_push"][1](client)
    assert (caught.value.code, caught.value.http_status) == ("404.001.03", 404)
    assert len(rsps.calls) == 4  # exactly one retry


def test_a_token_another_worker_already_replaced_is_reused(client, rsps, cache):
    key = token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET)
    cache.set(key, "stale-token-value", 3000)

    def refuse_and_let_another_worker_refresh(request):
        cache.set(key, TOKEN_2, 3000)  # meanwhile, elsewhere
        return 404, {}, json.dumps({"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"})

    rsps.add_callback(responses.POST, BASE + PUSH, callback=refuse_and_let_another_worker_refresh)
    rsps.add(responses.POST, BASE + PUSH, json={"CheckoutRequestID": "ws_CO_1", "ResponseCode": "0"})
    CALLS["stk_push"][1](client)
    assert [call.request.method for call in rsps.calls] == ["POST", "POST"]  # no new mint
    assert rsps.calls[1].request.headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_no_apiproduct_match_is_not_mistaken_for_a_stale_token(client, rsps, with_token):
    rsps.add(responses.POST, BASE + PUSH, status=401, json={
        "requestId": "1", "errorCode": "401.003.01",
        "errorMessage": "Invalid Access Token - Invalid API call as no apiproduct match found"})
    with pytest.raises(ProductNotEnabled, match="Daraja portal"):
        CALLS["stk_push"][1](client)
    assert len(rsps.calls) == 2
    assert client.access_token() == TOKEN  # the cached token stays: it is not the problem
    assert len(rsps.calls) == 2
