"""Texts in the customer's language (issue 18): the customer's own choice, else the merchant's
default; the program's Swahili text where a setup template gave it one, else its English
text, else the built-in Swahili text. Through both crediting paths: the set-wise batch
(credit_waiting on PostgreSQL) and one payment at a time (single.py: replays, SQLite, and
a batch that could not be written set-wise)."""

import json

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from loyalty.extensions import db
from loyalty.services import crediting
from loyalty.services.crediting import batch, single
from tests.conftest import make_test_app
from tests.integration.conftest import DELIVERY, JOHN, c2b_body, make_shop

MARY = "254722000111"
VIP_SW = "Habari {first_name}! Umepata pointi {points} za {program_name}. Jumla: pointi {balance}."


@pytest.fixture(params=["batch", "one-by-one"])
def credit(request, monkeypatch):
    """Credit what is waiting through one path. The batch must stay set-wise: falling back
    to one payment at a time (what it does when a set-wise statement fails) fails the test."""
    if request.param == "batch":
        def fallback(*args, **kwargs):
            raise AssertionError("the set-wise batch fell back to one payment at a time")

        monkeypatch.setattr(batch.single, "credit_one_by_one", fallback)
        return lambda: crediting.credit_waiting()
    return lambda: single.credit_one_by_one(100, [])


def _enrol(shop, phone=JOHN, **body):
    response = shop.api("POST", "/customers", json={"phone": phone, "first_name": "John", **body})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _translate(db_session, code, texts):
    db_session.execute(sa.text("UPDATE loyalty_programs SET sms_translations = CAST(:t AS json) "
                               "WHERE code = :code"), {"t": json.dumps({"sw": texts}), "code": code})


def _texts(db_session):
    return db_session.execute(sa.text(
        "SELECT p.trans_id, s.body, s.encoding, s.segments FROM sms_messages s "
        "JOIN payments p ON p.id = s.payment_id ORDER BY s.id")).all()


def test_a_swahili_customer_gets_the_programs_swahili_receipt(acme, db_session, open_sandbox,
                                                               credit):
    _translate(db_session, "vip", {"earn": VIP_SW})
    _enrol(acme, language="sw")
    acme.hook("c2b/confirmation", c2b_body(trans_id="SWAHILI001"))
    credit()
    assert _texts(db_session) == [
        ("SWAHILI001", "Habari John! Umepata pointi 100 za VIP. Jumla: pointi 100.", "GSM-7", 1)]


def test_a_missing_translation_falls_back_to_the_english_text(acme, db_session, open_sandbox,
                                                              credit):
    """The merchant's own English text, untranslated, is sent as it is; a program with no
    text of its own gets the built-in Swahili one."""
    acme.api("PATCH", "/programs/vip", json={"sms_template": "{merchant}: +{points} VIP points"})
    _translate(db_session, "vip", {"reward": "Hongera {first_name}!"})  # no "earn"
    _enrol(acme, language="sw")
    acme.hook("c2b/confirmation", c2b_body(trans_id="VIPOWN0001"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="DEFAULT001", bill_ref="", amount="1000"))
    credit()
    assert [(t, body) for t, body, _, _ in _texts(db_session)] == [
        ("VIPOWN0001", "Acme Electronics: +100 VIP points"),
        ("DEFAULT001", "Habari John! Umepata pointi 10 za Loyalty. Jumla: pointi 10.")]


def test_the_merchants_default_applies_to_customers_without_a_choice(client, db_session,
                                                                     open_sandbox, credit):
    taste = make_shop(client, db_session, business_name="Taste", programs=[DELIVERY],
                      mapping={"default": "delivery"})
    changed = taste.api("PATCH", "/merchants/me", json={"sms_language": "sw"})
    assert changed.status_code == 200 and changed.get_json()["sms_language"] == "sw"
    _enrol(taste, phone=MARY, first_name="Mary", language="en")  # chose English
    for n in range(5):  # John never chose: the merchant's Swahili, up to the reward
        taste.hook("c2b/confirmation", c2b_body(trans_id=f"JOHN00000{n}", amount="300"))
    taste.hook("c2b/confirmation", c2b_body(trans_id="MARY000001", amount="300", msisdn=MARY))
    credit()
    assert [body for _, body, _, _ in _texts(db_session)] == [
        "Asante John! Zimebaki oda 4 upate free delivery.",
        "Asante John! Zimebaki oda 3 upate free delivery.",
        "Asante John! Zimebaki oda 2 upate free delivery.",
        "Asante John! Zimebaki oda 1 upate free delivery.",
        "Hongera John! free delivery yako iko tayari.",
        "Thanks Mary! 4 more orders for free delivery."]


