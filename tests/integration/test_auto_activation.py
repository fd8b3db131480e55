"""Auto-activation and a channel's history, with Daraja mocked at the HTTP edge and the
worker's steps run in-process: what the merchant sees through the API."""

import json
import threading
import uuid

import pytest
import responses
import sqlalchemy as sa
from flask_migrate import upgrade

from loyalty.extensions import db
from loyalty.models import HealthState, MpesaChannel, SmsMessage
from loyalty.services import (
    channel_activation,
    channel_events,
    channel_setup,
    channel_transfer,
)
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import unit_of_work
from tests.conftest import auth, make_test_app, register_merchant
from tests.integration.test_channel_setup import DARAJA, OAUTH
from tests.integration.test_channels_api import PASSKEY, SECRET, paybill

CONSUMER_KEY = "ck-abcdefgh-WXYZ"
INITIATOR_PASSWORD = "Op3rator-Pa55!"


@pytest.fixture
def daraja():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, OAUTH, json={"access_token": "tok-777", "expires_in": "3599"})
        mock.add(responses.POST, f"{DARAJA}/mpesa/c2b/v2/registerurl", json={
            "OriginatorCoversationID": "1-2-3", "ResponseCode": "0",
            "ResponseDescription": "Success"})
        yield mock


def _new_channel(client, key, **overrides):
    answer = client.post("/api/v1/mpesa-channels", headers=auth(key), json=paybill(**overrides))
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _onboard(client, key, merchant_id, channel_id):
    """The merchant's two requests, each followed by the worker's part."""
    url = f"/api/v1/mpesa-channels/{channel_id}"
    assert client.post(f"{url}/verify", headers=auth(key)).status_code == 202
    with tenant_context(merchant_id):
        channel_setup.verify_channel(channel_id)
    assert client.post(f"{url}/register-urls", headers=auth(key), json={}).status_code == 202
    with tenant_context(merchant_id):
        channel_setup.register_urls(channel_id)
    return client.get(url, headers=auth(key)).get_json()


def _events(client, key, channel_id, **params):
    answer = client.get(f"/api/v1/mpesa-channels/{channel_id}/events", headers=auth(key),
                        query_string=params)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_a_channel_activates_itself_once_verified_and_registered(client, merchant_a, daraja,
                                                                  db_session):
    merchant, key = merchant_a
    created = _new_channel(client, key)
    assert created["auto_activate"] is True and created["notify_by_sms"] is False

    channel = _onboard(client, key, merchant["id"], created["id"])

    assert channel["status"] == "active" and channel["is_active"] is True
    page = _events(client, key, created["id"])
    assert page["next_cursor"] is None
    assert [(e["kind"], e["actor"]) for e in page["items"]] == [
        ("activated", "auto"), ("urls_registered", "system"), ("verified", "system"),
        ("created", "merchant")]
    assert page["items"][0]["summary"] == (
        "Activated automatically after Safaricom confirmed your details.")
    # Nobody asked for a text: none is queued.
    with tenant_context(merchant["id"]):
        assert db_session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) == 0


def test_the_merchant_who_asked_is_texted_on_its_own_phone(client, merchant_a, daraja,
                                                           db_session, recorded_tasks):
    merchant, key = merchant_a
    created = _new_channel(client, key, notify_by_sms=True)
    _onboard(client, key, merchant["id"], created["id"])

    with tenant_context(merchant["id"]):
        texts = list(db_session.scalars(sa.select(SmsMessage)))
    assert len(texts) == 1
    text = texts[0]
    assert text.recipient == merchant["phone"] and text.customer_id is None
    assert text.purpose == channel_events.CHANNEL_NOTICE
    assert "Main PayBill (174379) is now active" in text.body
    assert ([[merchant["id"], text.id]],) in recorded_tasks.args_of("sms.send_batch")


def test_without_auto_activate_the_merchant_activates(client, merchant_a, daraja, db_session):
    merchant, key = merchant_a
    created = _new_channel(client, key, auto_activate=False)
    channel = _onboard(client, key, merchant["id"], created["id"])
    assert channel["status"] == "verified" and channel["is_active"] is False

    url = f"/api/v1/mpesa-channels/{created['id']}"
    assert client.post(f"{url}/activate", headers=auth(key)).get_json()["is_active"] is True
    kinds = [(e["kind"], e["actor"]) for e in _events(client, key, created["id"])["items"]]
    assert kinds[0] == ("activated", "merchant")
    assert ("activated", "auto") not in kinds


