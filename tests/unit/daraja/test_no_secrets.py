"""Secrets never reach a log line, an exception message or a repr."""

from __future__ import annotations

import base64
import json
import logging

import pytest
import requests
import responses

from loyalty.daraja.errors import DarajaError
from loyalty.daraja.tokens import token_key

from .conftest import (
    BASE,
    BASIC,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    OAUTH_URL,
    PASSKEY,
    SECURITY_CREDENTIAL,
    TOKEN,
    TOKEN_2,
    oauth_body,
)

STK_PASSWORD = base64.b64encode(f"174379{PASSKEY}20240710091526".encode()).decode()
SECRETS = {"consumer key": CONSUMER_KEY, "consumer secret": CONSUMER_SECRET, "basic": BASIC,
           "token": TOKEN, "token 2": TOKEN_2, "passkey": PASSKEY, "stk password": STK_PASSWORD,
           "security credential": SECURITY_CREDENTIAL}
PUSH = f"{BASE}/mpesa/stkpush/v1/processrequest"
BALANCE = f"{BASE}/mpesa/accountbalance/v1/query"
RESULT_URL = "https://cb.example.com/r/ab12"


def _push(client):
    return client.stk_push(business_shortcode="174379", passkey=PASSKEY, party_b="174379",
                           transaction_type="CustomerPayBillOnline", amount=1,
                           phone="254708374149", callback_url=RESULT_URL,
                           account_reference="A1", description="x")


def _balance(client):
    return client.account_balance(initiator="apiop1", security_credential=SECURITY_CREDENTIAL,
                                  party_a="600000", result_url=RESULT_URL, timeout_url=RESULT_URL)


def _echo(request) -> str:
    """Everything we sent, as a misbehaving proxy might reflect it back."""
    return " ".join([request.headers.get("Authorization", ""), request.body or ""]
                    if isinstance(request.body, str) else
                    [request.headers.get("Authorization", ""),
                     (request.body or b"").decode()])


def _run_every_path(make_client, rsps, cache) -> list[str]:
    """Drive the client through success and failure paths; return every message seen."""
    seen: list[str] = []
    client = make_client()
    seen.append(repr(client))

    def attempt(call) -> None:
        try:
            call(client)
        except DarajaError as exc:
            seen.extend([str(exc), repr(exc), exc.message])

    # OAuth refused with a body echoing the Authorization header, as an HTML page and as JSON.
    rsps.add_callback(responses.GET, OAUTH_URL, callback=lambda r: (400, {}, "<p>" + _echo(r)))
    rsps.add_callback(responses.GET, OAUTH_URL, callback=lambda r: (503, {}, json.dumps(
        {"errorCode": "503.1", "errorMessage": _echo(r)})))
    attempt(lambda c: c.access_token())
    attempt(lambda c: c.access_token())
    # A token, then a refused token, a refresh and an STK push whose error echoes the body.
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN))
    rsps.add(responses.POST, PUSH, status=404, json={"errorCode": "404.001.03",
                                                     "errorMessage": "Invalid Access Token"})
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN_2))
    rsps.add_callback(responses.POST, PUSH, callback=lambda r: (500, {}, json.dumps(
        {"errorCode": "500.001.1001", "errorMessage": "Wrong credentials " + _echo(r)})))
    attempt(_push)
    # Plain-text and HTML pages echoing the request, a timeout, and a success.
    rsps.add_callback(responses.POST, BALANCE, callback=lambda r: (502, {}, _echo(r)))
    rsps.add_callback(responses.POST, BALANCE, callback=lambda r: (
        400, {}, f"<html><title>{_echo(r)}</title></html>"))
    rsps.add(responses.POST, BALANCE, body=requests.ReadTimeout(f"timed out {BASE}"))
    rsps.add(responses.POST, BALANCE, json={"ResponseCode": "0", "ConversationID": "AG_1"})
    for _ in range(4):
        attempt(_balance)
    # A truncated OAuth success (a token inside a body that is not valid JSON).
    cache.delete(token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET))
    rsps.add(responses.GET, OAUTH_URL, status=200, body='{"access_token": "' + TOKEN + '", "exp')
    attempt(lambda c: c.access_token(force_refresh=True))
    return seen


def test_no_secret_in_any_message_log_line_or_repr(make_client, rsps, cache, caplog):
    caplog.set_level(logging.DEBUG)
    seen = _run_every_path(make_client, rsps, cache)
    assert len(rsps.calls) == 11  # every path above really ran
    assert any("Wrong credentials" in text for text in seen)  # Safaricom's text survives
    lines = [record.getMessage() for record in caplog.records]
    lines += [caplog.text]
    assert any("Daraja POST" in line for line in lines)
    for where, texts in (("exception messages", seen), ("log lines", lines)):
        for name, secret in SECRETS.items():
            leaked = [text for text in texts if secret in text]
            assert not leaked, f"{name} leaked into {where}: {leaked[:1]}"


@pytest.mark.parametrize("obj", ["cache", "client"])
def test_reprs_hold_no_secret(make_client, cache, obj):
    cache.set(token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET), TOKEN, 100)
    text = repr(make_client() if obj == "client" else cache)
    for secret in SECRETS.values():
        assert secret not in text
