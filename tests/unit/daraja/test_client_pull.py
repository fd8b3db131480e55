"""Pull Transactions (DARAJA.md 4.8, 17): register and query, every documented shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import responses

from loyalty.daraja import pull
from loyalty.daraja.errors import (
    BadCredentials,
    DarajaUnavailable,
    InvalidRequest,
    RequestRejected,
)

from .conftest import BASE, OAUTH_URL, TOKEN, TOKEN_2, oauth_body

REGISTER = f"{BASE}/pulltransactions/v1/register"
QUERY = f"{BASE}/pulltransactions/v1/query"
CALLBACK = "https://cb.example.com/hooks/8f3a/result/pull"
# 2020-08-04 08:36:00 and 2020-08-05 08:36:00 in Nairobi.
START = datetime(2020, 8, 4, 5, 36, tzinfo=UTC)
END = datetime(2020, 8, 5, 5, 36, tzinfo=UTC)
ROW = {"transactionId": "OEI2AK4Q16", "trxDate": "2020-08-05T10:13:00Z", "msisdn": 722000000,
       "sender": "UAT2", "transactiontype": "c2b-pay-bill-debit",
       "billreference": "VIP001", "amount": "168.00", "organizationname": "Daraja Pull API Test"}


def page(*rows, code="1000"):
    return {"ResponseRefID": "26178-42530161-2", "ResponseCode": code,
            "ResponseMessage": "Success", "Response": [list(rows)]}


def test_register_sends_the_documented_request_without_the_mpesa_prefix(client, rsps, with_token):
    rsps.add(responses.POST, REGISTER, json={
        "ResponseRefID": "feb5e3f2-fbc-4745-844c-ee37b546f627", "ResponseStatus": "1000",
        "ShortCode": "600000", "ResponseDescription": "Shortcode Registered Successfully"})
    registered = client.pull_register(shortcode="600000", nominated_number="0722000000",
                                      callback_url=CALLBACK)
    call = rsps.calls[1].request
    assert call.url == REGISTER
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(call.body) == {"ShortCode": "600000", "RequestType": "Pull",
                                     "NominatedNumber": "254722000000", "CallBackURL": CALLBACK}
    assert (registered.status, registered.already_registered) == ("1000", False)
    assert registered.response_ref_id == "feb5e3f2-fbc-4745-844c-ee37b546f627"


def test_register_reads_the_spaced_key_and_takes_1001_as_success(client, rsps, with_token):
    rsps.add(responses.POST, REGISTER, json={
        "ResponseRefID": "1-2", "Response Status": "1001", "ShortCode": "600000",
        "Response Description": "ShortCode already Registered"})
    registered = client.pull_register(shortcode="600000", nominated_number="254722000000",
                                      callback_url=CALLBACK)
    assert registered.already_registered
    assert registered.description == "ShortCode already Registered"


def test_register_with_another_status_is_refused_with_safaricoms_words(client, rsps, with_token):
    rsps.add(responses.POST, REGISTER, json={"ResponseStatus": "1002",
                                             "ResponseDescription": "Nominated number mismatch"})
    with pytest.raises(RequestRejected, match="Nominated number mismatch"):
        client.pull_register(shortcode="600000", nominated_number="254722000000",
                             callback_url=CALLBACK)


def test_the_nominated_number_must_be_a_phone_not_the_shortcode(client, rsps):
    with pytest.raises(InvalidRequest) as refused:
        client.pull_register(shortcode="600000", nominated_number="600000", callback_url=CALLBACK)
    assert refused.value.field == "nominated_number"
    assert len(rsps.calls) == 0


def test_query_sends_the_window_in_nairobi_time_and_a_numeric_offset(client, rsps, with_token):
    rsps.add(responses.POST, QUERY, json=page(ROW))
    client.pull_query(shortcode="600000", start=START, end=END, offset=100)
    assert json.loads(rsps.calls[1].request.body) == {
        "ShortCode": "600000", "StartDate": "2020-08-04 08:36:00",
        "EndDate": "2020-08-05 08:36:00", "OffSetValue": 100}


def test_query_flattens_the_nested_rows(client, rsps, with_token):
    second = {**ROW, "transactionId": "OEI2AK4Q17"}
    rsps.add(responses.POST, QUERY, json={**page(ROW), "Response": [[ROW], [second]]})
    found = client.pull_query(shortcode="600000", start=START, end=END)
    assert found.response_code == "1000"
    assert [row["transactionId"] for row in found.rows] == ["OEI2AK4Q16", "OEI2AK4Q17"]


@pytest.mark.parametrize("empty", [
    {"ResponseCode": "1001", "ResponseMessage": "No transactions", "Response": [[]]},
    {"ResponseCode": "1001", "ResponseMessage": "No transactions", "Response": []},
    {"ResponseCode": "1001", "Transaction": "[[]]"},
    {"ResponseCode": "1001", "Response": "[[]]"},
    {"ResponseCode": "1000", "Response": [[]]},
], ids=["[[]]", "[]", "Transaction string", "Response string", "1000 without rows"])
def test_every_shape_of_no_rows_is_an_empty_page(client, rsps, with_token, empty):
    rsps.add(responses.POST, QUERY, json=empty)
    assert client.pull_query(shortcode="600000", start=START, end=END).rows == []


def test_an_unknown_query_code_is_a_refusal(client, rsps, with_token):
    rsps.add(responses.POST, QUERY, json={"ResponseCode": "1003", "ResponseMessage": "Bad window"})
    with pytest.raises(RequestRejected, match="Bad window"):
        client.pull_query(shortcode="600000", start=START, end=END)


def test_a_window_that_ends_before_it_starts_is_refused_before_sending(client, rsps):
    with pytest.raises(InvalidRequest):
        client.pull_query(shortcode="600000", start=END, end=START)
    assert len(rsps.calls) == 0


def test_400_001_invalid_shortcode_is_a_refusal(client, rsps, with_token):
    rsps.add(responses.POST, QUERY, status=400, json={
        "requestId": "1-2-3", "errorCode": "400.001", "errorMessage": "Invalid ShortCode"})
    with pytest.raises(RequestRejected, match="Invalid ShortCode") as refused:
        client.pull_query(shortcode="600000", start=START, end=END)
    assert refused.value.code == "400.001"


def test_401_001_refreshes_the_token_once_then_blames_the_credentials(client, rsps, with_token):
    refused = {"requestId": "1-2-3", "errorCode": "401.001", "errorMessage": "Invalid Access Token"}
    rsps.add(responses.POST, QUERY, status=401, json=refused)
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN_2))
    rsps.add(responses.POST, QUERY, status=401, json=refused)
    with pytest.raises(BadCredentials):
        client.pull_query(shortcode="600000", start=START, end=END)
    assert rsps.calls[3].request.headers["Authorization"] == f"Bearer {TOKEN_2}"


def test_401_001_once_is_answered_with_a_fresh_token(client, rsps, with_token):
    rsps.add(responses.POST, QUERY, status=200, json={
        "requestId": "1", "errorCode": "401.001", "errorMessage": "Invalid Access Token"})
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN_2))
    rsps.add(responses.POST, QUERY, json=page(ROW))
    assert len(client.pull_query(shortcode="600000", start=START, end=END).rows) == 1


@pytest.mark.parametrize("status", [500, 200])
def test_500_failed_to_retrieve_is_unavailable(client, rsps, with_token, status):
    rsps.add(responses.POST, QUERY, status=status, json={
        "requestId": "1", "errorCode": "500",
        "errorMessage": "Failed to retrieve transactions."})
    with pytest.raises(DarajaUnavailable, match="Failed to retrieve"):
        client.pull_query(shortcode="600000", start=START, end=END)


# --- rows -----------------------------------------------------------------------------------


def test_a_c2b_debit_row_is_a_payment_with_a_utc_time():
    row = pull.classify(ROW)
    assert isinstance(row, pull.PulledPayment)
    assert (row.trans_id, row.amount, row.bill_ref, row.msisdn) == (
        "OEI2AK4Q16", Decimal("168.00"), "VIP001", "722000000")
    assert row.trans_time == datetime(2020, 8, 5, 10, 13, tzinfo=UTC)
    assert row.utc_marked


@pytest.mark.parametrize("text, expected, marked", [
    ("2020-08-05T10:13:00Z", datetime(2020, 8, 5, 10, 13, tzinfo=UTC), True),
    ("2020-08-05T13:13:00+03:00", datetime(2020, 8, 5, 10, 13, tzinfo=UTC), False),
    ("2020-08-05T10:13:00.000Z", datetime(2020, 8, 5, 10, 13, tzinfo=UTC), True),
    ("2020-08-05 13:13:00", datetime(2020, 8, 5, 10, 13, tzinfo=UTC), False),
    ("2020-08-05 13:13", datetime(2020, 8, 5, 10, 13, tzinfo=UTC), False),
    ("20200805131300", datetime(2020, 8, 5, 10, 13, tzinfo=UTC), False),
])
def test_trx_date_with_z_an_offset_or_nairobi_wall_clock(text, expected, marked):
    assert pull.read_trx_date(text) == (expected, marked)


def test_a_numeric_amount_and_msisdn_are_read_exactly():
    row = pull.classify({**ROW, "amount": 233.8, "msisdn": 254712345678.0})
    assert (row.amount, row.msisdn) == (Decimal("233.80"), "254712345678")


@pytest.mark.parametrize("kind", ["c2b-pay-bill-credit", "b2c-payment", "reversal",
                                  "business-buy-goods-debit"])
def test_rows_that_are_not_a_customer_paying_are_ignored(kind):
    row = pull.classify({**ROW, "transactiontype": kind})
    assert row == pull.IgnoredRow(trans_id="OEI2AK4Q16", transaction_type=kind)


def test_buy_goods_debits_are_payments_too():
    assert isinstance(pull.classify({**ROW, "transactiontype": "c2b-buy-goods-debit",
                                     "billreference": None}), pull.PulledPayment)


@pytest.mark.parametrize("change, reason", [
    ({"transactionId": None}, "missing transactionId"),
    ({"transactionId": "OEI 2AK4"}, "unreadable transactionId"),
    ({"transactiontype": ""}, "missing transactiontype"),
    ({"trxDate": None}, "missing trxDate"),
    ({"trxDate": "yesterday"}, "unreadable trxDate"),
    ({"amount": None}, "missing amount"),
    ({"amount": "NaN"}, "unreadable amount"),
    ({"amount": "-5"}, "unreadable amount"),
    ({"amount": "1.005"}, "unreadable amount"),
])
def test_rows_with_missing_or_unreadable_fields_are_skipped_with_a_reason(change, reason):
    assert pull.classify({**ROW, **change}) == pull.SkippedRow(reason)


def test_a_row_that_is_not_an_object_is_skipped():
    assert pull.classify("OEI2AK4Q16") == pull.SkippedRow("not an object")