def test_a_paused_channel_stays_paused_after_verifying_again(client, merchant_a, daraja,
                                                             db_session):
    merchant, key = merchant_a
    created = _new_channel(client, key)
    _onboard(client, key, merchant["id"], created["id"])
    url = f"/api/v1/mpesa-channels/{created['id']}"

    paused = client.post(f"{url}/deactivate", headers=auth(key)).get_json()
    assert paused["is_active"] is False and paused["paused_at"] is not None
    # New credentials, verified again: the URLs are still registered, yet the merchant's
    # pause holds.
    client.patch(url, headers=auth(key), json={"consumer_secret": "a-new-secret-123456"})
    again = _onboard(client, key, merchant["id"], created["id"])
    assert again["is_active"] is False and again["status"] == "verified"

    resumed = client.post(f"{url}/activate", headers=auth(key)).get_json()
    assert resumed["is_active"] is True and resumed["paused_at"] is None
    kinds = [(e["kind"], e["actor"]) for e in _events(client, key, created["id"])["items"]]
    assert kinds[:5] == [("activated", "merchant"), ("urls_registered", "system"),
                         ("verified", "system"), ("credentials_changed", "merchant"),
                         ("deactivated", "merchant")]


def test_a_credential_change_pauses_a_live_channel_until_it_is_verified_again(
        client, merchant_a, daraja, db_session):
    merchant, key = merchant_a
    created = _new_channel(client, key)
    _onboard(client, key, merchant["id"], created["id"])
    url = f"/api/v1/mpesa-channels/{created['id']}"

    changed = client.patch(url, headers=auth(key), json={"passkey": "b" * 64}).get_json()
    assert changed["is_active"] is False
    back = _onboard(client, key, merchant["id"], created["id"])
    assert back["is_active"] is True  # not the merchant's pause: it comes back by itself
    kinds = [(e["kind"], e["actor"]) for e in _events(client, key, created["id"])["items"]]
    # The URLs stayed registered (the number did not change): verification was the last
    # step missing, so the channel activated as soon as it succeeded.
    assert kinds[:5] == [("urls_registered", "system"), ("activated", "auto"),
                         ("verified", "system"), ("deactivated", "system"),
                         ("credentials_changed", "merchant")]


def test_event_details_name_fields_never_secrets(client, merchant_a, daraja, db_session):
    merchant, key = merchant_a
    created = _new_channel(client, key, notify_by_sms=True)
    _onboard(client, key, merchant["id"], created["id"])
    url = f"/api/v1/mpesa-channels/{created['id']}"
    new_secret, new_key = "Fr3sh-secret-value-42", "ck-new-key-value-ABCD"
    client.patch(url, headers=auth(key), json={
        "consumer_key": new_key, "consumer_secret": new_secret,
        "initiator_name": "apiop", "initiator_password": INITIATOR_PASSWORD})
    client.post(f"{url}/rotate-callback-token", headers=auth(key))
    token = client.get(url, headers=auth(key)).get_json()["callback_urls"]["confirmation_url"]

    page = _events(client, key, created["id"])
    changed = next(e for e in page["items"] if e["kind"] == "credentials_changed")
    assert changed["detail"] == {"fields": ["consumer_key", "consumer_secret",
                                            "initiator_name", "initiator_password"]}
    assert changed["summary"] == ("Changed: consumer key, consumer secret, API operator name, "
                                  "API operator password.")
    rotated = next(e for e in page["items"] if e["kind"] == "token_rotated")
    assert rotated["actor"] == "merchant" and rotated["detail"]["token"] == "callback"
    everything = json.dumps(page)
    hook_token = token.split("/hooks/")[1].split("/")[0]
    for secret in (SECRET, PASSKEY, CONSUMER_KEY, new_secret, new_key, INITIATOR_PASSWORD,
                   hook_token, "tok-777"):
        assert secret not in everything


def test_another_merchants_channel_events_are_not_found(client, merchant_a, merchant_b,
                                                        db_session):
    _, key_a = merchant_a
    _, key_b = merchant_b
    created = _new_channel(client, key_a)
    answer = client.get(f"/api/v1/mpesa-channels/{created['id']}/events", headers=auth(key_b))
    assert answer.status_code == 404
    assert answer.get_json()["error"]["code"] == "not_found"
    huge = client.get(f"/api/v1/mpesa-channels/{2**31}/events", headers=auth(key_a))
    assert huge.status_code == 404


