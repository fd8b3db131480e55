"""Correcting a customer and changing their consent: every change recorded with its source."""

import sqlalchemy as sa

from loyalty.services import crediting
from tests.integration.conftest import JOHN, c2b_body


def _enrol(acme, **body):
    response = acme.api("POST", "/customers", json={"phone": JOHN, **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_opt_out_survives_enrolling_the_phone_again(acme):
    customer = _enrol(acme, first_name="John")
    patched = acme.api("PATCH", f"/customers/{customer['id']}", json={"sms_opt_out": True})
    assert patched.status_code == 200 and patched.get_json()["sms_opt_out"] is True
    again = _enrol(acme, first_name="Johnny")  # the cashier enrols the phone a second time
    assert again["id"] == customer["id"]
    assert again["sms_opt_out"] is True and again["first_name"] == "Johnny"


def test_an_opted_out_customer_gets_no_receipt(acme, db_session):
    customer = _enrol(acme, sms_opt_out=True)
    _enrol(acme)
    acme.hook("c2b/confirmation", c2b_body())
    crediting.credit_waiting()
    row = db_session.execute(sa.text(
        "SELECT status, reason FROM sms_messages WHERE customer_id = :c"),
        {"c": customer["id"]}).one()
    assert tuple(row) == ("skipped", "opted_out")


def test_every_consent_change_is_recorded_with_time_and_source(acme):
    customer = _enrol(acme)
    assert customer["marketing_consent"] is False and customer["consent_history"] == []
    acme.api("PATCH", f"/customers/{customer['id']}", json={"marketing_consent": True})
    acme.api("PATCH", f"/customers/{customer['id']}",
             json={"sms_opt_out": True, "marketing_consent": True})  # consent unchanged
    history = acme.api("GET", f"/customers/{customer['id']}").get_json()["consent_history"]
    assert [(e["kind"], e["value"], e["source"]) for e in history] == [
        ("sms_opt_out", True, "api"), ("marketing_consent", True, "api")]
    assert all(e["created_at"] for e in history)


def test_opting_out_cancels_queued_texts(acme, db_session, open_sandbox):
    customer = _enrol(acme)
    acme.hook("c2b/confirmation", c2b_body())
    crediting.credit_waiting()  # the receipt is queued (no worker runs here)
    acme.api("PATCH", f"/customers/{customer['id']}", json={"sms_opt_out": True})
    status = db_session.execute(sa.text(
        "SELECT status FROM sms_messages WHERE customer_id = :c"), {"c": customer["id"]}).scalar()
    assert status == "cancelled"


def test_patch_corrects_names_and_phone(acme):
    customer = _enrol(acme, first_name="Jon")
    response = acme.api("PATCH", f"/customers/{customer['id']}",
                        json={"first_name": "John", "last_name": "Doe", "phone": "0722000111"})
    body = response.get_json()
    assert response.status_code == 200
    assert (body["first_name"], body["last_name"], body["phone"]) == ("John", "Doe", "254722000111")
    found = acme.api("GET", "/customers", query_string={"phone": "0722 000 111"}).get_json()["items"]
    assert [c["id"] for c in found] == [customer["id"]]


def test_patch_refuses_another_customers_phone_and_bad_input(acme):
    first = _enrol(acme)
    other = acme.api("POST", "/customers", json={"phone": "0722000111"}).get_json()
    taken = acme.api("PATCH", f"/customers/{other['id']}", json={"phone": JOHN})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "phone_taken"
    bad = acme.api("PATCH", f"/customers/{first['id']}", json={"phone": "12", "sms_opt_out": "x"})
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"phone", "sms_opt_out"}


def test_another_merchants_customer_is_not_found(acme, client, db_session):
    from tests.integration.conftest import make_shop

    customer = _enrol(acme)
    other = make_shop(client, db_session, business_name="Other", shortcode="600000")
    response = other.api("PATCH", f"/customers/{customer['id']}", json={"sms_opt_out": True})
    assert response.status_code == 404
    assert acme.api("GET", f"/customers/{customer['id']}").get_json()["sms_opt_out"] is False
