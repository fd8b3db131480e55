"""The add-channel wizard, its live status, Safaricom's refusals, edits, and the mapping editor."""

import re

import responses
import sqlalchemy as sa

from loyalty.background import TaskName
from tests.web.conftest import sign_up, text

SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
CHANNEL = {"name": "Main PayBill", "shortcode": "174379", "channel_type": "paybill",
           "environment": "sandbox", "consumer_key": "demo-consumer-key",
           "consumer_secret": "demo-consumer-secret", "passkey": SANDBOX_PASSKEY}


def _new_channel(client, **overrides) -> int:
    response = client.post("/channels/new", data={**CHANNEL, **overrides})
    assert response.status_code == 302, text(response)
    return int(response.headers["Location"].split("/")[2])


def _merchant_id(db_session, channel_id):
    return db_session.execute(sa.text("SELECT merchant_id FROM mpesa_channels WHERE id = :i"),
                              {"i": channel_id}).scalar()


def test_the_wizard_queues_verification_and_shows_it_live(client, db_session, recorded_tasks):
    sign_up(client)
    channel_id = _new_channel(client)
    setup = text(client.get(f"/channels/{channel_id}/setup"))
    assert "Verify with Safaricom" in setup and "Not started" in setup
    assert client.post(f"/channels/{channel_id}/verify").status_code == 302
    assert recorded_tasks.args_of(TaskName.VERIFY_CHANNEL) == [
        (_merchant_id(db_session, channel_id), channel_id)]
    page = client.get(f"/channels/{channel_id}/setup").get_data(as_text=True)
    assert 'data-pending="true"' in page and "Checking with Safaricom…" in page
    # The spinner, and the words app.js shows if Safaricom is slow (not before).
    assert 'class="spinner"' in page and "This page updates by itself." in page
    assert re.search(r'data-live="slow" hidden>This is taking longer than usual', page)
    status = client.get(f"/channels/{channel_id}/status.json").get_json()
    assert status["verification"]["state"] == "pending"
    assert set(status) == {"id", "status", "is_active", "verification", "urls", "health"}


def test_refused_credentials_show_the_reason_and_the_next_step(client, db_session, run_task):
    sign_up(client)
    channel_id = _new_channel(client, consumer_secret="typo-in-the-secret")
    client.post(f"/channels/{channel_id}/verify")
    with responses.RequestsMock() as daraja:  # the worker runs the check the page queued
        daraja.add(responses.GET, "https://sandbox.daraja.test/oauth/v1/generate", status=400, body="")
        run_task(TaskName.VERIFY_CHANNEL, _merchant_id(db_session, channel_id), channel_id)
    page = text(client.get(f"/channels/{channel_id}/setup"))
    assert "Safaricom refused the consumer key and secret" in page
    assert "edit the credentials" in page and "Verify again" in page


