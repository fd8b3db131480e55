"""Account Balance and Transaction Status: accepted now, result POSTed later."""

from __future__ import annotations

import json

import pytest
import responses

from loyalty.daraja.errors import InvalidRequest, RequestRejected

from .conftest import BASE, SECURITY_CREDENTIAL, TOKEN

ACCEPTED = {"OriginatorConversationID": "515-5258779-3", "ConversationID": "AG_20200123_0000417fed8ed666e976",
            "ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."}
RESULT_URL = "https://cb.example.com/bal/t/8f3a/result"
TIMEOUT_URL = "https://cb.example.com/bal/t/8f3a/timeout"


def test_account_balance_sends_the_documented_request(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/accountbalance/v1/query", json=ACCEPTED)
    accepted = client.account_balance(initiator="apiop1", security_credential=SECURITY_CREDENTIAL,
                                      party_a="600000", result_url=RESULT_URL,
                                      timeout_url=TIMEOUT_URL, remarks="ok")
    call = rsps.calls[1]
    assert call.request.method == "POST"
    assert call.request.url == f"{BASE}/mpesa/accountbalance/v1/query"
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.request.headers["Content-Type"] == "application/json"
    assert json.loads(call.request.body) == {
        "Initiator": "apiop1", "SecurityCredential": SECURITY_CREDENTIAL,
        "CommandID": "AccountBalance", "PartyA": "600000", "IdentifierType": "4",
        "Remarks": "ok", "QueueTimeOutURL": TIMEOUT_URL, "ResultURL": RESULT_URL}
    assert accepted.originator_conversation_id == "515-5258779-3"
    assert accepted.conversation_id == "AG_20200123_0000417fed8ed666e976"
    assert accepted.response_code == "0"


def test_transaction_status_sends_the_documented_request(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/transactionstatus/v1/query", json=ACCEPTED)
    accepted = client.transaction_status(
        initiator="apiop1", security_credential=SECURITY_CREDENTIAL, transaction_id="NEF61H8J60",
        party_a="600782", result_url="https://cb.example.com/ts/t/8f3a/result",
        timeout_url="https://cb.example.com/ts/t/8f3a/timeout", remarks="recon")
    assert json.loads(rsps.calls[1].request.body) == {
        "Initiator": "apiop1", "SecurityCredential": SECURITY_CREDENTIAL,
        "CommandID": "TransactionStatusQuery", "TransactionID": "NEF61H8J60",
        "OriginalConversationID": "", "PartyA": "600782", "IdentifierType": "4",
        "ResultURL": "https://cb.example.com/ts/t/8f3a/result",
        "QueueTimeOutURL": "https://cb.example.com/ts/t/8f3a/timeout",
        "Remarks": "recon", "Occasion": ""}
    assert accepted.conversation_id == "AG_20200123_0000417fed8ed666e976"


def test_balance_defaults_fill_identifier_type_and_remarks(client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/accountbalance/v1/query", json=ACCEPTED)
    client.account_balance(initiator="apiop1", security_credential=SECURITY_CREDENTIAL,
                           party_a="600000", result_url=RESULT_URL, timeout_url=TIMEOUT_URL)
    body = json.loads(rsps.calls[1].request.body)
    assert (body["IdentifierType"], body["Remarks"]) == ("4", "Balance")


@pytest.mark.parametrize("code, message", [
    ("400.002.02", "Bad Request - Invalid PartyA"),
    ("500.002.1001", "Duplicate OriginatorConversationID"),
    ("404.001.04", "Invalid Authentication Header"),
])
def test_balance_refusals(client, rsps, with_token, code, message):
    status = int(code.split(".")[0])
    rsps.add(responses.POST, f"{BASE}/mpesa/accountbalance/v1/query", status=status,
             json={"requestId": "1", "errorCode": code, "errorMessage": message})
    with pytest.raises(RequestRejected) as caught:
        client.account_balance(initiator="apiop1", security_credential=SECURITY_CREDENTIAL,
                               party_a="600000", result_url=RESULT_URL, timeout_url=TIMEOUT_URL)
    assert caught.value.code == code and message in str(caught.value)


@pytest.mark.parametrize("field, overrides", [
    ("initiator", {"initiator": " "}),
    ("security_credential", {"security_credential": ""}),
    ("result_url", {"result_url": "https://cb.example.com/exec/result"}),
    ("timeout_url", {"timeout_url": "not a url"}),
    ("party_a", {"party_a": "abc"}),
])
def test_balance_refuses_bad_arguments_before_any_call(client, rsps, field, overrides):
    arguments = dict(initiator="apiop1", security_credential=SECURITY_CREDENTIAL,
                     party_a="600000", result_url=RESULT_URL, timeout_url=TIMEOUT_URL)
    arguments.update(overrides)
    with pytest.raises(InvalidRequest) as caught:
        client.account_balance(**arguments)
    assert caught.value.field == field
    assert len(rsps.calls) == 0


def test_transaction_status_asks_by_the_original_request_when_the_receipt_is_unknown(
        client, rsps, with_token):
    rsps.add(responses.POST, f"{BASE}/mpesa/transactionstatus/v1/query", json=ACCEPTED)
    accepted = client.transaction_status(
        initiator="apiop1", security_credential=SECURITY_CREDENTIAL,
        original_conversation_id="ws_CO_1007202409152617172396192", party_a="174379",
        result_url=RESULT_URL, timeout_url=TIMEOUT_URL, remarks="STK receipt")
    body = json.loads(rsps.calls[1].request.body)
    assert (body["TransactionID"], body["OriginalConversationID"]) == (
        "", "ws_CO_1007202409152617172396192")
    assert (accepted.originator_conversation_id, accepted.conversation_id) == (
        "515-5258779-3", "AG_20200123_0000417fed8ed666e976")


def test_status_needs_a_transaction_id(client, rsps):
    with pytest.raises(InvalidRequest) as caught:
        client.transaction_status(initiator="apiop1", security_credential=SECURITY_CREDENTIAL,
                                  transaction_id="", party_a="600782", result_url=RESULT_URL,
                                  timeout_url=TIMEOUT_URL)
    assert caught.value.field == "transaction_id"
