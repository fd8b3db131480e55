"""Programs API, transaction listing and analytics, STK push, expiry, and tenant isolation."""

import json
from datetime import datetime, timedelta, timezone

import pytest
import responses
import sqlalchemy as sa

from loyalty.services import crediting, ledger, stk
from loyalty.tenancy import tenant_context
from tests.conftest import auth
from tests.integration.conftest import JOHN, c2b_body


def test_program_crud_and_template_rules(acme):
    created = acme.api("POST", "/programs", json={
        "code": "gold", "name": "Gold", "points_per_unit": 2, "unit_amount": "50",
        "sms_template": "Hi {first_name}, +{points} ({balance} total) at {merchant}."})
    assert created.status_code == 201 and created.get_json()["unit_amount"] == "50.00"
    for bad in ("{customer.__class__}", "{points[0]}", "{nickname}", "{points:>10}", "{}"):
        response = acme.api("PATCH", "/programs/gold", json={"sms_template": bad})
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["fields"]["sms_template"], bad
    assert acme.api("POST", "/programs", json={"code": "gold", "name": "x"}).status_code == 409
    stamps = acme.api("POST", "/programs", json={"code": "cards", "name": "C", "stamps_required": 3})
    assert stamps.status_code == 422 and "stamp_reward" in stamps.get_json()["error"]["fields"]
    made_default = acme.api("PATCH", "/programs/gold", json={"is_default": True}).get_json()
    assert made_default["is_default"] is True
    defaults = [p["code"] for p in acme.api("GET", "/programs").get_json()["items"] if p["is_default"]]
    assert defaults == ["gold"]
    assert acme.api("DELETE", "/programs/gold").status_code == 409  # the default
    assert acme.api("DELETE", "/programs/vip").status_code == 409  # mapped by the channel
    assert acme.api("PATCH", "/programs/loyalty", json={"is_default": True}).status_code == 200
    assert acme.api("DELETE", "/programs/gold").status_code == 204
    assert acme.api("GET", "/programs/gold").status_code == 404


def test_transactions_filter_and_paginate(acme, db_session):
    for n in range(5):
        acme.hook("c2b/confirmation", c2b_body(trans_id=f"PAGE{n:06d}", amount="100"))
    crediting.credit_waiting()
    first = acme.api("GET", "/transactions?limit=2").get_json()
    assert [t["trans_id"] for t in first["items"]] == ["PAGE000004", "PAGE000003"]
    second = acme.api("GET", f"/transactions?limit=2&cursor={first['next_cursor']}").get_json()
    assert [t["trans_id"] for t in second["items"]] == ["PAGE000002", "PAGE000001"]
    last = acme.api("GET", f"/transactions?limit=2&cursor={second['next_cursor']}").get_json()
    assert [t["trans_id"] for t in last["items"]] == ["PAGE000000"] and last["next_cursor"] is None
    credited = acme.api("GET", f"/transactions?status=credited&channel_id={acme.channel['id']}")
    assert len(credited.get_json()["items"]) == 5
    assert acme.api("GET", "/transactions?status=bogus").status_code == 422


def test_analytics_per_channel_and_nairobi_day(acme, db_session):
    # 23:30 EAT on the 25th and 00:30 EAT on the 26th are different Nairobi days.
    acme.hook("c2b/confirmation", c2b_body(trans_id="LATE000001", amount="1000", TransTime="20261125233000"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="EARLY00001", amount="500", TransTime="20261126003000"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="EARLY00002", amount="300", TransTime="20261126090000",
                                           MSISDN="a" * 64))
    crediting.credit_waiting()
    rows = acme.api("GET", "/analytics/channels?from=2026-11-25&to=2026-11-26").get_json()["items"]
    assert rows == [
        {"channel_id": acme.channel["id"], "day": "2026-11-25", "payments": 1, "amount": "1000.00",
         "points": 20, "unique_customers": 1},
        {"channel_id": acme.channel["id"], "day": "2026-11-26", "payments": 2, "amount": "800.00",
         "points": 16, "unique_customers": 2}]


