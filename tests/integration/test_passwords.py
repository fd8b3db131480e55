"""Merchant passwords over the API: change, and reset by a code texted to the merchant's
phone through the SMS outbox and gateway (Africa's Talking mocked at the HTTP edge)."""

import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
import sqlalchemy as sa

from loyalty.background import TaskName
from loyalty.models.base import utcnow
from loyalty.services import merchants, messages, passwords
from tests.conftest import auth, register_merchant
from tests.integration.conftest import AT, SENT

PASSWORD = "correct horse battery"
NEW = "a brand new passphrase"


@pytest.fixture
def owner(client):
    merchant, key = register_merchant(client, phone="0712345678")
    return {**merchant, "key": key}


def _ask(client, email):
    return client.post("/api/v1/password-reset", json={"email": email})


def _confirm(client, email, code, password=NEW):
    return client.post("/api/v1/password-reset/confirm",
                       json={"email": email, "code": code, "new_password": password})


def _texted_code(gateway, recorded_tasks) -> str:
    """Run what the reset request queued, as the worker would: the task that makes the
    code, then the SMS send; the code as the gateway received it."""
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    args, = recorded_tasks.args_of(TaskName.SEND_PASSWORD_RESET)
    recorded_tasks.clear()
    passwords.send_reset_code(*args)
    (pairs,), = recorded_tasks.args_of(TaskName.SEND_SMS_BATCH)
    messages.send_batch([tuple(pair) for pair in pairs])
    form = parse_qs(gateway.calls[-1].request.body)
    assert form["to"] == ["+254712345678"]  # the merchant's own phone
    return re.search(r"\b(\d{6})\b", form["message"][0]).group(1)


def _logs_in(email, password) -> bool:
    return merchants.authenticate_password(email, password) is not None


# --- change ----------------------------------------------------------------------------------


def test_change_needs_the_current_password(client, owner):
    response = client.post("/api/v1/merchants/me/password", headers=auth(owner["key"]),
                           json={"current_password": "not it", "new_password": NEW})
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["current_password"]
    assert _logs_in(owner["email"], PASSWORD) and not _logs_in(owner["email"], NEW)


def test_change_sets_the_new_password_and_keeps_the_api_key(client, owner):
    response = client.post("/api/v1/merchants/me/password", headers=auth(owner["key"]),
                           json={"current_password": PASSWORD, "new_password": NEW})
    assert response.status_code == 204
    assert _logs_in(owner["email"], NEW) and not _logs_in(owner["email"], PASSWORD)
    assert client.get("/api/v1/merchants/me", headers=auth(owner["key"])).status_code == 200


def test_a_new_password_is_at_least_eight_characters(client, owner):
    response = client.post("/api/v1/merchants/me/password", headers=auth(owner["key"]),
                           json={"current_password": PASSWORD, "new_password": "short"})
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["new_password"]


# --- reset -----------------------------------------------------------------------------------


def test_a_texted_code_sets_a_new_password_once(client, db_session, owner, gateway, recorded_tasks):
    asked = _ask(client, owner["email"].upper())
    assert asked.status_code == 202
    code = _texted_code(gateway, recorded_tasks)
    done = _confirm(client, owner["email"], code)
    assert done.status_code == 200, done.get_json()
    assert _logs_in(owner["email"], NEW) and not _logs_in(owner["email"], PASSWORD)
    again = _confirm(client, owner["email"], code, password="yet another one")
    assert again.status_code == 422  # a code works once
    assert _logs_in(owner["email"], NEW)


def test_only_a_digest_of_the_code_is_kept_and_the_text_is_masked_once_sent(
        client, db_session, owner, gateway, recorded_tasks):
    _ask(client, owner["email"])
    code = _texted_code(gateway, recorded_tasks)
    stored = db_session.execute(sa.text("SELECT code_hash, salt FROM password_resets")).one()
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    text = db_session.execute(sa.text(
        "SELECT purpose, recipient, status, body, customer_id, payment_id FROM sms_messages")).one()
    assert (text.purpose, text.recipient, text.status) == ("password_reset", "254712345678", "sent")
    assert text.customer_id is None and text.payment_id is None
    assert code not in text.body and "******" in text.body


def test_an_unknown_email_is_answered_exactly_like_a_registered_one(client, owner, recorded_tasks):
    known, unknown = _ask(client, owner["email"]), _ask(client, "nobody@nowhere.example")
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    # Both queue the same task: whether a code is texted is decided in the worker.
    assert recorded_tasks.names() == [TaskName.SEND_PASSWORD_RESET] * 2
    assert passwords.send_reset_code("nobody@nowhere.example") is False
    wrong_known = _confirm(client, owner["email"], "123456")
    wrong_unknown = _confirm(client, "nobody@nowhere.example", "123456")
    assert wrong_known.status_code == wrong_unknown.status_code == 422
    assert wrong_known.get_json() == wrong_unknown.get_json()


