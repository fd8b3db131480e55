"""Adjustments: points added or taken away by hand, exactly once per idempotency key."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from loyalty.services import crediting, ledger
from loyalty.tenancy import tenant_context
from tests.conftest import auth
from tests.integration.conftest import c2b_body


@pytest.fixture
def customer(acme, db_session) -> int:
    """John, with 100 VIP points from one payment."""
    acme.hook("c2b/confirmation", c2b_body())
    crediting.credit_waiting()
    return db_session.execute(sa.text("SELECT id FROM customers")).scalar()


def adjust(acme, customer, **body):
    return acme.api("POST", f"/customers/{customer}/adjustments", json={
        "program": "vip", "points": 25, "reason": "Birthday bonus", "idempotency_key": "adj-1",
        **body})


def test_an_adjustment_adds_points_once_per_key(acme, customer, db_session):
    first = adjust(acme, customer)
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert (body["program"], body["points"], body["reason"], body["balance"]) == (
        "vip", 25, "Birthday bonus", 125)
    again = adjust(acme, customer)
    assert again.status_code == 200
    assert again.get_json()["id"] == body["id"] and again.get_json()["balance"] == 125
    for changed in ({"points": 26}, {"reason": "Other"}, {"program": "loyalty"}):
        refused = adjust(acme, customer, **changed)
        assert refused.status_code == 409, changed
        assert refused.get_json()["error"]["code"] == "idempotency_key_reused"
    entries = acme.api("GET", f"/customers/{customer}/ledger").get_json()["items"]
    assert [(e["kind"], e["points"], e["description"], e["adjustment_id"]) for e in entries] == [
        ("adjust", 25, "Birthday bonus", body["id"]), ("earn", 100, "Payment RKTQDM7W6S", None)]


def test_taking_points_away_may_go_below_zero_and_spends_the_oldest_lot(acme, customer,
                                                                         db_session):
    taken = adjust(acme, customer, points=-130, reason="Duplicate credit", idempotency_key="a2")
    assert taken.status_code == 201 and taken.get_json()["balance"] == -30
    remaining = db_session.execute(sa.text(
        "SELECT sum(remaining) FROM ledger_entries")).scalar()
    assert remaining == 0  # nothing left to redeem or to expire


def test_added_points_are_spent_and_expire_like_earned_ones(acme, customer, db_session):
    acme.api("PATCH", "/programs/vip", json={"points_expiry_days": 30})
    adjust(acme, customer, points=40)
    acme.api("POST", f"/customers/{customer}/redemptions",
             json={"program": "vip", "points": 120, "idempotency_key": "r"})  # 100 + 20
    with tenant_context(acme.merchant_id):
        assert ledger.expire_points(datetime.now(timezone.utc) + timedelta(days=31)) == 20
    assert db_session.execute(sa.text("SELECT points FROM balances")).scalar() == 0


@pytest.mark.parametrize("body, field", [
    ({"points": 0}, "points"),
    ({"points": "many"}, "points"),
    ({"points": 10**12}, "points"),
    ({"reason": " "}, "reason"),
    ({"reason": None}, "reason"),
    ({"idempotency_key": ""}, "idempotency_key"),
    ({"note": "x"}, "note"),
])
def test_bad_input_is_a_422_naming_the_field(acme, customer, body, field):
    response = adjust(acme, customer, **body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]


def test_unknown_programs_and_other_merchants_customers_are_not_found(acme, customer, client,
                                                                      merchant_b):
    assert adjust(acme, customer, program="gold").status_code == 404
    assert adjust(acme, 999999).status_code == 404
    theirs = client.post(f"/api/v1/customers/{customer}/adjustments", headers=auth(merchant_b[1]),
                         json={"program": "loyalty", "points": 5, "reason": "x",
                               "idempotency_key": "k"})
    assert theirs.status_code == 404
