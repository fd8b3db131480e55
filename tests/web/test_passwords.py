"""Passwords in the web UI: a change ends every other session and remember-me cookie;
"Forgot password?" texts a code and sets a new password with it."""

import sqlalchemy as sa

from loyalty.background import TaskName
from loyalty.services import passwords
from tests.conftest import auth
from tests.web.conftest import PASSWORD, issued_key, log_in, sign_up, text

NEW = "a brand new passphrase"
SESSION, REMEMBER = "session", "remember_token"


def _remembered_login(client, email, password=PASSWORD):
    return client.post("/login", data={"email": email, "password": password, "remember": "y"})


def _cookie(client, name) -> str:
    cookie = client.get_cookie(name)
    assert cookie is not None, name
    return cookie.value


def _browser_with(app, **cookies):
    """A new browser holding only these cookies (as copied from another one)."""
    browser = app.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value)
    return browser


def _logged_in(browser) -> bool:
    return browser.get("/dashboard").status_code == 200


def test_a_password_change_ends_every_other_session_and_remember_me_cookie(app, client):
    form = sign_up(client)
    client.post("/logout")
    laptop, phone = app.test_client(), app.test_client()
    assert _remembered_login(laptop, form["email"]).status_code == 302
    assert _remembered_login(phone, form["email"]).status_code == 302
    old_session, old_remember = _cookie(laptop, SESSION), _cookie(laptop, REMEMBER)
    # Both cookies work on their own before the change.
    assert _logged_in(_browser_with(app, session=old_session))
    assert _logged_in(_browser_with(app, remember_token=old_remember))

    changed = phone.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": NEW, "confirm": NEW})
    assert changed.status_code == 302
    assert "Every other device" in text(phone.get("/dashboard"))  # this one stays in

    assert not _logged_in(laptop)
    assert not _logged_in(_browser_with(app, session=old_session))
    assert not _logged_in(_browser_with(app, remember_token=old_remember))
    # The browser that changed it keeps a remember-me cookie that works.
    assert _logged_in(_browser_with(app, remember_token=_cookie(phone, REMEMBER)))


def test_a_change_over_the_api_ends_every_web_session(app, client):
    form = sign_up(client)
    token = issued_key(client.post("/settings/api-keys", data={"name": "till"}))
    client.post("/logout")
    laptop = app.test_client()
    _remembered_login(laptop, form["email"])
    remember = _cookie(laptop, REMEMBER)
    response = client.post("/api/v1/merchants/me/password", headers=auth(token),
                           json={"current_password": PASSWORD, "new_password": NEW})
    assert response.status_code == 204
    assert not _logged_in(laptop)
    assert not _logged_in(_browser_with(app, remember_token=remember))
    assert log_in(laptop, form["email"], NEW).status_code == 302


def test_a_wrong_current_password_changes_nothing(client):
    form = sign_up(client)
    response = client.post("/settings/password", data={
        "current_password": "not it", "new_password": NEW, "confirm": NEW})
    assert response.status_code == 422
    assert 'id="current_password-error"' in response.get_data(as_text=True)
    assert _logged_in(client)
    client.post("/logout")
    assert log_in(client, form["email"]).status_code == 302


def test_the_repeated_password_must_match(client):
    sign_up(client)
    response = client.post("/settings/password", data={
        "current_password": PASSWORD, "new_password": NEW, "confirm": NEW + "x"})
    assert response.status_code == 422
    assert "The passwords differ." in text(response)


def test_sessions_from_before_versioned_cookies_are_not_taken(client, db_session):
    form = sign_up(client)
    merchant_id = db_session.execute(sa.text("SELECT id FROM merchants WHERE email = :e"),
                                     {"e": form["email"].lower()}).scalar()
    with client.session_transaction() as session:
        session["_user_id"] = str(merchant_id)  # the id alone, as sessions used to hold it
    assert not _logged_in(client)


def test_forgot_password_texts_a_code_and_the_code_sets_a_new_one(app, client, recorded_tasks,
                                                                  monkeypatch):
    form = sign_up(client)
    client.post("/logout")
    laptop = app.test_client()
    _remembered_login(laptop, form["email"])
    assert "Forgot password?" in text(client.get("/login"))

    asked = client.post("/forgot-password", data={"email": form["email"]})
    assert asked.status_code == 302 and asked.headers["Location"] == "/reset-password"
    page = client.get("/reset-password")
    assert "a six-digit code is on its way" in text(page)
    assert f'value="{form["email"]}"' in page.get_data(as_text=True)  # carried, not in the URL

    codes = []
    monkeypatch.setattr("loyalty.crypto.new_reset_code", lambda: (codes.append("402913") or
                                                                  ("402913", "ab" * 16)))
    args, = recorded_tasks.args_of(TaskName.SEND_PASSWORD_RESET)
    assert passwords.send_reset_code(*args)

    wrong = client.post("/reset-password", data={"email": form["email"], "code": "000000",
                                                 "new_password": NEW, "confirm": NEW})
    assert wrong.status_code == 422 and passwords.WRONG_CODE in text(wrong)
    done = client.post("/reset-password", data={"email": form["email"], "code": codes[0],
                                                "new_password": NEW, "confirm": NEW})
    assert done.status_code == 302 and done.headers["Location"] == "/login"
    assert not _logged_in(laptop)  # every session ended
    assert log_in(client, form["email"], NEW).status_code == 302


def test_forgot_password_answers_the_same_for_an_unknown_email(app, client):
    known = sign_up(client)
    pages = []
    for email in (known["email"], "nobody@nowhere.example"):
        visitor = app.test_client()
        response = visitor.post("/forgot-password", data={"email": email}, follow_redirects=True)
        pages.append((response.status_code, text(response).replace(email, "EMAIL")))
    assert pages[0] == pages[1]


def test_password_pages_for_visitors_and_merchants(client):
    assert client.get("/forgot-password").status_code == 200
    assert client.get("/reset-password").status_code == 200
    assert client.get("/settings/password").status_code == 302  # needs a login
    sign_up(client)
    assert "Change your password" in text(client.get("/settings/password"))


def test_forgot_password_is_rate_limited_with_a_page(client):
    for _ in range(3):
        assert client.post("/forgot-password", data={"email": "a@b.example"}).status_code == 302
    refused = client.post("/forgot-password", data={"email": "a@b.example"})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Too many codes were asked for this email." in text(refused)
