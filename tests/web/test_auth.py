"""Sign up, log in, log out, and the login throttle."""

import re

import pytest

from tests.web.conftest import PASSWORD, log_in, sign_up, text


def test_root_shows_visitors_the_landing_page_and_sends_merchants_to_the_dashboard(client):
    landing = client.get("/")
    assert landing.status_code == 200
    page = text(landing)
    assert "Reward customers who pay you by M-Pesa" in page
    assert 'href="/signup"' in landing.get_data(as_text=True)
    assert 'href="/login"' in landing.get_data(as_text=True)
    assert "consent" not in page  # the SMS consent note lives on the programs and SMS pages
    sign_up(client)
    assert client.get("/").headers["Location"] == "/dashboard"


def test_the_sms_consent_note_is_on_the_programs_and_sms_pages(client):
    sign_up(client)
    for url in ("/programs", "/programs/new", "/settings"):
        assert "Promotions need the customer's consent" in text(client.get(url)) or \
            "only go to customers who agreed" in text(client.get(url)), url
    assert "consent" not in text(client.get("/transactions"))


def test_pages_need_a_login_and_come_back_after_it(client):
    form = sign_up(client)
    client.post("/logout")
    response = client.get("/programs")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fprograms"
    answer = log_in(client, form["email"], query_string={"next": "/programs"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/programs"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_log_in_never_redirects_off_site(client, target):
    form = sign_up(client)
    client.post("/logout")
    answer = log_in(client, form["email"], query_string={"next": target})
    assert answer.headers["Location"] == "/dashboard"


def test_sign_up_logs_in_and_starts_the_channel_wizard(client):
    form = {"business_name": "Mama Mboga", "owner_name": "Wanjiku", "email": "Mama@Example.com",
            "phone": "0712 345 678", "business_type": "RETAIL", "password": PASSWORD,
            "confirm": PASSWORD}
    response = client.post("/signup", data=form)
    assert response.headers["Location"] == "/channels/new"
    assert "Add an M-Pesa channel" in text(client.get("/channels/new"))
    assert "Mama Mboga" in text(client.get("/dashboard"))


def test_sign_up_errors_are_shown_next_to_their_fields(client):
    response = client.post("/signup", data={
        "business_name": "Acme", "owner_name": "John", "email": "not-an-email",
        "phone": "12345", "business_type": "RETAIL", "password": "short", "confirm": "other"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    for field in ("email", "phone", "password", "confirm"):
        assert f'id="{field}-error"' in html, field
        assert re.search(rf'aria-describedby="[^"]*\b{field}-error\b', html), field
    assert 'aria-invalid="true"' in html
    assert client.get("/dashboard").status_code == 302  # not logged in


def test_a_taken_email_is_refused_on_the_email_field(client):
    form = sign_up(client)
    client.post("/logout")
    response = client.post("/signup", data={**form, "email": form["email"].upper()})
    assert response.status_code == 422
    assert "already registered" in text(response)
    assert 'id="email-error"' in response.get_data(as_text=True)


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client):
    form = sign_up(client)
    client.post("/logout")
    response = log_in(client, form["email"], "wrong password")
    assert response.status_code == 422
    assert "The email or password is not right." in text(response)
    unknown = log_in(client, "nobody@example.com", "wrong password")
    assert "The email or password is not right." in text(unknown)


def test_log_out_ends_the_session(client):
    sign_up(client)
    assert client.get("/dashboard").status_code == 200
    response = client.post("/logout")
    assert response.headers["Location"] == "/login"
    assert client.get("/dashboard").status_code == 302


def test_log_out_is_a_post_only(client):
    sign_up(client)
    response = client.get("/logout")
    assert response.status_code == 405
    assert client.get("/dashboard").status_code == 200


MAX_FAILURES = 5  # RATE_LIMIT_LOGIN: 5 per 15 minutes per (email, address)


def _fail(client, email, times, address="10.0.0.1"):
    for _ in range(times):
        response = log_in(client, email, "wrong password", environ_base={"REMOTE_ADDR": address})
        assert response.status_code == 422


def test_five_failures_lock_that_email_from_that_address(client):
    form = sign_up(client)
    client.post("/logout")
    _fail(client, form["email"], MAX_FAILURES)
    locked = log_in(client, form["email"], environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert locked.status_code == 429
    assert "Too many failed attempts" in text(locked) and "15 minutes" in text(locked)
    assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert client.get("/dashboard").status_code == 302  # the right password did not get in
    # The owner on another network is not locked out by someone guessing elsewhere.
    elsewhere = log_in(client, form["email"], environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert elsewhere.status_code == 302


def test_a_successful_log_in_clears_the_failures(client):
    form = sign_up(client)
    client.post("/logout")
    _fail(client, form["email"], MAX_FAILURES - 1)
    assert log_in(client, form["email"], environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302
    client.post("/logout")
    _fail(client, form["email"], MAX_FAILURES - 1)
    assert log_in(client, form["email"], environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302


def test_twenty_failures_from_anywhere_lock_the_account_for_an_hour(client):
    form = sign_up(client)
    client.post("/logout")
    for address in range(4):  # 4 addresses x 5: no (email, address) limit is reached first
        _fail(client, form["email"], MAX_FAILURES, address=f"10.0.1.{address}")
    locked = log_in(client, form["email"], environ_base={"REMOTE_ADDR": "10.0.2.1"})
    assert locked.status_code == 429
    assert 59 * 60 < int(locked.headers["Retry-After"]) <= 60 * 60
    # Another account is not affected.
    other = sign_up(client)
    client.post("/logout")
    assert log_in(client, other["email"],
                  environ_base={"REMOTE_ADDR": "10.0.2.1"}).status_code == 302


def test_looking_at_the_log_in_page_uses_no_attempt(client):
    form = sign_up(client)
    client.post("/logout")
    for _ in range(MAX_FAILURES + 3):
        assert client.get("/login", environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 200
    assert log_in(client, form["email"], environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 302


def test_the_limits_keep_no_email_in_redis(app, client):
    form = sign_up(client)
    client.post("/logout")
    _fail(client, form["email"], 1)
    prefix = app.config["REDIS_KEY_PREFIX"] + "rate-limits:"
    keys = [k.decode() for k in app.extensions["redis"].scan_iter(match=prefix + "*")]
    assert any("/login/" in key for key in keys)
    assert not any(form["email"] in key or form["email"].lower() in key for key in keys)


WARNING = "One more wrong password and logging in with this email is locked for 15 minutes."


def test_the_fourth_failure_warns_before_the_lock(client):
    form = sign_up(client)
    client.post("/logout")
    answers = [text(log_in(client, form["email"], "wrong password",
                           environ_base={"REMOTE_ADDR": "10.0.0.1"}))
               for _ in range(MAX_FAILURES)]
    assert [WARNING in page for page in answers] == [False, False, False, True, False]
    assert "Forgot password?" in answers[3]
    assert log_in(client, form["email"],
                  environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code == 429


def test_web_sign_up_creates_no_api_key_nobody_has_seen(client):
    sign_up(client)
    page = text(client.get("/settings/api-keys"))
    assert "Default key" not in page
    assert "No keys yet" in page