def test_stk_push_request_is_queued_and_sent_once(acme, db_session):
    acme.api("PATCH", f"/mpesa-channels/{acme.channel['id']}",
             json={"passkey": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"})
    db_session.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true"))
    response = acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/stk-push",
                        json={"phone": "0712345678", "amount": "100", "account_reference": "VIP7"})
    assert response.status_code == 202
    request = response.get_json()
    assert (request["status"], request["phone"], request["account_reference"]) == ("pending", JOHN, "VIP7")
    with responses.RequestsMock() as daraja:
        daraja.add(responses.GET, "https://sandbox.daraja.test/oauth/v1/generate",
                   json={"access_token": "t", "expires_in": "3599"})
        daraja.add(responses.POST, "https://sandbox.daraja.test/mpesa/stkpush/v1/processrequest", json={
            "MerchantRequestID": "m-1", "CheckoutRequestID": "ws_CO_9", "ResponseCode": "0",
            "ResponseDescription": "Success. Request accepted for processing",
            "CustomerMessage": "Success. Request accepted for processing"})
        with tenant_context(acme.merchant_id):
            stk.send_stk_push(request["id"])
            stk.send_stk_push(request["id"])  # a redelivered task must not prompt twice
        pushes = [c for c in daraja.calls if "processrequest" in c.request.url]
        assert len(pushes) == 1
        sent = json.loads(pushes[0].request.body)
        assert sent["AccountReference"] == "VIP7" and sent["PartyA"] == int(JOHN)
        assert sent["CallBackURL"].endswith(
            f"/hooks/{acme.channel['callback_token']}/stk/{request['id']}")
    stored = db_session.execute(sa.text("SELECT checkout_request_id FROM payment_requests")).scalar()
    assert stored == "ws_CO_9"
    float_amount = acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/stk-push",
                            json={"phone": "0712345678", "amount": "10.50"})
    assert float_amount.status_code == 422


def test_expiry_takes_the_oldest_points_first(acme, db_session):
    acme.api("PATCH", "/programs/vip", json={"points_expiry_days": 30})
    acme.hook("c2b/confirmation", c2b_body(trans_id="OLD0000001", amount="5000"))   # 100 points
    acme.hook("c2b/confirmation", c2b_body(trans_id="NEW0000001", amount="2500"))   # 50 points
    crediting.credit_waiting()
    db_session.execute(sa.text("UPDATE ledger_entries SET created_at = now() - interval '40 days' "
                               "WHERE payment_id = (SELECT id FROM payments WHERE trans_id='OLD0000001')"))
    customer_id = db_session.execute(sa.text("SELECT id FROM customers")).scalar()
    redeemed = acme.api("POST", f"/customers/{customer_id}/redemptions", json={
        "program": "vip", "points": 70, "idempotency_key": "r1"})
    assert redeemed.get_json()["balance"] == 80  # 70 spent from the old lot, 30 of it left
    with tenant_context(acme.merchant_id):
        assert ledger.expire_points(datetime.now(timezone.utc)) == 30
        assert ledger.expire_points(datetime.now(timezone.utc)) == 0
        assert ledger.expire_points(datetime.now(timezone.utc) + timedelta(days=31)) == 50
    balance = db_session.execute(sa.text("SELECT points FROM balances")).scalar()
    assert balance == 0
    kinds = [e["kind"] for e in acme.api("GET", f"/customers/{customer_id}/ledger").get_json()["items"]]
    assert kinds == ["expire", "expire", "redeem", "earn", "earn"]


@pytest.mark.parametrize("method, path", [
    ("GET", "/customers/{customer}"), ("GET", "/customers/{customer}/ledger"),
    ("POST", "/customers/{customer}/redemptions"), ("POST", "/transactions/{payment}/replay"),
    ("POST", "/transactions/{payment}/attribute"), ("GET", "/programs/vip"),
    ("PATCH", "/programs/vip"), ("GET", "/mpesa-channels/{channel}/resolve"),
    ("POST", "/mpesa-channels/{channel}/stk-push")])
def test_another_merchant_sees_none_of_it(acme, db_session, client, merchant_b, method, path):
    acme.hook("c2b/confirmation", c2b_body())
    crediting.credit_waiting()
    ids = {"customer": db_session.execute(sa.text("SELECT id FROM customers")).scalar(),
           "payment": db_session.execute(sa.text("SELECT id FROM payments")).scalar(),
           "channel": acme.channel["id"]}
    bodies = {"redemptions": {"program": "loyalty", "points": 1, "idempotency_key": "x"},
              "attribute": {"phone": JOHN}, "stk-push": {"phone": JOHN, "amount": "10"},
              "vip": {"name": "Mine"}}
    body = next((v for k, v in bodies.items() if path.endswith(k)), None)
    response = client.open("/api/v1" + path.format(**ids), method=method,
                           headers=auth(merchant_b[1]), json=body)
    assert response.status_code == 404, response.get_json()
    for listing in ("/customers", "/transactions", "/analytics/channels"):
        data = client.get("/api/v1" + listing, headers=auth(merchant_b[1])).get_json()
        assert data == {"items": [], "next_cursor": None}, listing
