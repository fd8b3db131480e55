"""STK Push: Safaricom's checks, scripted customer answers, callbacks and query (DARAJA.md 6)."""

from __future__ import annotations

import hashlib

import pytest

from tests.unit.emulator.conftest import TEST_PHONE, bearer, register, stk_password

PUSH = "/_emulator/daraja/mpesa/stkpush/v1/processrequest"
QUERY = "/_emulator/daraja/mpesa/stkpushquery/v1/query"
STAMP = "20240710091526"


def push_body(callback: str, shortcode: str = "174379", **fields):
    return {"BusinessShortCode": int(shortcode), "Password": stk_password(shortcode, STAMP),
            "Timestamp": STAMP, "TransactionType": "CustomerPayBillOnline", "Amount": 100,
            "PartyA": int(TEST_PHONE), "PartyB": int(shortcode), "PhoneNumber": int(TEST_PHONE),
            "CallBackURL": callback, "AccountReference": "MEM1234", "TransactionDesc": "Points",
            **fields}


def query(client, headers, checkout_id: str, shortcode: str = "174379"):
    return client.post(QUERY, headers=headers, json={
        "BusinessShortCode": shortcode, "Password": stk_password(shortcode, STAMP),
        "Timestamp": STAMP, "CheckoutRequestID": checkout_id})


def set_delay(client, seconds: float) -> None:
    client.post("/_emulator/control/settings", json={"stk_delay": seconds})


def test_success_callback_and_query_from_pending_to_done(emu_client, receiver):
    set_delay(emu_client, 0.5)
    headers = bearer(emu_client)
    response = emu_client.post(PUSH, headers=headers, json=push_body(receiver.url + "/stk"))
    assert response.status_code == 200
    sync = response.get_json()
    assert sync["ResponseCode"] == "0"
    assert sync["CustomerMessage"] == "Success. Request accepted for processing"
    assert sync["CheckoutRequestID"].startswith("ws_CO_") and sync["MerchantRequestID"]

    pending = query(emu_client, headers, sync["CheckoutRequestID"])
    assert pending.status_code == 500
    assert pending.get_json()["errorCode"] == "500.001.1001"
    assert pending.get_json()["errorMessage"] == "The transaction is being processed"

    [callback] = receiver.wait("/stk")
    inner = callback["Body"]["stkCallback"]
    assert inner["CheckoutRequestID"] == sync["CheckoutRequestID"]
    assert inner["ResultCode"] == 0
    items = {item["Name"]: item for item in inner["CallbackMetadata"]["Item"]}
    assert items["Amount"]["Value"] == 100.0 and isinstance(items["Amount"]["Value"], float)
    assert items["PhoneNumber"]["Value"] == 254708374149
    assert isinstance(items["TransactionDate"]["Value"], int)
    assert len(str(items["TransactionDate"]["Value"])) == 14
    assert "Value" not in items["Balance"]
    assert len(items["MpesaReceiptNumber"]["Value"]) == 10

    done = query(emu_client, headers, sync["CheckoutRequestID"])
    assert done.status_code == 200
    body = done.get_json()
    assert (body["ResponseCode"], body["ResultCode"]) == ("0", "0")
    assert body["MerchantRequestID"] == sync["MerchantRequestID"]


@pytest.mark.parametrize("control, code", [
    ({"phone": "0708374149", "outcome": "cancel"}, 1032),
    ({"outcome": "timeout"}, 1037),
])
def test_cancel_and_timeout_callbacks_carry_no_metadata(emu_client, emu, receiver, control, code):
    set_delay(emu_client, 0)
    assert emu_client.post("/_emulator/control/stk-outcome", json=control).status_code == 200
    headers = bearer(emu_client)
    sync = emu_client.post(PUSH, headers=headers, json=push_body(receiver.url + "/stk")).get_json()
    [callback] = receiver.wait("/stk")
    inner = callback["Body"]["stkCallback"]
    assert inner["ResultCode"] == code and "CallbackMetadata" not in inner
    assert set(inner) == {"MerchantRequestID", "CheckoutRequestID", "ResultCode", "ResultDesc"}
    assert emu.dispatcher.join(5)
    assert query(emu_client, headers, sync["CheckoutRequestID"]).get_json()["ResultCode"] == str(code)


def test_outcome_per_phone_leaves_other_phones_alone(emu_client, receiver):
    set_delay(emu_client, 0)
    emu_client.post("/_emulator/control/stk-outcome", json={"phone": "254712345678",
                                                            "outcome": "cancel"})
    emu_client.post(PUSH, headers=bearer(emu_client), json=push_body(receiver.url + "/stk"))
    [callback] = receiver.wait("/stk")
    assert callback["Body"]["stkCallback"]["ResultCode"] == 0


