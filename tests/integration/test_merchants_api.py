"""Registering merchants, reading the profile, and API keys over the REST API."""

import sqlalchemy as sa

from loyalty import crypto
from tests.conftest import auth, register_merchant


def test_register_returns_merchant_and_key_shown_once(client, db_session):
    merchant, key = register_merchant(client, email="John@Acme.example", phone="+254712345678")
    assert merchant["email"] == "john@acme.example"
    assert merchant["phone"] == "254712345678"
    assert merchant["business_type"] == "RETAIL"
    assert "password" not in merchant and "password_hash" not in merchant
    assert key.startswith("mpl_")
    stored = db_session.execute(sa.text("SELECT key_hash, prefix FROM api_keys")).all()
    assert [row.key_hash for row in stored] == [crypto.hash_api_key(key)]
    assert key not in str(stored)
    listed = client.get("/api/v1/api-keys", headers=auth(key)).get_json()["items"]
    assert key not in str(listed) and listed[0]["prefix"] == key[:10]


def test_phone_numbers_in_common_forms_are_normalised(client):
    for given, expected in [("0712345678", "254712345678"), ("+254712345678", "254712345678"),
                            ("254712345678", "254712345678"), ("0110123456", "254110123456"),
                            ("0712 345 678", "254712345678")]:
        merchant, _ = register_merchant(client, phone=given)
        assert merchant["phone"] == expected, given


def test_foreign_or_landline_phone_is_rejected_with_the_field(client):
    for bad in ["+14155550100", "0201234567", "12345", "not a phone"]:
        response = client.post("/api/v1/merchants", json=_body(phone=bad))
        assert response.status_code == 422, bad
        error = response.get_json()["error"]
        assert error["code"] == "validation_error"
        assert list(error["fields"]) == ["phone"]


def test_email_format_and_business_type_are_checked(client):
    response = client.post("/api/v1/merchants", json=_body(email="nope", business_type="CASINO"))
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"email", "business_type"}


def test_duplicate_email_is_a_conflict_ignoring_case(client):
    register_merchant(client, email="dup@acme.example")
    response = client.post("/api/v1/merchants", json=_body(email="DUP@acme.example"))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "email_taken"


def test_unknown_and_missing_fields_are_rejected(client):
    body = _body(is_admin=True)
    del body["owner_name"]
    response = client.post("/api/v1/merchants", json=body)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert "is_admin" in fields and "owner_name" in fields


def test_me_needs_a_valid_key(client, merchant_a):
    merchant, key = merchant_a
    assert client.get("/api/v1/merchants/me").status_code == 401
    assert client.get("/api/v1/merchants/me", headers=auth("mpl_wrong")).status_code == 401
    assert client.get("/api/v1/merchants/me", headers={"Authorization": key}).status_code == 401
    response = client.get("/api/v1/merchants/me", headers=auth(key))
    assert response.status_code == 200
    assert response.get_json()["id"] == merchant["id"]


def test_me_can_be_updated(client, merchant_a):
    _, key = merchant_a
    response = client.patch("/api/v1/merchants/me", headers=auth(key),
                            json={"business_name": "Acme Ltd", "phone": "0722000000"})
    assert response.status_code == 200
    assert response.get_json()["business_name"] == "Acme Ltd"
    assert client.get("/api/v1/merchants/me", headers=auth(key)).get_json()["phone"] == "254722000000"
    response = client.patch("/api/v1/merchants/me", headers=auth(key), json={"email": "x@y.example"})
    assert response.status_code == 422


def test_each_new_merchant_gets_the_default_program(client, merchant_a, db_session):
    merchant, _ = merchant_a
    rows = db_session.execute(sa.text(
        "SELECT code, points_per_unit, unit_amount, is_default FROM loyalty_programs "
        "WHERE merchant_id = :m"), {"m": merchant["id"]}).all()
    assert [(r.code, r.points_per_unit, int(r.unit_amount), r.is_default) for r in rows] == [
        ("loyalty", 1, 100, True)]


def test_api_keys_can_be_created_and_revoked(client, merchant_a):
    _, key = merchant_a
    created = client.post("/api/v1/api-keys", headers=auth(key), json={"name": "POS"})
    assert created.status_code == 201
    second = created.get_json()["key"]
    assert client.get("/api/v1/merchants/me", headers=auth(second)).status_code == 200
    listed = client.get("/api/v1/api-keys", headers=auth(key)).get_json()["items"]
    assert [k["name"] for k in listed] == ["Default key", "POS"]
    assert all("key" not in k for k in listed)

    revoked = client.delete(f"/api/v1/api-keys/{created.get_json()['id']}", headers=auth(key))
    assert revoked.status_code == 200 and revoked.get_json()["revoked_at"]
    response = client.get("/api/v1/merchants/me", headers=auth(second))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/merchants/me", headers=auth(key)).status_code == 200


def test_another_merchants_api_key_is_not_found(client, merchant_a, merchant_b):
    _, key_a = merchant_a
    _, key_b = merchant_b
    b_keys = client.get("/api/v1/api-keys", headers=auth(key_b)).get_json()["items"]
    response = client.delete(f"/api/v1/api-keys/{b_keys[0]['id']}", headers=auth(key_a))
    assert response.status_code == 404
    assert [k["id"] for k in client.get("/api/v1/api-keys", headers=auth(key_a)).get_json()["items"]] != [
        b_keys[0]["id"]]
    assert client.get("/api/v1/merchants/me", headers=auth(key_b)).status_code == 200


def _body(**overrides):
    body = {"business_name": "Acme", "owner_name": "John", "email": "a@acme.example",
            "phone": "0712345678", "business_type": "RETAIL", "password": "long enough pw"}
    body.update(overrides)
    return body