def test_events_page_newest_first_with_a_cursor(client, merchant_a, daraja, db_session):
    merchant, key = merchant_a
    created = _new_channel(client, key)
    _onboard(client, key, merchant["id"], created["id"])
    first = _events(client, key, created["id"], limit=3)
    assert len(first["items"]) == 3 and first["next_cursor"] is not None
    rest = _events(client, key, created["id"], limit=3, cursor=first["next_cursor"])
    assert [e["kind"] for e in rest["items"]] == ["created"] and rest["next_cursor"] is None
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)


def test_a_failing_health_check_alerts_and_never_deactivates(client, merchant_a, daraja,
                                                             db_session):
    merchant, key = merchant_a
    # Credentials of its own: no token minted for them is cached from another test.
    created = _new_channel(client, key, notify_by_sms=True,
                           consumer_secret=f"health-{uuid.uuid4().hex}")
    db_session.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true, "
                               "verification_state='done', urls_state='done' WHERE id=:id"),
                       {"id": created["id"]})
    daraja.replace(responses.GET, OAUTH, status=400, json={
        "errorCode": "400.008.01", "errorMessage": "Invalid Authentication passed"})

    with tenant_context(merchant["id"]):
        channel_setup.check_channel_health(created["id"])
        channel_setup.check_channel_health(created["id"])  # still failing: one event only
        texts = [m.body for m in db_session.scalars(sa.select(SmsMessage).order_by(SmsMessage.id))]
        notices = channel_events.notices()

    channel = client.get(f"/api/v1/mpesa-channels/{created['id']}", headers=auth(key)).get_json()
    assert channel["is_active"] is True and channel["health"]["state"] == "failing"
    health = [e for e in _events(client, key, created["id"])["items"]
              if e["kind"] == "health_changed"]
    assert len(health) == 1 and health[0]["actor"] == "system"
    assert health[0]["detail"] == {"from": "unknown", "to": "failing",
                                   "code": "token_check_failed"}
    assert len(texts) == 1 and "failed its check with Safaricom" in texts[0]
    assert any(n["level"] == "warning" and n["channel_id"] == created["id"] for n in notices)


def test_two_steps_finishing_at_once_activate_once(scratch_database, redis_prefix, daraja):
    """Verification and URL registration recorded at the same moment by two workers: the
    row lock makes the second wait for the first, so exactly one activates the channel."""
    app = make_test_app(scratch_database, f"{redis_prefix}race:",
                        REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        upgrade()
    client = app.test_client()
    merchant, key = register_merchant(client)
    ids = [client.post("/api/v1/mpesa-channels", headers=auth(key), json=paybill(
        name=f"Till {n}")).get_json()["id"] for n in range(6)]
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE mpesa_channels SET verification_state='pending', "
                             "urls_state='pending'"))

    def record(step, channel_id, barrier):
        with app.app_context(), tenant_context(merchant["id"]):
            barrier.wait()
            with unit_of_work():
                if step == "verification":
                    channel_setup._record_verification(channel_id, ok=True, details={})
                else:
                    channel_setup._record_registration(channel_id, version="v2")

    for channel_id in ids:
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=record, args=(step, channel_id, barrier))
                   for step in ("verification", "urls")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)

    with app.app_context(), db.engine.connect() as conn:
        active = conn.execute(sa.text("SELECT count(*) FROM mpesa_channels WHERE is_active "
                                      "AND status = 'active'")).scalar()
        activations = conn.execute(sa.text(
            "SELECT channel_id, count(*) FROM channel_events WHERE kind = 'activated' "
            "AND actor = 'auto' GROUP BY channel_id")).all()
    assert active == len(ids)
    assert sorted(activations) == sorted((channel_id, 1) for channel_id in ids)


def test_activate_if_ready_needs_both_steps(app, client, merchant_a, db_session):
    merchant, key = merchant_a
    created = _new_channel(client, key)
    with tenant_context(merchant["id"]):
        channel = db_session.get(MpesaChannel, created["id"])
        assert channel_activation.activate_if_ready(channel) is False
        assert channel.health_state == HealthState.UNKNOWN and channel.is_active is False


def test_an_operators_command_is_recorded_as_the_operators(client, merchant_a, db_session):
    merchant, key = merchant_a
    created = _new_channel(client, key, name="Legacy Channel", consumer_key=None,
                           consumer_secret=None, passkey=None)
    channel_transfer.import_env_credentials(merchant["id"], "legacy-key-1234", "legacy-secret")
    events = _events(client, key, created["id"])["items"]
    assert (events[0]["kind"], events[0]["actor"]) == ("credentials_changed", "operator")
    assert events[0]["detail"] == {"fields": ["consumer_key", "consumer_secret"]}
    assert "legacy-secret" not in json.dumps(events)
