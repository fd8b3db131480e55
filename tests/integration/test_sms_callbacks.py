"""Africa's Talking's callbacks: delivery reports, STOP / START by SMS, the bulk opt-out
notification, and a send refused because the subscriber blocked the sender."""

import pytest
import responses
import sqlalchemy as sa

from loyalty.services import crediting, messages, sender_ids
from loyalty.tenancy import tenant_context
from tests.integration.conftest import AT, JOHN, SENT, c2b_body, make_shop

TOKEN = "sms-callback-secret-0123456789"


@pytest.fixture(autouse=True)
def sms_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_CALLBACK_TOKEN", TOKEN)


def _post(client, kind, token=TOKEN, **form):
    return client.post(f"/hooks/sms/{token}/{kind}", data=form)


def _enrol(shop, phone=JOHN):
    return shop.api("POST", "/customers", json={"phone": phone}).get_json()["id"]


def _customer(shop, customer_id):
    return shop.api("GET", f"/customers/{customer_id}").get_json()


def _sent(acme, db_session, gateway, answer=SENT):
    """The receipt of one payment, sent through the (mocked) gateway; its id."""
    acme.hook("c2b/confirmation", c2b_body())
    crediting.credit_waiting()
    message_id = db_session.execute(sa.text("SELECT max(id) FROM sms_messages")).scalar()
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=answer)
    with tenant_context(acme.merchant_id):
        messages.send_message(message_id)
    return message_id


def _message(db_session, message_id):
    return db_session.execute(sa.text(
        "SELECT status, failure_reason, cost, delivered_at FROM sms_messages WHERE id = :i"),
        {"i": message_id}).mappings().one()


@pytest.fixture
def other(client, db_session):
    return make_shop(client, db_session, business_name="Mama Mboga", shortcode="600000")


def test_a_delivery_report_marks_the_text_delivered(client, acme, db_session, gateway):
    _enrol(acme)
    message_id = _sent(acme, db_session, gateway)
    assert _message(db_session, message_id)["cost"] == "KES 0.8000"
    assert _post(client, "delivery", id="ATXid_1", status="Buffered", phoneNumber="+" + JOHN,
                 networkCode="63902").status_code == 200
    assert _message(db_session, message_id)["status"] == "sent"  # not final yet
    _post(client, "delivery", id="ATXid_1", status="Success", phoneNumber="+" + JOHN,
          networkCode="63902", retryCount="0", someNewField="tolerated")
    row = _message(db_session, message_id)
    assert row["status"] == "delivered" and row["delivered_at"] is not None


def test_a_failed_report_shows_the_reason_and_a_blacklist_opts_the_customer_out(
        client, acme, db_session, gateway):
    customer_id = _enrol(acme)
    message_id = _sent(acme, db_session, gateway)
    _post(client, "delivery", id="ATXid_1", status="Failed", failureReason="UserInBlackList")
    row = _message(db_session, message_id)
    assert (row["status"], row["failure_reason"]) == ("failed", "UserInBlackList")
    shown = _customer(acme, customer_id)
    assert shown["sms_opt_out"] is True
    assert [(e["source"], e["kind"]) for e in shown["consent_history"]] == [("gateway", "sms_opt_out")]


def test_a_send_refused_406_opts_the_customer_out(acme, db_session, gateway):
    customer_id = _enrol(acme)
    refused = {"SMSMessageData": {"Message": "Sent to 0/1", "Recipients": [
        {"statusCode": 406, "number": "+" + JOHN, "cost": "0", "status": "UserInBlacklist",
         "messageId": "None"}]}}
    message_id = _sent(acme, db_session, gateway, refused)
    assert _message(db_session, message_id)["status"] == "failed"
    history = _customer(acme, customer_id)["consent_history"]
    assert _customer(acme, customer_id)["sms_opt_out"] is True
    assert "406 UserInBlacklist" in history[0]["detail"] and history[0]["source"] == "gateway"


def test_stop_without_a_keyword_stops_every_merchant(client, acme, other):
    mine, theirs = _enrol(acme), _enrol(other)
    assert _post(client, "inbound", **{"from": "+" + JOHN, "to": "21234", "text": "stop",
                                       "date": "2026-01-01 10:00:00", "id": "x1"}).status_code == 200
    assert _customer(acme, mine)["sms_opt_out"] and _customer(other, theirs)["sms_opt_out"]
    event = _customer(acme, mine)["consent_history"][0]
    assert (event["source"], event["detail"]) == ("sms", "Texted STOP to 21234")


def test_stop_with_a_keyword_stops_that_merchant_only_and_start_undoes_it(client, acme, other):
    assert other.api("PATCH", "/merchants/me", json={"sms_keyword": "mboga"}).get_json()[
        "sms_keyword"] == "MBOGA"
    mine, theirs = _enrol(acme), _enrol(other)
    _post(client, "inbound", **{"from": "0712 345 678", "to": "21234", "text": " STOP Mboga "})
    assert _customer(other, theirs)["sms_opt_out"] is True
    assert _customer(acme, mine)["sms_opt_out"] is False
    _post(client, "inbound", **{"from": "+" + JOHN, "to": "21234", "text": "START MBOGA"})
    assert _customer(other, theirs)["sms_opt_out"] is False