@pytest.mark.parametrize("change, status, message", [
    ({"Password": "d3Jvbmc="}, 500, "Wrong credentials"),
    ({"BusinessShortCode": 600000, "Password": stk_password("600000", STAMP)}, 500,
     "Merchant does not exist"),
    ({"AccountReference": "ABCDEFGHIJKLM"}, 400, "Bad Request - Invalid AccountReference"),
    ({"Timestamp": "2024-07-10"}, 400, "Bad Request - Invalid Timestamp"),
    ({"PhoneNumber": "0708374149"}, 400, "Bad Request - Invalid PhoneNumber"),
    ({"Amount": 0}, 400, "Bad Request - Invalid Amount"),
    ({"CallBackURL": "https://cb.test/mpesa/stk"}, 400, "Bad Request - Invalid CallBackURL"),
])
def test_push_is_checked_like_safaricom(emu_client, receiver, change, status, message):
    response = emu_client.post(PUSH, headers=bearer(emu_client),
                               json=push_body(receiver.url + "/stk", **change))
    assert response.status_code == status
    assert response.get_json()["errorMessage"] == message


def test_without_json_content_type_the_shortcode_looks_invalid(emu_client):
    response = emu_client.post(PUSH, headers=bearer(emu_client), data="{}")
    assert response.status_code == 400
    assert response.get_json()["errorMessage"] == "Bad Request - Invalid BusinessShortCode"


def test_till_rules_store_number_in_password_till_as_party_b(emu_client, receiver):
    set_delay(emu_client, 0)
    emu_client.post("/_emulator/control/shortcodes", json={
        "shortcode": "300300", "kind": "store", "passkey": "till-passkey", "tills": ["500500"]})
    headers = bearer(emu_client)

    def push(**fields):
        body = push_body(receiver.url + "/stk", shortcode="300300",
                         Password=stk_password("300300", STAMP, "till-passkey"),
                         TransactionType="CustomerBuyGoodsOnline", PartyB=500500)
        body.update(fields)
        response = emu_client.post(PUSH, headers=headers, json=body)
        assert response.status_code == 200
        return response.get_json()["CheckoutRequestID"]

    pushed = [push(), push(PartyB=300300), push(TransactionType="CustomerPayBillOnline")]
    results = {c["Body"]["stkCallback"]["CheckoutRequestID"]: c["Body"]["stkCallback"]["ResultCode"]
               for c in receiver.wait("/stk", count=3)}
    assert [results[checkout] for checkout in pushed] == [0, "SFC_IC0003", 2028]


def test_stk_receipt_can_also_arrive_as_a_c2b_confirmation(emu_client, receiver):
    set_delay(emu_client, 0)
    emu_client.post("/_emulator/control/settings", json={"stk_c2b_echo": True})
    headers = bearer(emu_client)
    register(emu_client, headers, "174379", receiver.url)
    emu_client.post(PUSH, headers=headers, json=push_body(receiver.url + "/stk"))
    [stk] = receiver.wait("/stk")
    [c2b] = receiver.wait("/confirm")
    items = {i["Name"]: i.get("Value") for i in stk["Body"]["stkCallback"]["CallbackMetadata"]["Item"]}
    assert c2b["TransID"] == items["MpesaReceiptNumber"]
    assert c2b["BillRefNumber"] == "MEM1234" and c2b["BusinessShortCode"] == "174379"
    assert c2b["MSISDN"] == hashlib.sha256(TEST_PHONE.encode()).hexdigest()
    assert receiver.bodies("/validate") == []


def test_a_silent_outcome_completes_without_a_callback(emu_client, emu, receiver):
    set_delay(emu_client, 0)
    emu_client.post("/_emulator/control/stk-outcome", json={"outcome": "silent"})
    headers = bearer(emu_client)
    sync = emu_client.post(PUSH, headers=headers, json=push_body(receiver.url + "/stk")).get_json()
    assert emu.dispatcher.join(5)
    assert receiver.calls == []
    assert query(emu_client, headers, sync["CheckoutRequestID"]).get_json()["ResultCode"] == "0"


def test_unknown_checkout_request_is_a_bad_request(emu_client):
    response = query(emu_client, bearer(emu_client), "ws_CO_nothing")
    assert response.status_code == 400
    assert response.get_json()["errorMessage"] == "Bad Request - Invalid CheckoutRequestID"
