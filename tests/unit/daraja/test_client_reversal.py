"""The Reversal API (DARAJA.md 16): the request, its acknowledgement, its refusals, and the
result Safaricom POSTs later, in each shape it comes in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import responses

from loyalty.daraja.callbacks import CallbackParseError, parse_reversal_result
from loyalty.daraja.errors import DarajaUnavailable, InvalidRequest, RateLimited, RequestRejected
from loyalty.daraja.results import reversal_outcome

from .conftest import BASE, SECURITY_CREDENTIAL, TOKEN

URL = f"{BASE}/mpesa/reversal/v1/request"
ACCEPTED = {"OriginatorConversationID": "f1e2-4b95-a71d-b30d3cdbb7a7942864",
            "ConversationID": "AG_20210706_20106e9209f64bebd05b",
            "ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."}
RESULT_URL = "https://cb.example.com/hooks/8f3a/result/reversal/7"
TIMEOUT_URL = "https://cb.example.com/hooks/8f3a/timeout/reversal/7"


def reverse(client, **overrides):
    args = dict(initiator="apiop1", security_credential=SECURITY_CREDENTIAL,
                transaction_id="RKTQDM7W6S", amount=2500, receiver_party="600000",
                result_url=RESULT_URL, timeout_url=TIMEOUT_URL, remarks="Customer paid twice",
                occasion="Reversal 7")
    return client.reversal(**{**args, **overrides})


def test_reversal_sends_the_documented_request(client, rsps, with_token):
    rsps.add(responses.POST, URL, json=ACCEPTED)
    accepted = reverse(client)
    call = rsps.calls[1]
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(call.request.body) == {
        "Initiator": "apiop1", "SecurityCredential": SECURITY_CREDENTIAL,
        "CommandID": "TransactionReversal", "TransactionID": "RKTQDM7W6S", "Amount": "2500",
        "ReceiverParty": "600000", "RecieverIdentifierType": "11",
        "ResultURL": RESULT_URL, "QueueTimeOutURL": TIMEOUT_URL,
        "Remarks": "Customer paid twice", "Occasion": "Reversal 7"}
    assert accepted.originator_conversation_id == "f1e2-4b95-a71d-b30d3cdbb7a7942864"
    assert accepted.conversation_id == "AG_20210706_20106e9209f64bebd05b"
    assert accepted.response_code == "0"


def test_a_decimal_amount_of_whole_shillings_is_sent_as_digits(client, rsps, with_token):
    rsps.add(responses.POST, URL, json=ACCEPTED)
    reverse(client, amount=Decimal("5000.00"))
    assert json.loads(rsps.calls[1].request.body)["Amount"] == "5000"


@pytest.mark.parametrize("field, overrides", [
    ("amount", {"amount": Decimal("10.50")}),      # M-Pesa moves whole shillings
    ("amount", {"amount": 0}),
    ("amount", {"amount": 10.0}),                  # money is never a float
    ("remarks", {"remarks": " x "}),               # 2 to 100 characters, required
    ("transaction_id", {"transaction_id": " "}),
    ("receiver_party", {"receiver_party": "12"}),
    ("initiator", {"initiator": ""}),
    ("result_url", {"result_url": "https://cb.example.com/mpesa/result"}),  # a forbidden word
])
def test_what_safaricom_would_refuse_is_refused_before_sending(client, rsps, field, overrides):
    with pytest.raises(InvalidRequest) as caught:
        reverse(client, **overrides)
    assert caught.value.field == field
    assert len(rsps.calls) == 0


def test_long_remarks_are_cut_to_safaricoms_limit(client, rsps, with_token):
    rsps.add(responses.POST, URL, json=ACCEPTED)
    reverse(client, remarks="r" * 150)
    assert json.loads(rsps.calls[1].request.body)["Remarks"] == "r" * 100


@pytest.mark.parametrize("status, code, error", [
    (400, "400.002.02", RequestRejected),
    (401, "401.003.01", RequestRejected),   # no Reversal product on the app
    (500, "500.003.02", RateLimited),
])
def test_refusals_map_to_the_error_families(client, rsps, with_token, status, code, error):
    rsps.add(responses.POST, URL, status=status,
             json={"requestId": "1", "errorCode": code, "errorMessage": "Bad Request - Invalid Amount"})
    with pytest.raises(error) as caught:
        reverse(client)
    assert caught.value.code == code
    assert SECURITY_CREDENTIAL not in str(caught.value)


def test_an_html_proxy_page_is_unavailable_not_accepted(client, rsps, with_token):
    rsps.add(responses.POST, URL, status=502, body="<html>Bad gateway</html>",
             content_type="text/html")
    with pytest.raises(DarajaUnavailable):
        reverse(client)


# --- the result -------------------------------------------------------------------------


def result(code=0, parameters=None, **extra):
    body = {"Result": {"ResultType": 0, "ResultCode": code,
                       "ResultDesc": "The service request is processed successfully.",
                       "OriginatorConversationID": "f1e2-4b95", "ConversationID": "AG_2021",
                       "TransactionID": "SGJ81CVBQF",
                       "ReferenceData": {"ReferenceItem": {"Key": "QueueTimeoutURL",
                                                           "Value": TIMEOUT_URL}}, **extra}}
    if parameters is not None:
        body["Result"]["ResultParameters"] = {"ResultParameter": parameters}
    return body


SUCCESS_PARAMETERS = [
    {"Key": "DebitAccountBalance", "Value": "Utility Account|KES|51661.00|51661.00|0.00|0.00"},
    {"Key": "Amount", "Value": 2500.0},
    {"Key": "TransCompletedTime", "Value": 20240710091526},
    {"Key": "OriginalTransactionID", "Value": "RKTQDM7W6S"},
    {"Key": "Charge", "Value": 0.0},
    {"Key": "CreditPartyPublicName", "Value": "254712345678 - John Doe"},
    {"Key": "DebitPartyPublicName", "Value": "600000 - Acme"},
]


def test_a_success_names_the_reversed_receipt_and_its_own():
    parsed = parse_reversal_result(result(parameters=SUCCESS_PARAMETERS))
    assert parsed.result.succeeded
    assert parsed.original_transaction_id == "RKTQDM7W6S"
    assert parsed.receipt == "SGJ81CVBQF"
    assert parsed.amount == Decimal("2500.0")
    assert parsed.completed_at == datetime(2024, 7, 10, 6, 15, 26, tzinfo=UTC)  # Nairobi time
    assert (parsed.result.conversation_id, parsed.result.originator_conversation_id) == \
        ("AG_2021", "f1e2-4b95")


def test_codes_and_amounts_as_strings_and_one_bare_parameter_are_read():
    parsed = parse_reversal_result(result(code="0", ResultType="0", parameters={
        "Key": "OriginalTransactionID", "Value": "RKTQDM7W6S"}))
    assert parsed.result.succeeded and parsed.original_transaction_id == "RKTQDM7W6S"
    assert parsed.amount is None and parsed.completed_at is None
    assert parse_reversal_result(result(parameters=[
        {"Key": "Amount", "Value": "1,000.00"}, {"Key": "TransCompletedTime", "Value": "junk"}])
    ).amount == Decimal("1000.00")  # an odd time never holds the reversal up


@pytest.mark.parametrize("code", ["R000001", "R000002", 1, "2001"])
def test_a_failure_carries_no_receipt_and_no_parameters(code):
    parsed = parse_reversal_result(result(code=code, ResultDesc="The transaction has already "
                                                               "been reversed."))
    assert not parsed.result.succeeded
    assert parsed.result.result_code == str(code)
    assert parsed.receipt == "" and parsed.original_transaction_id == ""


@pytest.mark.parametrize("body", [
    {"Result": {"ResultCode": 0}},                       # nothing to match it with
    {"Result": {"ConversationID": "AG_1"}},              # no ResultCode
    {"Result": "done"},
    [],
])
def test_a_result_that_cannot_be_matched_or_read_is_refused(body):
    with pytest.raises(CallbackParseError):
        parse_reversal_result(body)


def test_the_merchant_is_told_what_the_documented_codes_mean():
    assert "already reversed" in reversal_outcome("R000001")
    assert "mark it as reversed" in reversal_outcome("R000001")
    assert "R000002" in reversal_outcome("R000002")
    assert "does not hold enough money" in reversal_outcome("1")
    assert reversal_outcome("X123") is None  # shown with Safaricom's own words instead