def test_keywords_are_unique_across_merchants(acme, other):
    assert acme.api("PATCH", "/merchants/me", json={"sms_keyword": "acme"}).status_code == 200
    taken = other.api("PATCH", "/merchants/me", json={"sms_keyword": "ACME"})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "sms_keyword_taken"
    bad = other.api("PATCH", "/merchants/me", json={"sms_keyword": "no spaces"})
    assert bad.status_code == 422 and "sms_keyword" in bad.get_json()["error"]["fields"]


def test_the_bulk_opt_out_notification_opts_out(client, acme):
    customer_id = _enrol(acme)
    _post(client, "optout", senderId="ACME", phoneNumber="+" + JOHN)
    event = _customer(acme, customer_id)["consent_history"][0]
    assert (event["source"], event["value"]) == ("gateway", True)


def test_blocking_a_merchants_own_sender_id_stops_that_merchant_only(client, acme, other):
    assert other.api("PUT", "/merchants/me/sender-id", json={
        "sender_id": "MBOGA", "category": "promotional"}).status_code == 200
    mine, theirs = _enrol(acme), _enrol(other)
    _post(client, "optout", senderId="MBOGA", phoneNumber="+" + JOHN)  # still pending
    assert _customer(acme, mine)["sms_opt_out"] and _customer(other, theirs)["sms_opt_out"]
    for shop, customer_id in ((acme, mine), (other, theirs)):
        shop.api("PATCH", f"/customers/{customer_id}", json={"sms_opt_out": False})
    sender_ids.decide(str(other.merchant_id), approve=True)

    _post(client, "optout", senderId="Mboga", phoneNumber="+" + JOHN)

    assert _customer(other, theirs)["sms_opt_out"] is True
    assert _customer(acme, mine)["sms_opt_out"] is False  # texts through the platform's sender


def test_a_wrong_token_is_a_404_and_changes_nothing(client, acme, app, monkeypatch, db_session,
                                                   gateway):
    customer_id = _enrol(acme)
    message_id = _sent(acme, db_session, gateway)
    logged = sa.text("SELECT count(*) FROM callback_log")
    kept = db_session.execute(logged).scalar()
    for token in ("wrong-token", TOKEN + "x"):
        response = _post(client, "inbound", token=token, **{"from": "+" + JOHN, "text": "STOP"})
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
        assert _post(client, "delivery", token=token, id="ATXid_1", status="Failed",
                     failureReason="UserInBlackList").status_code == 404
        assert _post(client, "optout", token=token, senderId="ACME",
                     phoneNumber="+" + JOHN).status_code == 404
    assert _post(client, "unknown-kind", **{"from": "+" + JOHN}).status_code == 404
    monkeypatch.setitem(app.config, "SMS_CALLBACK_TOKEN", "")
    assert _post(client, "inbound", token="", **{"text": "STOP"}).status_code == 404
    shown = _customer(acme, customer_id)
    assert shown["sms_opt_out"] is False and shown["consent_history"] == []
    assert _message(db_session, message_id)["status"] == "sent"
    assert db_session.execute(logged).scalar() == kept  # no body kept for a stranger


def test_odd_bodies_are_answered_without_error(client, acme):
    for form in ({}, {"from": "not a phone", "text": "STOP"}, {"from": "+" + JOHN, "text": "\x00"},
                 {"id": "x" * 500, "status": "Success"}, {"from": "+" + JOHN, "text": "hello"}):
        assert _post(client, "inbound", **form).status_code == 200
        assert _post(client, "delivery", **form).status_code == 200


def test_kiswahili_by_sms_switches_the_language_of_texts(client, acme, other, db_session,
                                                          open_sandbox):
    """KISWAHILI / ENGLISH, like STOP: every merchant that knows the phone, or the one whose
    keyword follows; the next receipt is in that language."""
    assert other.api("PATCH", "/merchants/me", json={"sms_keyword": "mboga"}).status_code == 200
    mine, theirs = _enrol(acme), _enrol(other)
    answer = _post(client, "inbound", **{"from": "+" + JOHN, "to": "21234", "text": " kiswahili"})
    assert answer.get_json()["action"] == "language"
    assert _customer(acme, mine)["language"] == _customer(other, theirs)["language"] == "sw"
    assert _customer(acme, mine)["consent_history"] == []  # not a consent change
    _post(client, "inbound", **{"from": "0712345678", "to": "21234", "text": "ENGLISH MBOGA"})
    assert _customer(other, theirs)["language"] == "en"
    assert _customer(acme, mine)["language"] == "sw"
    acme.hook("c2b/confirmation", c2b_body())
    crediting.credit_waiting()
    body = db_session.execute(sa.text("SELECT body FROM sms_messages")).scalar()
    assert body == "Habari John! Umepata pointi 100 za VIP. Jumla: pointi 100."
