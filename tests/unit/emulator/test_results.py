"""Account Balance and Transaction Status: sync acceptance, async Result envelope (DARAJA.md 8-10)."""

from __future__ import annotations

from tests.unit.emulator.conftest import add_app, bearer, pay
from tests.unit.emulator.test_stk import PUSH, push_body, set_delay

BALANCE = "/_emulator/daraja/mpesa/accountbalance/v1/query"
STATUS = "/_emulator/daraja/mpesa/transactionstatus/v1/query"


def balance_body(base: str, **fields):
    return {"Initiator": "testapi", "SecurityCredential": "c2VjcmV0", "CommandID": "AccountBalance",
            "PartyA": "600000", "IdentifierType": "4", "Remarks": "ok",
            "QueueTimeOutURL": f"{base}/timeout", "ResultURL": f"{base}/result", **fields}


def status_body(base: str, receipt: str, **fields):
    return {"Initiator": "testapi", "SecurityCredential": "c2VjcmV0",
            "CommandID": "TransactionStatusQuery", "TransactionID": receipt,
            "OriginalConversationID": "", "PartyA": "600000", "IdentifierType": "4",
            "ResultURL": f"{base}/status", "QueueTimeOutURL": f"{base}/timeout",
            "Remarks": "recon", "Occasion": "audit", **fields}


def test_account_balance_answers_then_posts_the_result(emu_client, emu, receiver):
    pay(emu_client, emu, 1500, "BAL0000001")
    response = emu_client.post(BALANCE, headers=bearer(emu_client), json=balance_body(receiver.url))
    assert response.status_code == 200
    sync = response.get_json()
    assert sync["ResponseCode"] == "0"
    assert sync["ResponseDescription"] == "Accept the service request successfully."
    assert sync["ConversationID"].startswith("AG_") and sync["OriginatorConversationID"]

    [envelope] = receiver.wait("/result")
    result = envelope["Result"]
    assert (result["ResultType"], result["ResultCode"]) == (0, 0)
    assert result["ConversationID"] == sync["ConversationID"]
    params = {p["Key"]: p["Value"] for p in result["ResultParameters"]["ResultParameter"]}
    accounts = dict(
        (row.split("|")[0], row.split("|")[1:]) for row in params["AccountBalance"].split("&")
    )
    assert accounts["Utility Account"] == ["KES", "1500.00", "1500.00", "0.00", "0.00"]
    assert accounts["Working Account"][0] == "KES"
    assert len(str(params["BOCompletedTime"])) == 14


def test_balance_needs_the_product_and_every_field(emu_client, receiver):
    add_app(emu_client, consumer_key="no-balance", products=["c2b_v2"])
    refused = emu_client.post(BALANCE, headers=bearer(emu_client, key="no-balance", secret="secret"),
                              json=balance_body(receiver.url))
    assert refused.status_code == 401 and refused.get_json()["errorCode"] == "401.003.01"
    missing = emu_client.post(BALANCE, headers=bearer(emu_client),
                              json=balance_body(receiver.url, SecurityCredential=""))
    assert missing.status_code == 400
    assert missing.get_json()["errorMessage"] == "Bad Request - Invalid SecurityCredential"


def test_transaction_status_reports_a_known_receipt(emu_client, emu, receiver):
    pay(emu_client, emu, 250, "STA0000001")
    response = emu_client.post(STATUS, headers=bearer(emu_client),
                               json=status_body(receiver.url, "STA0000001"))
    assert response.status_code == 200 and response.get_json()["ResponseCode"] == "0"
    [envelope] = receiver.wait("/status")
    result = envelope["Result"]
    assert result["ResultCode"] == 0 and result["TransactionID"] == "STA0000001"
    params = {p["Key"]: p["Value"] for p in result["ResultParameters"]["ResultParameter"]}
    assert params["ReceiptNo"] == "STA0000001" and params["TransactionStatus"] == "Completed"
    assert params["Amount"] == 250.0
    assert result["ReferenceData"]["ReferenceItem"] == {"Key": "Occasion", "Value": "audit"}


def test_transaction_status_of_an_unknown_receipt_fails_in_the_result(emu_client, receiver):
    emu_client.post(STATUS, headers=bearer(emu_client), json=status_body(receiver.url, "NOPE000000"))
    [envelope] = receiver.wait("/status")
    assert envelope["Result"]["ResultCode"] == 25
    assert "ResultParameters" not in envelope["Result"]


def test_another_shortcodes_receipt_is_not_visible(emu_client, emu, receiver):
    pay(emu_client, emu, 250, "STA0000002")
    emu_client.post(STATUS, headers=bearer(emu_client),
                    json=status_body(receiver.url, "STA0000002", PartyA="600111"))
    [envelope] = receiver.wait("/status")
    assert envelope["Result"]["ResultCode"] == 25


def test_transaction_status_by_an_stk_push_finds_its_receipt(emu_client, receiver):
    set_delay(emu_client, 0)
    pushed = emu_client.post(PUSH, headers=bearer(emu_client),
                             json=push_body(receiver.url + "/stk")).get_json()
    [callback] = receiver.wait("/stk")
    items = {i["Name"]: i.get("Value") for i in
             callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"]}
    emu_client.post(STATUS, headers=bearer(emu_client), json=status_body(
        receiver.url, "", PartyA="174379", OriginalConversationID=pushed["CheckoutRequestID"]))
    [envelope] = receiver.wait("/status")
    params = {p["Key"]: p["Value"] for p in envelope["Result"]["ResultParameters"]["ResultParameter"]}
    assert envelope["Result"]["ResultCode"] == 0
    assert params["ReceiptNo"] == items["MpesaReceiptNumber"] and params["Amount"] == 100.0