def test_register_urls_refuses_a_forbidden_word_on_its_field(client, db_session, recorded_tasks):
    sign_up(client)
    channel_id = _new_channel(client)
    db_session.execute(sa.text("UPDATE mpesa_channels SET verification_state='done', "
                               "status='verified' WHERE id = :i"), {"i": channel_id})
    response = client.post(f"/channels/{channel_id}/register-urls", data={
        "confirmation_url": "https://shop.example.com/mpesa/confirm"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="confirmation_url-error"' in html and "mpesa" in text(response)
    assert recorded_tasks.args_of(TaskName.REGISTER_URLS) == []
    assert client.post(f"/channels/{channel_id}/register-urls", data={}).status_code == 302
    assert len(recorded_tasks.args_of(TaskName.REGISTER_URLS)) == 1


def test_activation_names_the_missing_step(client):
    sign_up(client)
    channel_id = _new_channel(client)
    response = client.post(f"/channels/{channel_id}/activate", follow_redirects=True)
    assert "Verify the channel with Safaricom before activating it." in text(response)


def test_channel_form_errors_are_shown_next_to_fields(client):
    sign_up(client)
    response = client.post("/channels/new", data={**CHANNEL, "shortcode": "12", "name": ""})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="shortcode-error"' in html and 'id="name-error"' in html
    assert "5 to 7 digit" in text(response)


def test_editing_keeps_blank_secrets_and_a_new_secret_needs_verifying_again(client, shop):
    channel_id = shop.channel["id"]
    edit = {"name": "Main", "shortcode": "174379", "channel_type": "paybill",
            "environment": "sandbox", "validation_policy": "accept_all"}
    assert client.post(f"/channels/{channel_id}/edit", data=edit).status_code == 302
    channel = shop.api("GET", f"/mpesa-channels/{channel_id}").get_json()
    assert channel["status"] == "active" and channel["credentials"]["consumer_secret"] is True
    client.post(f"/channels/{channel_id}/edit", data={**edit, "consumer_secret": "rotated-secret-1"})
    channel = shop.api("GET", f"/mpesa-channels/{channel_id}").get_json()
    assert channel["status"] == "configured" and channel["is_active"] is False


def test_the_mapping_editor_and_its_dry_run(client, shop):
    channel_id = shop.channel["id"]
    url = f"/channels/{channel_id}/mapping"
    page = text(client.get(url, query_string={"account": "VIP001", "amount": "5000"}))
    assert "VIP001, KES 5,000 → VIP program, 100 points" in page
    assert "Matched the rule VIP*" in page
    saved = client.post(url, query_string={"account": "VIP001", "amount": "5000"}, data={
        "rows-0-pattern": "VIP*", "rows-0-program": "loyalty",
        "rows-1-pattern": "default", "rows-1-program": "loyalty",
        "rows-2-pattern": "", "rows-2-program": "vip"}, follow_redirects=True)
    page = text(saved)
    assert "Account rules saved" in page
    assert "VIP001, KES 5,000 → Loyalty program, 50 points" in page
    mapping = shop.api("GET", f"/mpesa-channels/{channel_id}").get_json()["account_mapping"]
    assert mapping == {"VIP*": "loyalty", "default": "loyalty"}


def test_the_mapping_editor_shows_the_services_refusals(client, shop):
    url = f"/channels/{shop.channel['id']}/mapping"
    bad = client.post(url, data={"rows-0-pattern": "VIP*X", "rows-0-program": "vip"})
    assert bad.status_code == 422 and "'*' may only end a prefix" in text(bad)
    twice = client.post(url, data={"rows-0-pattern": "VIP*", "rows-0-program": "vip",
                                   "rows-1-pattern": "VIP*", "rows-1-program": "loyalty"})
    assert twice.status_code == 422 and "Listed twice." in text(twice)
    assert shop.api("GET", f"/mpesa-channels/{shop.channel['id']}").get_json()[
        "account_mapping"] == {"default": "loyalty", "VIP*": "vip"}


def test_the_dry_run_reports_a_bad_amount_on_its_field(client, shop):
    response = client.get(f"/channels/{shop.channel['id']}/mapping",
                          query_string={"account": "VIP001", "amount": "lots"})
    assert 'id="amount-error"' in response.get_data(as_text=True)
    assert "→" not in text(response)


def test_a_shared_sandbox_shortcode_is_flagged_before_and_after_registering(client, db_session,
                                                                           recorded_tasks):
    sign_up(client)
    first = _new_channel(client, name="Till A")
    second = _new_channel(client, name="Till B")  # the same sandbox 174379
    db_session.execute(sa.text("UPDATE mpesa_channels SET verification_state='done', "
                               "status='verified'"))
    db_session.execute(sa.text("UPDATE mpesa_channels SET urls_state='done' WHERE id = :i"),
                       {"i": first})
    before = text(client.get(f"/channels/{second}/setup"))
    assert "Sandbox shortcode 174379 is shared" in before
    assert "moves the shortcode's test payments here" in before
    answer = client.post(f"/channels/{second}/register-urls", data={}, follow_redirects=True)
    assert answer.status_code == 200
    assert "another channel on this platform has its URLs registered" in text(answer)
