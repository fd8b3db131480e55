"""Every form of the web UI needs its CSRF token; the JSON API does not (it uses API keys)."""

import re

import pytest
import sqlalchemy as sa

from tests.web.conftest import PASSWORD, sign_up, text


@pytest.fixture
def csrf_on(app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)


def _token(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', html).group(1)


def _signup_form(email: str) -> dict:
    return {"business_name": "Acme", "owner_name": "John", "email": email, "phone": "0712345678",
            "business_type": "RETAIL", "password": PASSWORD, "confirm": PASSWORD}


def test_sign_up_without_the_token_is_refused_and_creates_nothing(client, db_session, csrf_on):
    response = client.post("/signup", data=_signup_form("csrf@example.com"))
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "This form has expired" in text(response)
    assert db_session.execute(sa.text(
        "SELECT count(*) FROM merchants WHERE email = 'csrf@example.com'")).scalar() == 0


def test_sign_up_with_the_token_works(client, csrf_on):
    form = {**_signup_form("csrf-ok@example.com"), "csrf_token": _token(client, "/signup")}
    assert client.post("/signup", data=form).status_code == 302


def test_log_in_and_log_out_need_the_token(client, app, csrf_on, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    form = sign_up(client)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert client.post("/logout").status_code == 400
    assert client.get("/dashboard").status_code == 200  # still logged in
    token = _token(client, "/dashboard")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.post("/login", data={"email": form["email"], "password": PASSWORD}).status_code == 400
    token = _token(client, "/login")
    answer = client.post("/login", data={"email": form["email"], "password": PASSWORD,
                                         "csrf_token": token})
    assert answer.status_code == 302


@pytest.mark.parametrize("path,data", [
    ("/programs/new", {"code": "vip", "name": "VIP"}),
    ("/customers/new", {"phone": "0712345678"}),
    ("/channels/new", {"name": "Main", "shortcode": "174379", "channel_type": "paybill",
                       "environment": "sandbox"}),
    ("/settings/api-keys", {"name": "Till app"}),
])
def test_every_form_of_a_signed_in_merchant_needs_the_token(client, app, db_session, monkeypatch,
                                                            path, data):
    sign_up(client)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    counts = "SELECT (SELECT count(*) FROM loyalty_programs) + (SELECT count(*) FROM customers) " \
             "+ (SELECT count(*) FROM mpesa_channels) + (SELECT count(*) FROM api_keys)"
    before = db_session.execute(sa.text(counts)).scalar()
    refused = client.post(path, data=data)
    assert refused.status_code == 400, text(refused)
    assert db_session.execute(sa.text(counts)).scalar() == before
    accepted = client.post(path, data={**data, "csrf_token": _token(client, path)})
    assert accepted.status_code in (200, 302), text(accepted)
    assert db_session.execute(sa.text(counts)).scalar() == before + 1


def test_action_buttons_need_the_token(client, app, shop, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    channel_id = shop.channel["id"]
    for path in (f"/channels/{channel_id}/deactivate", f"/channels/{channel_id}/verify",
                 "/settings/api-keys/1/revoke", "/transactions/1/replay",
                 "/transactions/1/reverse", "/transactions/1/mark-reversed", "/customers/1/adjust"):
        assert client.post(path).status_code == 400, path
    assert shop.api("GET", f"/mpesa-channels/{channel_id}").get_json()["is_active"] is True


def test_the_json_api_stays_exempt(client, csrf_on):
    response = client.post("/api/v1/merchants", json={
        "business_name": "Acme", "owner_name": "John", "email": "api-csrf@example.com",
        "phone": "0712345678", "business_type": "RETAIL", "password": PASSWORD})
    assert response.status_code == 201
