"""The language of a customer's texts on the customer's pages, and the merchant's default in
Settings: the same rules as the API (a value other than en/sw is refused next to the field)."""

import re

import sqlalchemy as sa

from tests.web.conftest import text

PROFILE = {"business_name": "Acme Electronics", "owner_name": "John Doe", "phone": "0712345678"}


def _selected(response, name: str) -> str | None:
    """The value of the option shown selected in the <select> called `name`."""
    html = response.get_data(as_text=True)
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', html, re.S).group(0)
    chosen = re.search(r'<option[^>]*selected[^>]*value="([^"]*)"|'
                       r'<option[^>]*value="([^"]*)"[^>]*selected', select)
    return next(v for v in chosen.groups() if v is not None) if chosen else None


def _language(db_session):
    return db_session.execute(sa.text("SELECT language FROM customers")).scalar()


def test_the_customer_form_sets_and_clears_the_language_of_texts(client, shop, db_session):
    enrolled = client.post("/customers/new", data={"phone": "0712 345 678", "first_name": "John",
                                                   "language": "sw"})
    assert enrolled.status_code == 302
    url = enrolled.headers["Location"]
    page = client.get(url)
    assert "Language of their texts" in text(page) and _selected(page, "language") == "sw"
    assert _language(db_session) == "sw"
    back = client.post(url + "/edit", data={"phone": "0712345678", "first_name": "John",
                                            "language": ""})
    assert back.status_code == 302
    assert _language(db_session) is None  # the merchant's default again
    assert _selected(client.get(url), "language") == ""
    refused = client.post(url + "/edit", data={"phone": "0712345678", "language": "fr"})
    assert refused.status_code == 422
    assert 'id="language-error"' in refused.get_data(as_text=True)


def test_settings_choose_the_merchants_language_of_texts(client, shop):
    page = client.get("/settings")
    assert "Language of texts" in text(page) and _selected(page, "sms_language") == "en"
    saved = client.post("/settings", data={**PROFILE, "sms_language": "sw"})
    assert saved.status_code == 302
    assert shop.api("GET", "/merchants/me").get_json()["sms_language"] == "sw"
    assert _selected(client.get("/settings"), "sms_language") == "sw"
    refused = client.post("/settings", data={**PROFILE, "sms_language": "fr"})
    assert refused.status_code == 422
    assert 'id="sms_language-error"' in refused.get_data(as_text=True)
    assert shop.api("GET", "/merchants/me").get_json()["sms_language"] == "sw"


def test_settings_set_and_clear_the_stop_keyword_and_refuse_another_merchants(
        client, shop, db_session):
    page = client.get("/settings")
    assert "STOP keyword" in text(page)
    saved = client.post("/settings", data={**PROFILE, "sms_language": "en", "sms_keyword": "mboga"})
    assert saved.status_code == 302
    assert shop.api("GET", "/merchants/me").get_json()["sms_keyword"] == "MBOGA"
    assert 'value="MBOGA"' in client.get("/settings").get_data(as_text=True)
    bad = client.post("/settings", data={**PROFILE, "sms_language": "en", "sms_keyword": "stop"})
    assert bad.status_code == 422 and 'id="sms_keyword-error"' in bad.get_data(as_text=True)
    assert "commands themselves" in text(bad)
    cleared = client.post("/settings", data={**PROFILE, "sms_language": "en", "sms_keyword": ""})
    assert cleared.status_code == 302
    assert shop.api("GET", "/merchants/me").get_json()["sms_keyword"] is None
    # Another merchant's keyword: refused next to the field, nothing saved.
    other = db_session.execute(sa.text(
        "INSERT INTO merchants (public_id, business_name, owner_name, email, phone, "
        "business_type, password_hash, is_active, sms_keyword, sms_language, created_at, "
        "updated_at) VALUES ('0123456789abcdef', 'Duka', 'Owner', 'duka@example.com', "
        "'254700000001', 'RETAIL', 'x', true, 'DUKA', 'en', now(), now()) RETURNING id"))
    assert other.scalar()
    taken = client.post("/settings", data={**PROFILE, "sms_language": "en", "sms_keyword": "duka"})
    assert taken.status_code == 409
    assert "Another merchant uses this SMS keyword" in text(taken)
    assert shop.api("GET", "/merchants/me").get_json()["sms_keyword"] is None
