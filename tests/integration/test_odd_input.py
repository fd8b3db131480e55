"""Odd input is a 4xx naming the field, never a 500: the five kinds a fuzzer found (ids and
numbers beyond PostgreSQL's INTEGER, NUL characters, lone surrogates, non-finite or huge
amounts, a production shortcode taken by PATCH), each closed for the whole app."""

import json

import pytest

from tests.conftest import auth, register_merchant
from tests.integration.conftest import c2b_body


def _error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == code
    return error


@pytest.mark.parametrize("path", [
    "/customers/759121185484426", "/customers/2147483648/ledger",
    "/mpesa-channels/99999999999", "/transactions/99999999999/replay",
    "/customers/" + "9" * 5000, "/customers/0",
])
def test_ids_beyond_postgresql_integer_are_404(acme, path):
    method = "POST" if path.endswith("replay") else "GET"
    _error(acme.api(method, path), 404, "not_found")


@pytest.mark.parametrize("query, field", [
    ("/customers?after_id=2147483648", "after_id"),
    ("/customers/{customer}/ledger?before_id=48063518808919", "before_id"),
    ("/transactions?cursor=1992848527975395072", "cursor"),
    ("/transactions?customer_id=-99999999999", "customer_id"),
    ("/transactions?channel_id=25060252657", "channel_id"),
])
def test_query_integers_beyond_postgresql_integer_are_422_naming_them(acme, query, field):
    customer = acme.api("POST", "/customers", json={"phone": "0712000222"}).get_json()["id"]
    error = _error(acme.api("GET", query.format(customer=customer)), 422, "validation_error")
    assert field in error["fields"]


@pytest.mark.parametrize("amount", ["1e400", "NaN", "Infinity", "-Infinity", "1E+20", "snan"])
def test_non_finite_or_huge_amounts_are_422(acme, amount):
    response = acme.api("GET", f"/mpesa-channels/{acme.channel['id']}/resolve?account=VIP1"
                               f"&amount={amount}")
    assert "amount" in _error(response, 422, "validation_error")["fields"]


def test_a_finite_amount_still_resolves(acme):
    response = acme.api("GET", f"/mpesa-channels/{acme.channel['id']}/resolve?account=VIP1"
                               "&amount=5000")
    assert response.status_code == 200 and response.get_json()["points"] == 100


@pytest.mark.parametrize("raw, field", [
    ('{"amount": 1e400, "phone": "0712345678"}', "amount"),
    ('{"amount": 1E+20, "phone": "0712345678"}', "amount"),
    ('{"amount": "1E+20", "phone": "0712345678"}', "amount"),
])
def test_huge_numbers_in_a_json_body_are_422(acme, raw, field):
    response = acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/stk-push", data=raw,
                        content_type="application/json")
    assert field in _error(response, 422, "validation_error")["fields"]


def test_a_nul_in_any_text_field_is_422_naming_it_also_when_signing_up(client, db_session):
    response = client.post("/api/v1/merchants", json={
        "business_name": "Acme\u0000", "owner_name": "John", "email": "nul@acme.example",
        "phone": "0712345678", "business_type": "RETAIL", "password": "correct horse"})
    assert _error(response, 422, "validation_error")["fields"] == {
        "business_name": [
            "business_name must not contain NUL characters."]}


@pytest.mark.parametrize("request_args", [
    {"method": "POST", "path": "/customers", "json": {"phone": "0712345678",
                                                      "first_name": "a\u0000"}},
    {"method": "PATCH", "path": "/mpesa-channels/{channel}", "json": {
        "account_mapping": {"VIP\u0000*": "vip"}}},
    {"method": "GET", "path": "/customers?phone=0712%00345678"},
    {"method": "GET", "path": "/mpesa-channels/{channel}/resolve?account=VIP%001"},
])
def test_nul_characters_anywhere_in_the_api_are_422(acme, request_args):
    args = dict(request_args)
    path = args.pop("path").format(channel=acme.channel["id"])
    _error(acme.api(args.pop("method"), path, **args), 422, "validation_error")


def test_a_nul_in_the_path_is_404(acme):
    _error(acme.api("GET", "/programs/vi%00p"), 404, "not_found")


def test_a_lone_surrogate_in_a_json_string_is_422_naming_the_field(client, db_session):
    raw = ('{"business_name": "\\udbde", "owner_name": "John", "email": "s@acme.example", '
           '"phone": "0712345678", "business_type": "RETAIL", "password": "correct horse"}')
    response = client.post("/api/v1/merchants", data=raw, content_type="application/json")
    assert "business_name" in _error(response, 422, "validation_error")["fields"]


@pytest.mark.parametrize("raw", ["[" * 50_000, '{"name": NaN}', '{"name": Infinity}'])
def test_json_that_is_not_json_is_a_400(acme, raw):
    _error(acme.api("POST", "/programs", data=raw, content_type="application/json"), 400,
           "malformed_request")


def test_patch_to_production_onto_a_taken_shortcode_is_409_as_post_answers(client, db_session):
    _, first = register_merchant(client)
    _, second = register_merchant(client, business_name="Second Shop")
    channel = {"name": "Main", "shortcode": "600400", "channel_type": "paybill"}
    taken = client.post("/api/v1/mpesa-channels", headers=auth(first),
                        json={**channel, "environment": "production"})
    assert taken.status_code == 201
    mine = client.post("/api/v1/mpesa-channels", headers=auth(second), json=channel)
    assert mine.status_code == 201  # sandbox numbers are shared
    posted = client.post("/api/v1/mpesa-channels", headers=auth(second),
                         json={**channel, "environment": "production"})
    patched = client.patch(f"/api/v1/mpesa-channels/{mine.get_json()['id']}",
                           headers=auth(second), json={"environment": "production"})
    for response in (posted, patched):
        _error(response, 409, "shortcode_taken")
    still = client.get(f"/api/v1/mpesa-channels/{mine.get_json()['id']}", headers=auth(second))
    assert still.get_json()["environment"] == "sandbox"


def test_the_openapi_document_bounds_ids_and_numbers(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    path_id = spec["paths"]["/api/v1/customers/{customer_id}"]["parameters"][0]["schema"]
    assert path_id == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    amount = spec["components"]["schemas"]["StkPush"]["properties"]["amount"]
    # Money is a decimal string: its bounds are said in words and as x-minimum/x-maximum.
    assert (amount["type"], amount["format"]) == ("string", "decimal")
    assert (amount["x-minimum"], amount["x-maximum"]) == (1, 250000)
    assert "From 1 to 250000" in amount["description"]
    text = json.dumps(spec)
    assert '"minimum": "' not in text and '"maximum": "' not in text


def test_a_hook_body_is_not_judged_by_the_api_guard(acme, db_session):
    # The hooks keep bodies they refuse; the API guard must not answer for them first.
    response = acme.hook("c2b/confirmation", json.dumps(c2b_body(FirstName="a\u0000")))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_callback"
