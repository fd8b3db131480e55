"""The emulator's Reversal API: strict on the request, the outcome in the async result
(DARAJA.md 16): success once, R000001 for a second request, R000002 for a stranger's receipt."""

from __future__ import annotations

import pytest

from tests.unit.emulator.conftest import add_app, bearer, pay

REVERSAL = "/_emulator/daraja/mpesa/reversal/v1/request"


def reversal_body(base: str, receipt: str, **fields):
    return {"Initiator": "testapi", "SecurityCredential": "c2VjcmV0",
            "CommandID": "TransactionReversal", "TransactionID": receipt, "Amount": "1500",
            "ReceiverParty": "600000", "RecieverIdentifierType": "11",
            "ResultURL": f"{base}/reversal", "QueueTimeOutURL": f"{base}/timeout",
            "Remarks": "Paid twice", "Occasion": "", **fields}


def test_a_reversal_is_accepted_then_its_result_sends_the_money_back(emu_client, emu, receiver):
    pay(emu_client, emu, 1500, "REV0000001")
    response = emu_client.post(REVERSAL, headers=bearer(emu_client),
                               json=reversal_body(receiver.url, "REV0000001"))
    assert response.status_code == 200
    sync = response.get_json()
    assert sync["ResponseCode"] == "0" and sync["ConversationID"].startswith("AG_")
    [envelope] = receiver.wait("/reversal")
    result = envelope["Result"]
    assert (result["ResultType"], result["ResultCode"]) == (0, 0)
    assert result["ConversationID"] == sync["ConversationID"]
    assert result["OriginatorConversationID"] == sync["OriginatorConversationID"]
    params = {p["Key"]: p["Value"] for p in result["ResultParameters"]["ResultParameter"]}
    assert params["OriginalTransactionID"] == "REV0000001"
    assert params["Amount"] == 1500.0
    assert result["TransactionID"] != "REV0000001"  # the reversal's own receipt
    assert len(str(params["TransCompletedTime"])) == 14
    assert emu.state.balance_cents("600000") == 0  # the money left the organisation


def test_a_second_reversal_of_the_same_receipt_is_already_reversed(emu_client, emu, receiver):
    pay(emu_client, emu, 1500, "REV0000002")
    for _ in range(2):
        assert emu_client.post(REVERSAL, headers=bearer(emu_client),
                               json=reversal_body(receiver.url, "REV0000002")).status_code == 200
        assert emu.dispatcher.join(5)
    first, second = receiver.wait("/reversal", 2)
    codes = sorted([first["Result"]["ResultCode"], second["Result"]["ResultCode"]], key=str)
    assert codes == [0, "R000001"]
    failed = first if first["Result"]["ResultCode"] == "R000001" else second
    assert "ResultParameters" not in failed["Result"]


@pytest.mark.parametrize("receipt, party, code", [
    ("NOPE000000", "600000", "R000002"),     # never paid
    ("REV0000003", "600111", "R000002"),     # another number's receipt
])
def test_a_receipt_that_is_not_yours_is_invalid(emu_client, emu, receiver, receipt, party, code):
    pay(emu_client, emu, 1500, "REV0000003")
    emu_client.post(REVERSAL, headers=bearer(emu_client),
                    json=reversal_body(receiver.url, receipt, ReceiverParty=party))
    [envelope] = receiver.wait("/reversal")
    assert envelope["Result"]["ResultCode"] == code


def test_more_than_was_paid_is_declined_and_the_receipt_stays_reversible(emu_client, emu, receiver):
    pay(emu_client, emu, 1500, "REV0000004")
    emu_client.post(REVERSAL, headers=bearer(emu_client),
                    json=reversal_body(receiver.url, "REV0000004", Amount=1501))
    emu_client.post(REVERSAL, headers=bearer(emu_client),
                    json=reversal_body(receiver.url, "REV0000004", Amount=500))
    first, second = receiver.wait("/reversal", 2)
    assert {first["Result"]["ResultCode"], second["Result"]["ResultCode"]} == {2006, 0}


@pytest.mark.parametrize("field, value", [
    ("CommandID", "Reversal"), ("RecieverIdentifierType", "4"), ("Remarks", "x"),
    ("Amount", "12.50"), ("ResultURL", "not a url"), ("SecurityCredential", ""),
    ("ReceiverParty", "12"),
])
def test_the_request_is_checked_like_safaricom(emu_client, receiver, field, value):
    refused = emu_client.post(REVERSAL, headers=bearer(emu_client),
                              json=reversal_body(receiver.url, "REV0000005", **{field: value}))
    assert refused.status_code == 400
    assert refused.get_json()["errorMessage"] == f"Bad Request - Invalid {field}"


def test_the_correct_spelling_of_the_identifier_type_is_not_enough(emu_client, receiver):
    body = reversal_body(receiver.url, "REV0000006")
    body["ReceiverIdentifierType"] = body.pop("RecieverIdentifierType")
    refused = emu_client.post(REVERSAL, headers=bearer(emu_client), json=body)
    assert refused.get_json()["errorMessage"] == "Bad Request - Invalid RecieverIdentifierType"


def test_an_app_without_the_reversal_product_is_refused(emu_client, receiver):
    add_app(emu_client, consumer_key="no-reversal", products=["c2b_v2", "balance"])
    refused = emu_client.post(REVERSAL, headers=bearer(emu_client, key="no-reversal",
                                                       secret="secret"),
                              json=reversal_body(receiver.url, "REV0000007"))
    assert refused.status_code == 401 and refused.get_json()["errorCode"] == "401.003.01"