def test_a_reversal_notice_goes_in_the_customers_language(acme, db_session, open_sandbox):
    acme.api("PATCH", "/programs/vip", json={"sms_on_reversal": True})
    _enrol(acme, language="sw")
    acme.hook("c2b/confirmation", c2b_body(trans_id="REVERSE001"))
    crediting.credit_waiting()
    payment_id = db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    marked = acme.api("POST", f"/transactions/{payment_id}/mark-reversed", json={
        "reason": "Paid twice", "idempotency_key": "r1", "amount": "2500"})
    assert marked.status_code == 200, marked.get_json()
    notice = db_session.execute(sa.text(
        "SELECT body FROM sms_messages WHERE purpose = 'reversal_notice'")).scalar()
    assert notice == ("Habari John, KES 2,500 za malipo yako REVERSE001 kwa Acme Electronics "
                      "zimerejeshwa: pointi 50 za VIP zimeondolewa. Jumla: pointi 50.")


# --- the API: set, shown, validated ------------------------------------------------------


def test_a_customers_language_is_set_shown_and_reset_through_the_api(acme):
    created = _enrol(acme, language="sw")
    assert created["language"] == "sw"
    again = _enrol(acme)  # enrolling again without it leaves it
    assert again["language"] == "sw"
    path = f"/customers/{created['id']}"
    assert acme.api("PATCH", path, json={"language": "en"}).get_json()["language"] == "en"
    assert acme.api("PATCH", path, json={"language": None}).get_json()["language"] is None
    assert acme.api("GET", path).get_json()["language"] is None
    assert acme.api("GET", "/merchants/me").get_json()["sms_language"] == "en"


@pytest.mark.parametrize("method, path, body, field", [
    ("POST", "/customers", {"phone": JOHN, "language": "fr"}, "language"),
    ("POST", "/customers", {"phone": JOHN, "language": "SW"}, "language"),
    ("PATCH", "/customers/{id}", {"language": "swahili"}, "language"),
    ("PATCH", "/customers/{id}", {"language": 1}, "language"),
    ("PATCH", "/merchants/me", {"sms_language": "fr"}, "sms_language"),
    ("PATCH", "/merchants/me", {"sms_language": None}, "sms_language"),
])
def test_any_other_language_is_a_422_naming_the_field(acme, method, path, body, field):
    customer_id = _enrol(acme)["id"]
    response = acme.api(method, path.format(id=customer_id), json=body)
    assert response.status_code == 422, response.get_json()
    assert list(response.get_json()["error"]["fields"]) == [field]
    assert acme.api("GET", f"/customers/{customer_id}").get_json()["language"] is None
    assert acme.api("GET", "/merchants/me").get_json()["sms_language"] == "en"


# --- migration 0031 --------------------------------------------------------------------------


def _columns(connection, table):
    return {c["name"] for c in sa.inspect(connection).get_columns(table)}


def _down_and_up(app):
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO merchants (business_name, owner_name, email, phone, business_type, "
                "password_hash, public_id, created_at, updated_at) VALUES ('Old', 'O', "
                "'old@example.com', '254712345678', 'RETAIL', 'x', 'abc', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        downgrade(revision="0030")
        with db.engine.connect() as conn:
            assert "language" not in _columns(conn, "customers")
            assert "sms_language" not in _columns(conn, "merchants")
        upgrade()
        with db.engine.connect() as conn:
            assert "language" in _columns(conn, "customers")
            # a merchant from before the migration texts in English
            assert conn.execute(sa.text("SELECT sms_language FROM merchants")).all() == [("en",)]


def test_migration_0031_runs_both_ways_on_postgresql(scratch_database, redis_prefix):
    _down_and_up(make_test_app(scratch_database, redis_prefix))


def test_migration_0031_runs_both_ways_on_sqlite(tmp_path, redis_prefix):
    _down_and_up(make_test_app(f"sqlite:///{tmp_path / 'dev.sqlite3'}", redis_prefix))
