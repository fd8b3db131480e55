"""Erasing a customer: no phone or name left anywhere in the database, the books unchanged."""

import hashlib
import json

import pytest
import sqlalchemy as sa

from loyalty.services import crediting
from loyalty.services.experiments import assignment
from tests.integration.conftest import VIP, c2b_body, make_shop, pending_push, trans_time
from tests.integration.experiment_history import fixed_experiment

PHONE = "254722333444"
FORMS = (PHONE, "+" + PHONE, "0722333444", "0722 333 444", hashlib.sha256(PHONE.encode()).hexdigest())
NAMES = ("Wanjiku", "Kamau")


@pytest.fixture
def shop(client, db_session):
    return make_shop(client, db_session, programs=[VIP], mapping={"default": "loyalty", "VIP*": "vip"})


def _dump(db_session) -> str:
    """Every text and JSON column of every table, as one string (what pg_dump would hold)."""
    columns = db_session.execute(sa.text(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'json', "
        "'jsonb')")).all()
    parts = []
    for table, column in columns:
        parts += [str(v) for v in db_session.execute(sa.text(
            f'SELECT "{column}"::text FROM "{table}" WHERE "{column}" IS NOT NULL')).scalars()]
    return "\n".join(parts)


def _books(db_session):
    balances = db_session.execute(sa.text(
        "SELECT customer_id, program_id, points, lifetime_points, stamps FROM balances "
        "ORDER BY 1, 2")).all()
    ledger = db_session.execute(sa.text(
        "SELECT customer_id, sum(points), sum(stamps), count(*) FROM ledger_entries "
        "GROUP BY customer_id ORDER BY 1")).all()
    amounts = db_session.execute(sa.text(
        "SELECT trans_id, amount, points, customer_id FROM payments ORDER BY 1")).all()
    return balances, ledger, amounts


def _pay(shop, **body):
    assert shop.hook("c2b/confirmation", c2b_body(**body)).status_code == 200
    crediting.credit_waiting()


def test_erasure_leaves_no_phone_or_name_while_the_books_stay(shop, db_session):
    # Paid first by hash (earn now), then enrolled, then paid with the plain number.
    _pay(shop, trans_id="RKT0000001", msisdn=FORMS[4], first_name="Wanjiku", LastName="Kamau")
    customer = shop.api("POST", "/customers", json={
        "phone": "0722 333 444", "first_name": "Wanjiku", "last_name": "Kamau"}).get_json()
    _pay(shop, trans_id="RKT0000002", msisdn=PHONE, first_name="Wanjiku", LastName="Kamau",
         amount="1000.00")
    # A body the platform refused (an amount out of shape) is kept in the callback log.
    assert shop.hook("c2b/confirmation", c2b_body(trans_id="RKT0000003", msisdn=PHONE,
                                                  amount="-5")).status_code == 400
    assert shop.api("POST", f"/customers/{customer['id']}/redemptions", json={
        "program": "vip", "points": 30, "idempotency_key": "r1"}).status_code == 201
    # Someone else, whose data must stay.
    _pay(shop, trans_id="RKT0000004", msisdn="254711000222", first_name="Otieno", LastName="Ouma")
    dump = _dump(db_session)
    assert all(form in dump for form in FORMS[:1] + FORMS[4:]) and "Wanjiku" in dump
    books = _books(db_session)

    response = shop.api("DELETE", f"/customers/{customer['id']}")

    assert response.status_code == 204
    dump = _dump(db_session)
    for secret in FORMS + NAMES:
        assert secret not in dump, secret
    assert "Otieno" in dump and "254711000222" in dump
    assert _books(db_session) == books
    shown = shop.api("GET", f"/customers/{customer['id']}").get_json()
    assert shown["erased"] is True and shown["phone"] is None and shown["first_name"] is None
    assert [b["points"] for b in shown["balances"]] == [90]  # VIP: 100 + 20 - 30
    assert shop.api("DELETE", f"/customers/{customer['id']}").status_code == 204  # idempotent


def _stk_payment(shop, db_session, receipt="NLJ7RT61SV"):
    """A push to PHONE and Daraja's result for it (the number as an integer item)."""
    pending_push(db_session, shop, PHONE)
    result = {"Body": {"stkCallback": {
        "MerchantRequestID": "29115-1", "CheckoutRequestID": "ws_CO_1", "ResultCode": 0,
        "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": 100.00}, {"Name": "MpesaReceiptNumber", "Value": receipt},
            {"Name": "TransactionDate", "Value": int(trans_time())},
            {"Name": "PhoneNumber", "Value": int(PHONE)}]}}}}
    assert shop.hook("stk", result).status_code == 200
    crediting.credit_waiting()


