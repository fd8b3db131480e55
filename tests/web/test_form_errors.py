"""A form refused for a problem keeps what was typed, says plainly that secrets were not
kept, and words each kind of problem one way whichever check found it."""

import re

from loyalty.schemas.merchants import MerchantCreateSchema
from loyalty.services import crediting
from tests.integration.conftest import c2b_body
from tests.web.conftest import PASSWORD, sign_up, text

NOT_KEPT = "For your safety, what you typed here was not kept: please type it again."


def _value(html: str, name: str) -> str | None:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    value = found and re.search(r'value="([^"]*)"', found.group(0))
    return value.group(1) if value else None


def test_sign_up_keeps_what_was_typed_and_says_the_passwords_were_not_kept(client):
    response = client.post("/signup", data={
        "business_name": "Mama Mboga", "owner_name": "Wanjiku", "email": "mama@example.com",
        "phone": "12345", "business_type": "RESTAURANT", "password": PASSWORD,
        "confirm": PASSWORD})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _value(html, "business_name") == "Mama Mboga"
    assert _value(html, "email") == "mama@example.com"
    assert _value(html, "phone") == "12345"
    assert re.search(r'<option selected value="RESTAURANT">', html)
    assert _value(html, "password") in (None, "")  # never sent back to the browser
    assert PASSWORD not in html
    assert text(response).count(NOT_KEPT) == 2
    assert re.search(r'aria-describedby="[^"]*password-kept', html)


def test_a_blank_form_asks_for_what_is_missing(client):
    response = client.post("/signup", data={"business_type": "RETAIL"})
    assert response.status_code == 422
    assert NOT_KEPT not in text(response)  # nothing was typed, nothing was dropped
    assert "Please fill this in." in text(response)


def test_one_wording_per_kind_of_problem_from_wtforms_and_from_the_schemas(client):
    # Too long: WTForms checks the sign-up form, the schema checks the API body.
    long_name = "x" * 201
    response = client.post("/signup", data={
        "business_name": long_name, "owner_name": "  ", "email": "a@b.example",
        "phone": "0712345678", "business_type": "RETAIL", "password": PASSWORD,
        "confirm": PASSWORD})
    page = text(response)
    errors = MerchantCreateSchema().validate({
        "business_name": long_name, "owner_name": "  ", "email": "nope",
        "phone": "0712345678", "business_type": "RETAIL", "password": PASSWORD})
    assert "At most 200 characters." in page
    assert errors["business_name"] == ["At most 200 characters."]
    # Blank: whitespace passes WTForms and is refused by the schema; empty is WTForms'.
    assert errors["owner_name"] == ["Please fill this in."]
    assert re.search(r'id="owner_name-error">Please fill this in\.<', response.get_data(
        as_text=True))
    assert errors["email"] == ["Must be an email address, e.g. name@example.com."]
    assert "This field is required" not in page and "Missing data" not in page


def test_a_bad_filter_date_says_what_a_date_looks_like(client, shop):
    page = text(client.get("/transactions", query_string={"from": "yesterday"}))
    assert "Must be a date, e.g. 03 Dec 2026." in page
    assert "Not a valid" not in page


def test_attaching_to_a_bad_phone_keeps_the_phone_typed(client, shop):
    shop.hook("c2b/confirmation", c2b_body(msisdn="2547 ***** 678", trans_id="MASKED0002"))
    crediting.credit_waiting()
    queue = client.get("/transactions/unattributed").get_data(as_text=True)
    payment_id = int(re.search(r'id="payment-(\d+)"', queue).group(1))
    bad = client.post(f"/transactions/{payment_id}/attribute",
                      data={f"p{payment_id}-phone": "0712 34"})
    assert bad.status_code == 422
    assert _value(bad.get_data(as_text=True), f"p{payment_id}-phone") == "0712 34"
    assert "is not a Kenyan mobile number" in text(bad)


def test_a_failed_log_in_says_the_password_was_not_kept(client):
    form = sign_up(client)
    client.post("/logout")
    response = client.post("/login", data={"email": form["email"], "password": "wrong one"})
    assert _value(response.get_data(as_text=True), "email") == form["email"]
    assert NOT_KEPT in text(response)
