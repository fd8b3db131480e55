"""Africa's Talking: plain and hashed sends in AT's JSON, and the inbox (SMS.md 3.1, 3.7)."""

from __future__ import annotations

import hashlib

SEND = "/_emulator/sms/version1/messaging"
BULK = "/_emulator/sms/version1/messaging/bulk"
HEADERS = {"apiKey": "sandbox-key", "Accept": "application/json"}


def test_send_answers_like_africas_talking_and_fills_the_inbox(emu_client):
    response = emu_client.post(SEND, headers=HEADERS, data={
        "username": "sandbox", "to": "+254712345678,+254708374149",
        "message": "Hi John! You earned 100 VIP points.", "from": "ACME"})
    assert response.status_code == 201 and response.mimetype == "application/json"
    data = response.get_json()["SMSMessageData"]
    assert data["Message"] == "Sent to 2/2 Total Cost: KES 1.6000"
    first = data["Recipients"][0]
    assert first["statusCode"] == 101 and first["status"] == "Success"
    assert first["number"] == "+254712345678" and first["cost"] == "KES 0.8000"
    assert first["messageId"].startswith("ATXid_")

    inbox = emu_client.get("/_emulator/sms/inbox").get_json()
    assert [m["to"] for m in inbox] == ["+254708374149", "+254712345678"]  # newest first
    assert inbox[0]["message"] == "Hi John! You earned 100 VIP points."
    assert inbox[0]["sender"] == "ACME" and inbox[0]["message_id"].startswith("ATXid_")


def test_invalid_numbers_are_refused_per_recipient(emu_client):
    response = emu_client.post(SEND, headers=HEADERS, data={
        "username": "sandbox", "to": "+254712345678,+2541", "message": "Hi"})
    data = response.get_json()["SMSMessageData"]
    assert data["Message"] == "Sent to 1/2 Total Cost: KES 0.8000"
    bad = data["Recipients"][1]
    assert (bad["statusCode"], bad["status"], bad["messageId"]) == (403, "InvalidPhoneNumber", "None")
    assert len(emu_client.get("/_emulator/sms/inbox").get_json()) == 1


def test_the_api_key_and_required_fields_are_checked(emu_client):
    form = {"username": "sandbox", "to": "+254712345678", "message": "Hi"}
    refused = emu_client.post(SEND, data=form)
    assert refused.status_code == 401 and b"authentication is invalid" in refused.data
    missing = emu_client.post(SEND, headers=HEADERS, data={"username": "sandbox", "to": "+254712345678"})
    assert missing.status_code == 400 and b"'message'" in missing.data

    emu_client.post("/_emulator/control/sms", json={"api_key": "the-real-key"})
    assert emu_client.post(SEND, headers=HEADERS, data=form).status_code == 401
    assert emu_client.post(SEND, headers={"apiKey": "the-real-key"}, data=form).status_code == 201


def test_scripted_statuses_such_as_blacklisted(emu_client):
    emu_client.post("/_emulator/control/sms", json={"statuses": {"0712345678": 406}})
    response = emu_client.post(SEND, headers=HEADERS, data={
        "username": "sandbox", "to": "+254712345678", "message": "Promo"})
    [recipient] = response.get_json()["SMSMessageData"]["Recipients"]
    assert (recipient["statusCode"], recipient["status"]) == (406, "UserInBlacklist")
    assert emu_client.get("/_emulator/sms/inbox").get_json() == []


def test_hashed_send_and_inbox_filter_by_phone(emu_client):
    digest = hashlib.sha256(b"254708374149").hexdigest()
    response = emu_client.post(BULK, headers=HEADERS, data={
        "username": "sandbox", "maskedNumber": digest, "telco": "Safaricom",
        "message": "You earned 50 points", "senderId": "ACME"})
    assert response.status_code == 201
    [recipient] = response.get_json()["SMSMessageData"]["Recipients"]
    assert recipient["number"] == digest and recipient["statusCode"] == 101
    emu_client.post(SEND, headers=HEADERS, data={"username": "sandbox", "to": "+254708374149",
                                                 "message": "Plain"})
    emu_client.post(SEND, headers=HEADERS, data={"username": "sandbox", "to": "+254712345678",
                                                 "message": "Someone else"})

    mine = emu_client.get("/_emulator/sms/inbox?to=254708374149").get_json()
    assert [m["message"] for m in mine] == ["Plain", "You earned 50 points"]
    hashed = mine[1]
    assert hashed["to"] is None and hashed["hash"] == digest and hashed["telco"] == "Safaricom"
    by_local_form = emu_client.get("/_emulator/sms/inbox?to=0708 374 149").get_json()
    assert by_local_form == mine
    by_hash = emu_client.get(f"/_emulator/sms/inbox?to={digest}").get_json()
    assert by_hash == mine
    assert emu_client.get("/_emulator/sms/inbox?to=12").status_code == 400


def test_a_malformed_hash_is_an_invalid_number(emu_client):
    response = emu_client.post(BULK, headers=HEADERS, data={
        "username": "sandbox", "maskedNumber": "2547****149", "telco": "Safaricom",
        "message": "Hi", "senderId": "ACME"})
    [recipient] = response.get_json()["SMSMessageData"]["Recipients"]
    assert recipient["statusCode"] == 403
    assert emu_client.get("/_emulator/sms/inbox").get_json() == []