def test_erasure_reaches_stk_pushes_and_their_results(shop, db_session):
    customer = shop.api("POST", "/customers", json={"phone": PHONE, "first_name": "Wanjiku"}).get_json()
    _stk_payment(shop, db_session)
    pushed = "SELECT phone FROM payment_requests"
    assert db_session.execute(sa.text(pushed)).scalar() == PHONE
    assert str(int(PHONE)) in _dump(db_session)
    books = _books(db_session)

    assert shop.api("DELETE", f"/customers/{customer['id']}").status_code == 204

    dump = _dump(db_session)
    for secret in FORMS + NAMES:
        assert secret not in dump, secret
    assert db_session.execute(sa.text(pushed)).scalar() == ""
    assert "NLJ7RT61SV" in dump and _books(db_session) == books  # the receipt stays


def test_erasure_cleans_the_bodies_relayed_to_the_merchants_webhooks(shop, db_session):
    """payment.received carries Safaricom's body as sent (MSISDN, names); its stored
    delivery must not keep them once the customer is erased."""
    assert shop.api("POST", "/webhook-endpoints", json={
        "url": "http://127.0.0.1:9/loyalty-events",
        "events": ["payment.received"]}).status_code == 201
    customer = shop.api("POST", "/customers", json={"phone": PHONE}).get_json()
    _stk_payment(shop, db_session)
    _pay(shop, trans_id="RKT0000002", msisdn=PHONE, first_name="Wanjiku", LastName="Kamau")
    _pay(shop, trans_id="RKT0000004", msisdn="254711000222", first_name="Otieno")
    relayed = "SELECT body FROM webhook_deliveries ORDER BY id"
    before = db_session.execute(sa.text(relayed)).scalars().all()
    assert len(before) == 3 and str(int(PHONE)) in before[0] and "Wanjiku" in before[1]

    assert shop.api("DELETE", f"/customers/{customer['id']}").status_code == 204

    dump = _dump(db_session)
    for secret in FORMS + NAMES:
        assert secret not in dump, secret
    after = [json.loads(body) for body in db_session.execute(sa.text(relayed)).scalars()]
    assert after[1]["TransID"] == "RKT0000002" and after[1]["TransAmount"] == "5000.00"
    assert after[2]["FirstName"] == "Otieno"  # someone else's event is left alone


def test_erasure_unlinks_the_number_from_experiment_assignments(app, shop, db_session):
    """An experiment's unit is a keyed hash of the number: left as it was, the number's next
    payment would still count as the erased customer's in the results."""
    fixed_experiment(db_session, shop)  # on the `loyalty` program: payments without VIP
    with app.app_context():
        key = assignment.unit_key(shop.merchant_id, FORMS[4])
    customer = shop.api("POST", "/customers", json={"phone": PHONE}).get_json()
    _pay(shop, trans_id="RKT0000001", msisdn=PHONE, bill_ref="")
    assigned = sa.text("SELECT customer_id, unit_key FROM experiment_assignments ORDER BY id")
    assert [tuple(r) for r in db_session.execute(assigned)] == [(customer["id"], key)]

    assert shop.api("DELETE", f"/customers/{customer['id']}").status_code == 204
    _pay(shop, trans_id="RKT0000002", msisdn=PHONE, bill_ref="")

    erased, again = db_session.execute(assigned).all()
    assert erased.customer_id == customer["id"] and erased.unit_key != key
    assert again.customer_id != customer["id"] and again.unit_key == key


def test_a_later_payment_from_the_number_starts_a_new_customer(shop, db_session):
    customer = shop.api("POST", "/customers", json={"phone": PHONE, "first_name": "Wanjiku"}).get_json()
    _pay(shop, trans_id="RKT0000001", msisdn=FORMS[4])
    shop.api("DELETE", f"/customers/{customer['id']}")
    _pay(shop, trans_id="RKT0000002", msisdn=FORMS[4])
    found = shop.api("GET", "/customers", query_string={"phone": PHONE}).get_json()["items"]
    assert len(found) == 1 and found[0]["id"] != customer["id"]
    new_points = shop.api("GET", f"/customers/{found[0]['id']}").get_json()["balances"]
    assert [b["points"] for b in new_points] == [100]


def test_erasure_cancels_queued_texts_and_is_recorded(shop, db_session, open_sandbox):
    customer = shop.api("POST", "/customers", json={"phone": PHONE}).get_json()
    _pay(shop, msisdn=PHONE)
    shop.api("DELETE", f"/customers/{customer['id']}")
    row = db_session.execute(sa.text(
        "SELECT status, recipient, body FROM sms_messages WHERE customer_id = :c"),
        {"c": customer["id"]}).one()
    assert tuple(row) == ("cancelled", None, "")
    history = shop.api("GET", f"/customers/{customer['id']}").get_json()["consent_history"]
    assert {(e["kind"], e["value"]) for e in history} == {("sms_opt_out", True)}
    assert shop.api("PATCH", f"/customers/{customer['id']}",
                    json={"first_name": "X"}).get_json()["error"]["code"] == "customer_erased"


def test_another_merchants_customer_cannot_be_erased(shop, client, db_session):
    customer = shop.api("POST", "/customers", json={"phone": PHONE}).get_json()
    other = make_shop(client, db_session, business_name="Other", shortcode="600000")
    assert other.api("DELETE", f"/customers/{customer['id']}").status_code == 404
    assert shop.api("GET", f"/customers/{customer['id']}").get_json()["phone"] == PHONE
