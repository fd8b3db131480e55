"""Parsing what Safaricom POSTs: C2B, STK callbacks, async results, balance strings."""

from __future__ import annotations

import copy
import hashlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from loyalty.daraja.callbacks import (
    CallbackParseError,
    parse_account_balance,
    parse_c2b,
    parse_result,
    parse_stk_callback,
    parse_transaction_status,
)

SANDBOX_HASH = hashlib.sha256(b"254708374149").hexdigest()

# DARAJA.md 4.4
C2B = {"TransactionType": "Pay Bill", "TransID": "RKTQDM7W6S", "TransTime": "20191122063845",
       "TransAmount": "10.00", "BusinessShortCode": "600638", "BillRefNumber": "invoice008",
       "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "",
       "MSISDN": SANDBOX_HASH, "FirstName": "John", "MiddleName": "", "LastName": ""}

# DARAJA.md 6.4
STK_SUCCESS = {"Body": {"stkCallback": {
    "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
    "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
    "CallbackMetadata": {"Item": [
        {"Name": "Amount", "Value": 1.00}, {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
        {"Name": "Balance"}, {"Name": "TransactionDate", "Value": 20191219102115},
        {"Name": "PhoneNumber", "Value": 254708374149}]}}}}

# DARAJA.md 10
RESULT = {"Result": {
    "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
    "OriginatorConversationID": "3213-416199-2", "ConversationID": "AG_20180223_0000493344ae97d86f75",
    "TransactionID": "MBN0000000",
    "ResultParameters": {"ResultParameter": [{"Key": "ReceiptNo", "Value": "MBN31H462N"}]},
    "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}}}}

BALANCE = ("Working Account|KES|700000.00|700000.00|0.00|0.00&Utility Account|KES|228037.00|"
           "228037.00|0.00|0.00&Charges Paid Account|KES|-1540.00|-1540.00|0.00|0.00")


# --- C2B -----------------------------------------------------------------------------------


def test_c2b_documented_sample():
    payment = parse_c2b(C2B)
    assert payment.trans_id == "RKTQDM7W6S"
    assert payment.trans_type == "Pay Bill"
    assert payment.trans_time == datetime(2019, 11, 22, 3, 38, 45, tzinfo=UTC)  # 06:38:45 EAT
    assert payment.amount == Decimal("10.00") and isinstance(payment.amount, Decimal)
    assert payment.shortcode == "600638"
    assert payment.bill_ref == "invoice008"
    assert payment.msisdn == SANDBOX_HASH
    assert (payment.first_name, payment.middle_name, payment.last_name) == ("John", "", "")
    assert payment.org_balance is None


def test_c2b_numbers_instead_of_strings():
    body = dict(C2B, TransAmount=5000, BusinessShortCode=600638, TransTime=20191122063845,
                MSISDN=254708374149, OrgAccountBalance=49197.5, BillRefNumber="  VIP001 ")
    payment = parse_c2b(body)
    assert payment.amount == Decimal("5000")
    assert payment.shortcode == "600638"
    assert payment.msisdn == "254708374149"
    assert payment.org_balance == Decimal("49197.5")
    assert payment.bill_ref == "VIP001"
    assert payment.trans_time.tzinfo is UTC


def test_c2b_buy_goods_with_missing_optional_fields():
    body = {key: C2B[key] for key in ("TransID", "TransTime", "TransAmount", "BusinessShortCode")}
    body.update(TransactionType="Buy Goods", BillRefNumber=None, FirstName=None)
    payment = parse_c2b(body)
    assert payment.bill_ref == "" and payment.first_name == "" and payment.msisdn == ""


@pytest.mark.parametrize("field, value", [
    ("TransID", None), ("TransID", "  "), ("TransAmount", None), ("TransAmount", "ten"),
    ("TransAmount", "-5.00"), ("TransAmount", "NaN"), ("TransTime", "2019-11-22 06:38"),
    ("TransTime", "20191340063845"), ("BusinessShortCode", ""), ("OrgAccountBalance", "n/a"),
])
def test_c2b_bad_field_is_named(field, value):
    with pytest.raises(CallbackParseError) as caught:
        parse_c2b(dict(C2B, **{field: value}))
    assert caught.value.field == field
    assert field in str(caught.value)


@pytest.mark.parametrize("field, value", [
    ("TransID", "R" * 21), ("TransID", "RKT QDM7W6"), ("TransID", "RKTQDM7W6Ş"),
    ("TransAmount", "1E+20"), ("TransAmount", 1e20), ("TransAmount", "1000000.01"),
    ("TransAmount", "0"), ("TransAmount", "0.00"), ("TransAmount", "10.001"),
    ("TransAmount", "Infinity"), ("TransAmount", float("inf")), ("TransAmount", "1e-3"),
    ("BillRefNumber", "B" * 21), ("FirstName", "N" * 101), ("MiddleName", "M" * 101),
    ("LastName", "L" * 101), ("TransactionType", "T" * 61), ("MSISDN", "9" * 81),
    ("BusinessShortCode", "60063a"), ("BusinessShortCode", "6" * 13),
])
def test_c2b_values_out_of_darajas_shapes_are_refused_naming_the_field(field, value):
    with pytest.raises(CallbackParseError) as caught:
        parse_c2b(dict(C2B, **{field: value}))
    assert caught.value.field == field
    assert field in str(caught.value)
    assert len(str(caught.value)) < 200  # the reason quotes at most the start of the value


@pytest.mark.parametrize("field, value", [
    ("TransID", "R" * 20), ("TransID", "1"), ("TransAmount", "1000000"),
    ("TransAmount", "0.01"), ("TransAmount", 1000000.0), ("TransAmount", "1,500.00"),
    ("TransAmount", "10.000"), ("BillRefNumber", "B" * 20), ("FirstName", "N" * 100),
])
def test_c2b_values_at_the_edge_of_the_shapes_are_accepted(field, value):
    parse_c2b(dict(C2B, **{field: value}))


def test_stk_receipt_and_amount_follow_the_c2b_shapes():
    for name, value in (("MpesaReceiptNumber", "N" * 21), ("Amount", "1E+20"), ("Amount", 0),
                        ("PhoneNumber", "2" * 81)):
        body = copy.deepcopy(STK_SUCCESS)
        for item in body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]:
            if item["Name"] == name:
                item["Value"] = value
        with pytest.raises(CallbackParseError) as caught:
            parse_stk_callback(body)
        assert caught.value.field == name
    body = copy.deepcopy(STK_SUCCESS)
    body["Body"]["stkCallback"]["CheckoutRequestID"] = "c" * 65
    with pytest.raises(CallbackParseError, match="CheckoutRequestID"):
        parse_stk_callback(body)


@pytest.mark.parametrize("body", [None, [], "TransID=1", 42])
def test_c2b_body_must_be_an_object(body):
    with pytest.raises(CallbackParseError, match="object|missing"):
        parse_c2b(body)


# --- STK callback ---------------------------------------------------------------------------


def test_stk_success_documented_sample():
    callback = parse_stk_callback(STK_SUCCESS)
    assert callback.succeeded
    assert callback.merchant_request_id == "29115-34620561-1"
    assert callback.checkout_request_id == "ws_CO_191220191020363925"
    assert callback.result_code == "0"
    assert callback.receipt == "NLJ7RT61SV"
    assert callback.amount == Decimal("1.0")
    assert callback.phone == "254708374149"
    assert callback.transaction_date == datetime(2019, 12, 19, 7, 21, 15, tzinfo=UTC)
    assert callback.metadata["Balance"] is None  # a missing Value is tolerated


def test_stk_items_are_found_by_name_not_position():
    body = copy.deepcopy(STK_SUCCESS)
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"].reverse()
    assert parse_stk_callback(body).receipt == "NLJ7RT61SV"


def test_stk_failure_has_no_metadata_and_code_as_string():
    body = {"Body": {"stkCallback": {"MerchantRequestID": "m1", "CheckoutRequestID": "ws_CO_1",
                                     "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}}
    callback = parse_stk_callback(body)
    assert not callback.succeeded
    assert callback.result_code == "1032"
    assert (callback.receipt, callback.amount, callback.phone) == (None, None, None)


def test_stk_string_result_code_and_single_item_object():
    body = {"Body": {"stkCallback": {
        "MerchantRequestID": "m1", "CheckoutRequestID": "ws_CO_1", "ResultCode": "SFC_IC0003",
        "ResultDesc": "The operator does not exist",
        "CallbackMetadata": {"Item": {"Name": "Balance"}}}}}
    callback = parse_stk_callback(body)
    assert callback.result_code == "SFC_IC0003"
    assert callback.metadata == {"Balance": None}


def test_stk_success_needs_receipt_and_amount():
    body = copy.deepcopy(STK_SUCCESS)
    items = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"] = [
        item for item in items if item["Name"] != "MpesaReceiptNumber"]
    with pytest.raises(CallbackParseError) as caught:
        parse_stk_callback(body)
    assert caught.value.field == "MpesaReceiptNumber"

    body = copy.deepcopy(STK_SUCCESS)
    del body["Body"]["stkCallback"]["CallbackMetadata"]
    with pytest.raises(CallbackParseError) as caught:
        parse_stk_callback(body)
    assert caught.value.field == "CallbackMetadata"


@pytest.mark.parametrize("body, field", [
    ({}, "Body"),
    ({"Body": {}}, "Body.stkCallback"),
    ({"Body": {"stkCallback": {"CheckoutRequestID": "c", "ResultCode": 1}}},
     "Body.stkCallback.MerchantRequestID"),
    ({"Body": {"stkCallback": {"MerchantRequestID": "m", "ResultCode": 1}}},
     "Body.stkCallback.CheckoutRequestID"),
    ({"Body": {"stkCallback": {"MerchantRequestID": "m", "CheckoutRequestID": "c"}}},
     "Body.stkCallback.ResultCode"),
])
def test_stk_missing_fields_are_named(body, field):
    with pytest.raises(CallbackParseError) as caught:
        parse_stk_callback(body)
    assert caught.value.field == field


# --- async results --------------------------------------------------------------------------


def test_result_documented_sample():
    result = parse_result(RESULT)
    assert result.succeeded
    assert (result.result_type, result.result_code) == (0, "0")
    assert result.originator_conversation_id == "3213-416199-2"
    assert result.conversation_id == "AG_20180223_0000493344ae97d86f75"
    assert result.transaction_id == "MBN0000000"
    assert result.parameters == {"ReceiptNo": "MBN31H462N"}
    assert result.reference_data == {"Occasion": None}


def test_balance_result_with_a_single_parameter_object_and_string_codes():
    body = copy.deepcopy(RESULT)
    body["Result"].update(ResultType="0", ResultCode="0", ResultParameters={
        "ResultParameter": {"Key": "AccountBalance", "Value": BALANCE}})
    result = parse_result(body)
    assert result.result_type == 0
    assert list(result.parameters) == ["AccountBalance"]
    accounts = parse_account_balance(result.parameters["AccountBalance"])
    assert [a["name"] for a in accounts] == ["Working Account", "Utility Account",
                                             "Charges Paid Account"]
    assert accounts[1]["available"] == Decimal("228037.00")
    assert accounts[2]["available"] == Decimal("-1540.00")
    assert accounts[0]["amounts"] == [Decimal("700000.00"), Decimal("700000.00"),
                                      Decimal("0.00"), Decimal("0.00")]
    assert accounts[0]["currency"] == "KES"


def test_failed_result_without_parameters():
    body = {"Result": {"ResultType": 0, "ResultCode": 2001,
                       "ResultDesc": "The initiator information is invalid.",
                       "OriginatorConversationID": "o-1", "ConversationID": "AG_1",
                       "TransactionID": "", "ResultParameters": ""}}
    result = parse_result(body)
    assert (result.result_code, result.parameters, result.reference_data) == ("2001", {}, {})
    assert not result.succeeded


def test_result_parameter_values_may_be_numbers_or_missing():
    body = copy.deepcopy(RESULT)
    body["Result"]["ResultParameters"]["ResultParameter"] = [
        {"Key": "Amount", "Value": 100}, {"Key": "ReasonType"}, {"Key": "Conversation ID",
                                                                "Value": "AG_1"}]
    assert parse_result(body).parameters == {"Amount": 100, "ReasonType": None,
                                             "Conversation ID": "AG_1"}


@pytest.mark.parametrize("change, field", [
    ({"ResultCode": None}, "Result.ResultCode"),
    ({"OriginatorConversationID": "", "ConversationID": None}, "Result.ConversationID"),
    ({"ResultType": "final"}, "Result.ResultType"),
    ({"ResultParameters": {"ResultParameter": [{"Value": "x"}]}},
     "Result.ResultParameters.ResultParameter"),
    ({"ResultParameters": {"ResultParameter": "ReceiptNo=1"}},
     "Result.ResultParameters.ResultParameter"),
])
def test_result_bad_fields_are_named(change, field):
    body = copy.deepcopy(RESULT)
    body["Result"].update(change)
    with pytest.raises(CallbackParseError) as caught:
        parse_result(body)
    assert caught.value.field == field


def test_result_envelope_is_required():
    with pytest.raises(CallbackParseError) as caught:
        parse_result({"result": {}})
    assert caught.value.field == "Result"


# --- transaction status results ----------------------------------------------------------------

# DARAJA.md 8, with the spaced keys one sample has.
STATUS = {"Result": {
    "ResultType": 0, "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
    "OriginatorConversationID": "10571-7910404-1", "ConversationID": "AG_20191219_00004e48cf7e3533f581",
    "TransactionID": "NLJ41HAY6Q",
    "ResultParameters": {"ResultParameter": [
        {"Key": "DebitPartyName", "Value": "254708***149 - John"},
        {"Key": "Originator Conversation ID", "Value": "10571-7910404-1"},
        {"Key": "InitiatedTime", "Value": 20191219102115},
        {"Key": "DebitAccountType", "Value": "MMF Account For Customer"},
        {"Key": "TransactionStatus", "Value": "Completed"},
        {"Key": "FinalisedTime", "Value": 20191219102115},
        {"Key": "Amount", "Value": 1.0},
        {"Key": "Conversation ID", "Value": "AG_20191219_00004e48cf7e3533f581"},
        {"Key": "ReceiptNo", "Value": "NLJ7RT61SV"}]},
    "ReferenceData": {"ReferenceItem": {"Key": "Occasion"}}}}


def test_transaction_status_documented_sample():
    status = parse_transaction_status(parse_result(STATUS))
    # The receipt is ReceiptNo; the envelope's TransactionID is the query's own.
    assert status.receipt == "NLJ7RT61SV"
    assert status.completed and status.amount == Decimal("1.0")
    assert status.finalised_at == datetime(2019, 12, 19, 7, 21, 15, tzinfo=UTC)
    assert status.debit_party == "254708***149 - John"


def test_transaction_status_keys_are_matched_without_spaces_or_case():
    body = copy.deepcopy(STATUS)
    body["Result"]["ResultParameters"]["ResultParameter"] = [
        {"Key": "Receipt No.", "Value": "NLJ7RT61SV"}, {"Key": "transaction status",
                                                        "Value": "Cancelled"},
        {"Key": "Amount", "Value": "250.00"}]
    status = parse_transaction_status(parse_result(body))
    assert (status.receipt, status.status, status.amount) == ("NLJ7RT61SV", "Cancelled",
                                                              Decimal("250.00"))
    assert not status.completed and status.finalised_at is None


def test_transaction_status_without_parameters_has_no_receipt():
    body = copy.deepcopy(STATUS)
    body["Result"].update(ResultCode=25, ResultParameters=None)
    status = parse_transaction_status(parse_result(body))
    assert status.receipt is None and status.amount is None


def test_transaction_status_bad_amount_is_named():
    body = copy.deepcopy(STATUS)
    body["Result"]["ResultParameters"]["ResultParameter"][6]["Value"] = "one shilling"
    with pytest.raises(CallbackParseError) as caught:
        parse_transaction_status(parse_result(body))
    assert caught.value.field == "Amount"


# --- account balance strings -----------------------------------------------------------------


def test_balance_string_tolerates_a_trailing_separator_and_short_rows():
    accounts = parse_account_balance("Merchant Account|KES|1500.00&")
    assert accounts == [{"name": "Merchant Account", "currency": "KES",
                         "amounts": [Decimal("1500.00")], "available": Decimal("1500.00"),
                         "uncleared": None, "reserved": None, "unlabelled": None}]
    assert parse_account_balance("") == []


@pytest.mark.parametrize("value", ["Working Account|KES", "|KES|1.00", "Working|KES|abc|0|0|0",
                                   "A|KES|1|2|3|4|5", 12.5])
def test_malformed_balance_strings_are_refused(value):
    with pytest.raises(CallbackParseError) as caught:
        parse_account_balance(value)
    assert caught.value.field == "AccountBalance"