def test_a_code_expires_after_ten_minutes(client, owner, gateway, recorded_tasks, monkeypatch):
    _ask(client, owner["email"])
    code = _texted_code(gateway, recorded_tasks)
    later = utcnow() + timedelta(minutes=passwords.RESET_CODE_MINUTES, seconds=1)
    monkeypatch.setattr(passwords, "utcnow", lambda: later)
    expired = _confirm(client, owner["email"], code)
    assert expired.status_code == 422
    assert expired.get_json()["error"]["fields"] == {"code": [passwords.WRONG_CODE]}
    assert _logs_in(owner["email"], PASSWORD)


def test_five_wrong_tries_lock_the_code(client, owner, gateway, recorded_tasks):
    _ask(client, owner["email"])
    code = _texted_code(gateway, recorded_tasks)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(passwords.RESET_CODE_TRIES):
        assert _confirm(client, owner["email"], wrong).status_code == 422
    locked = _confirm(client, owner["email"], code)  # now even the right one is refused
    assert locked.status_code == 422
    assert _logs_in(owner["email"], PASSWORD) and not _logs_in(owner["email"], NEW)
    _ask(client, owner["email"])  # a new code starts with five tries again
    fresh = _texted_code(gateway, recorded_tasks)
    assert _confirm(client, owner["email"], fresh).status_code == 200


def test_a_new_code_replaces_the_old_one(client, owner, gateway, recorded_tasks):
    _ask(client, owner["email"])
    first = _texted_code(gateway, recorded_tasks)
    _ask(client, owner["email"])
    second = _texted_code(gateway, recorded_tasks)
    if first != second:
        assert _confirm(client, owner["email"], first).status_code == 422
    assert _confirm(client, owner["email"], second).status_code == 200


def test_a_password_change_voids_an_outstanding_code(client, owner, gateway, recorded_tasks):
    _ask(client, owner["email"])
    code = _texted_code(gateway, recorded_tasks)
    client.post("/api/v1/merchants/me/password", headers=auth(owner["key"]),
                json={"current_password": PASSWORD, "new_password": NEW})
    assert _confirm(client, owner["email"], code, password="taken over").status_code == 422
    assert _logs_in(owner["email"], NEW)


def test_a_code_is_six_digits(client, owner):
    response = _confirm(client, owner["email"], "12345a")
    assert response.status_code == 422
    assert list(response.get_json()["error"]["fields"]) == ["code"]


def test_reset_endpoints_need_no_api_key_and_say_so(client):
    spec = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert spec["/api/v1/password-reset"]["post"]["security"] == []
    assert spec["/api/v1/password-reset/confirm"]["post"]["security"] == []
    assert "202" in spec["/api/v1/password-reset"]["post"]["responses"]
    for path in ("/api/v1/password-reset", "/api/v1/password-reset/confirm"):
        assert spec[path]["post"]["responses"]["429"] == {
            "$ref": "#/components/responses/TooManyRequests"}


# --- rate limits ------------------------------------------------------------------------------


def test_a_fourth_code_for_one_email_within_the_hour_is_429_known_or_not(client, owner,
                                                                        recorded_tasks):
    for email in (owner["email"], "nobody@nowhere.example"):
        for _ in range(3):
            assert _ask(client, email).status_code == 202
        refused = _ask(client, email.upper())
        assert refused.status_code == 429
        assert refused.get_json()["error"]["code"] == "too_many_requests"
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert len(recorded_tasks.args_of(TaskName.SEND_PASSWORD_RESET)) == 6


def test_the_api_and_the_web_form_count_codes_for_one_email_together(client, owner,
                                                                     recorded_tasks):
    for _ in range(2):
        assert _ask(client, owner["email"]).status_code == 202
    assert client.post("/forgot-password", data={"email": f" {owner['email']} "}).status_code == 302
    refused = _ask(client, owner["email"].upper())
    assert refused.status_code == 429
    assert refused.get_json()["error"]["message"].startswith(
        "Too many codes were asked for this email. Try again in ")
    assert len(recorded_tasks.args_of(TaskName.SEND_PASSWORD_RESET)) == 3


def test_one_address_gets_twenty_resets_an_hour_whatever_the_emails(client, owner, recorded_tasks):
    elsewhere = {"REMOTE_ADDR": "10.9.8.7"}
    for n in range(20):
        response = client.post("/api/v1/password-reset/confirm", environ_base=elsewhere,
                               json={"email": f"guess{n}@x.example", "code": "123456",
                                     "new_password": NEW})
        assert response.status_code == 422
    refused = client.post("/api/v1/password-reset", environ_base=elsewhere,
                          json={"email": owner["email"]})
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert _ask(client, owner["email"]).status_code == 202  # another address is not held up
