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


def _dashboard(emu_client, emu, captured):
    """AT's dashboard pointed at a platform that records what it is posted (as forms)."""
    emu.deliverer.form_transport = lambda url, body, timeout: captured.append((url, body)) or (
        200, '{"status": "ok"}')
    assert emu_client.post("/_emulator/control/sms", json={
        "callback_base": "https://loyalty.example.com/hooks/sms/s3cret"}).status_code == 200
    emu_client.post("/_emulator/control/settings", json={"sms_delivery_delay": 0})


def test_a_send_is_followed_by_africas_talkings_delivery_report(emu_client, emu):
    captured = []
    _dashboard(emu_client, emu, captured)
    sent = emu_client.post(SEND, headers=HEADERS, data={
        "username": "sandbox", "to": "+254712345678", "message": "Hi"}).get_json()
    message_id = sent["SMSMessageData"]["Recipients"][0]["messageId"]
    assert emu.dispatcher.join(5)
    [(url, body)] = captured
    assert url == "https://loyalty.example.com/hooks/sms/s3cret/delivery"
    assert (body["id"], body["status"], body["phoneNumber"]) == (message_id, "Success",
                                                                 "+254712345678")
    # The emulator's record of it leaves the URL's secret out.
    recorded = emu_client.get("/_emulator/state").get_json()["callback_deliveries"][0]
    assert "s3cret" not in recorded["url"] and recorded["kind"] == "sms_delivery"

    emu_client.post("/_emulator/control/settings", json={"sms_delivery": "failed",
                                                         "sms_failure_reason": "UserInBlackList"})
    emu_client.post(SEND, headers=HEADERS, data={
        "username": "sandbox", "to": "+254712345678", "message": "Hi"})
    assert emu.dispatcher.join(5)
    assert (captured[-1][1]["status"], captured[-1][1]["failureReason"]) == (
        "Failed", "UserInBlackList")

    emu_client.post("/_emulator/control/settings", json={"sms_delivery": "off"})
    emu_client.post(SEND, headers=HEADERS, data={
        "username": "sandbox", "to": "+254712345678", "message": "Hi"})
    assert emu.dispatcher.join(5) and len(captured) == 2


def test_an_inbound_text_is_posted_to_the_platform(emu_client, emu):
    captured = []
    _dashboard(emu_client, emu, captured)
    answer = emu_client.post("/_emulator/control/sms-inbound",
                             json={"from": "0712 345 678", "text": "STOP ACME", "to": "22384"})
    assert answer.status_code == 202
    assert emu.dispatcher.join(5)
    [(url, body)] = captured
    assert url.endswith("/hooks/sms/s3cret/inbound")
    assert (body["from"], body["text"], body["to"]) == ("+254712345678", "STOP ACME", "22384")


def test_without_a_callback_url_no_report_is_sent(emu_client, emu):
    captured = []
    emu.deliverer.form_transport = lambda url, body, timeout: captured.append(url) or (200, "")
    emu_client.post(SEND, headers=HEADERS, data={
        "username": "sandbox", "to": "+254712345678", "message": "Hi"})
    assert emu.dispatcher.join(5) and captured == []


def test_the_delivery_switch_takes_only_its_three_values(emu_client):
    bad = emu_client.post("/_emulator/control/settings", json={"sms_delivery": "sometimes"})
    assert bad.status_code == 400 and "sms_delivery" in bad.get_json()["error"]
    bad = emu_client.post("/_emulator/control/sms", json={"callback_base": "ftp://x"})
    assert bad.status_code == 400 and "callback_base" in bad.get_json()["error"]
