"""The texts a merchant can read back: per customer and per payment, with the delivery
result and the cost the gateway reported."""

import pytest
import responses
import sqlalchemy as sa

from loyalty.services import crediting, messages
from loyalty.tenancy import tenant_context
from tests.integration.conftest import AT, JOHN, SENT, c2b_body, make_shop

TOKEN = "sms-callback-secret-0123456789"


@pytest.fixture(autouse=True)
def sms_token(app, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_CALLBACK_TOKEN", TOKEN)


def _pay_and_send(acme, db_session, gateway, trans_id="RKTQDM7W6S"):
    """One payment from John and its receipt sent through the (mocked) gateway."""
    acme.hook("c2b/confirmation", c2b_body(trans_id=trans_id))
    crediting.credit_waiting()
    message_id, payment_id = db_session.execute(sa.text(
        "SELECT id, payment_id FROM sms_messages ORDER BY id DESC LIMIT 1")).one()
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    with tenant_context(acme.merchant_id):
        messages.send_message(message_id)
    return message_id, payment_id


def test_a_customers_texts_show_kind_status_delivery_and_cost(client, acme, db_session, gateway):
    customer_id = acme.api("POST", "/customers", json={"phone": JOHN}).get_json()["id"]
    message_id, payment_id = _pay_and_send(acme, db_session, gateway)
    client.post(f"/hooks/sms/{TOKEN}/delivery", data={"id": "ATXid_1", "status": "Success"})

    page = acme.api("GET", f"/customers/{customer_id}/messages").get_json()
    assert page["next_cursor"] is None
    [text] = page["items"]
    assert text["id"] == message_id and text["payment_id"] == payment_id
    assert (text["kind"], text["status"], text["purpose"]) == (
        "transactional", "delivered", "payment_receipt")
    assert text["delivered_at"] and text["sent_at"] and text["created_at"]
    assert (text["cost"], text["cost_currency"]) == ("0.8000", "KES")
    assert "points" in text["body"] and text["failure_reason"] is None
    assert "recipient" not in text  # the number is the customer's record's, not the list's


def test_a_payments_texts_show_why_one_was_not_delivered(client, acme, db_session, gateway):
    acme.api("POST", "/customers", json={"phone": JOHN})
    _, payment_id = _pay_and_send(acme, db_session, gateway)
    client.post(f"/hooks/sms/{TOKEN}/delivery",
                data={"id": "ATXid_1", "status": "Failed", "failureReason": "UserIsInactive"})

    [text] = acme.api("GET", f"/transactions/{payment_id}/messages").get_json()["items"]
    assert (text["status"], text["failure_reason"], text["delivered_at"]) == (
        "failed", "UserIsInactive", None)


def test_the_lists_page_newest_first(acme, db_session, gateway):
    customer_id = acme.api("POST", "/customers", json={"phone": JOHN}).get_json()["id"]
    ids = [_pay_and_send(acme, db_session, gateway, trans_id=f"RKTQDM7W6{n}")[0]
           for n in range(3)]
    first = acme.api("GET", f"/customers/{customer_id}/messages?limit=2").get_json()
    assert [m["id"] for m in first["items"]] == ids[:0:-1]
    rest = acme.api("GET", f"/customers/{customer_id}/messages?limit=2"
                    f"&cursor={first['next_cursor']}").get_json()
    assert [m["id"] for m in rest["items"]] == ids[:1] and rest["next_cursor"] is None


def test_another_merchants_customer_or_payment_is_not_found(client, acme, db_session, gateway):
    customer_id = acme.api("POST", "/customers", json={"phone": JOHN}).get_json()["id"]
    _, payment_id = _pay_and_send(acme, db_session, gateway)
    other = make_shop(client, db_session, business_name="Mama Mboga", shortcode="600000")
    assert other.api("GET", f"/customers/{customer_id}/messages").status_code == 404
    assert other.api("GET", f"/transactions/{payment_id}/messages").status_code == 404


def test_a_bad_limit_names_the_field(acme):
    customer_id = acme.api("POST", "/customers", json={"phone": JOHN}).get_json()["id"]
    response = acme.api("GET", f"/customers/{customer_id}/messages?limit=abc")
    assert response.status_code == 422
    assert "limit" in response.get_data(as_text=True)
