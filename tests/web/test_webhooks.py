"""The Webhooks pages: an endpoint with its secret shown once, the delivery log with replay,
the dashboard's notice for an endpoint the platform disabled, and the channel setup's offer
to relay payments instead of registering the merchant's own confirmation URL."""

import re

import sqlalchemy as sa

from loyalty.background import TaskName
from tests.web.conftest import login_as, sign_up, text
from tests.web.test_channels import _merchant_id, _new_channel

ENDPOINT = {"url": "https://pos.example.com/loyalty", "events": ["payment.received", "payment.credited"],
            "channel_id": "", "description": "Till"}


def _secret(response) -> str:
    return re.search(r'id="secret" class="key" readonly value="([^"]+)"',
                     response.get_data(as_text=True)).group(1)


def test_an_endpoint_is_added_with_its_secret_shown_once(client, db_session):
    sign_up(client)
    created = client.post("/webhooks", data=ENDPOINT)
    assert created.status_code == 200
    secret = _secret(created)
    assert secret.startswith("whsec_") and "will not be shown again" in text(created)
    listing = client.get("/webhooks")
    assert "https://pos.example.com/loyalty" in text(listing) and secret not in listing.get_data(as_text=True)
    endpoint_id = db_session.execute(sa.text("SELECT id FROM webhook_endpoints")).scalar()
    detail = client.get(f"/webhooks/{endpoint_id}")
    assert detail.status_code == 200 and secret not in detail.get_data(as_text=True)
    rotated = client.post(f"/webhooks/{endpoint_id}/rotate")
    assert _secret(rotated) not in (secret, "") and "24 hours" in text(rotated)


def test_a_refused_url_is_shown_on_its_field(client, app, monkeypatch):
    sign_up(client)
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    response = client.post("/webhooks", data={**ENDPOINT, "url": "http://10.0.0.7/hook"})
    assert response.status_code == 422
    assert 'id="url-error"' in response.get_data(as_text=True) and "https://" in text(response)


def test_the_delivery_log_shows_the_answer_and_replays(client, db_session, recorded_tasks):
    sign_up(client)
    client.post("/webhooks", data={**ENDPOINT, "url": "http://127.0.0.1:9/hook"})
    endpoint_id = db_session.execute(sa.text("SELECT id FROM webhook_endpoints")).scalar()
    assert client.post(f"/webhooks/{endpoint_id}/test").status_code == 302
    [delivery_id] = db_session.execute(sa.text("SELECT id FROM webhook_deliveries")).scalars()
    db_session.execute(sa.text(
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 3, last_status_code = 502, "
        "last_error = 'HTTP 502: bad gateway'"))
    page = text(client.get(f"/webhooks/{endpoint_id}"))
    assert "webhook.test" in page and "answered 502" in page and "HTTP 502: bad gateway" in page
    assert client.post(f"/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay").status_code == 302
    merchant = db_session.execute(sa.text("SELECT merchant_id FROM webhook_endpoints")).scalar()
    assert (merchant, [delivery_id], "replay") in recorded_tasks.args_of(TaskName.DELIVER_WEBHOOKS)


def test_the_dashboard_says_when_an_endpoint_was_disabled(client, db_session):
    sign_up(client)
    client.post("/webhooks", data=ENDPOINT)
    db_session.execute(sa.text(
        "UPDATE webhook_endpoints SET state = 'disabled', disabled_reason = 'Disabled "
        "automatically: no delivery succeeded for 72 hours.'"))
    page = text(client.get("/dashboard"))
    assert "https://pos.example.com/loyalty is disabled" in page and "72 hours" in page


def test_the_channel_setup_relays_instead_of_registering_a_merchants_own_url(
        client, db_session, recorded_tasks):
    sign_up(client)
    channel_id = _new_channel(client)
    db_session.execute(sa.text("UPDATE mpesa_channels SET verification_state='done', "
                               "status='verified' WHERE id = :i"), {"i": channel_id})
    own = "https://erp.example.com/payments/confirm"
    refused = client.post(f"/channels/{channel_id}/register-urls", data={"confirmation_url": own})
    assert refused.status_code == 422
    page = text(refused)
    assert "no payment to 174379 would earn points" in page and f"Relay payments to {own}" in page
    assert TaskName.REGISTER_URLS not in recorded_tasks.names()
    relayed = client.post(f"/channels/{channel_id}/relay", data={"url": own})
    assert relayed.status_code == 200 and _secret(relayed).startswith("whsec_")
    row = db_session.execute(sa.text("SELECT url, events, channel_id FROM webhook_endpoints")).one()
    assert (row.url, row.events, row.channel_id) == (own, ["payment.received"], channel_id)
    assert (_merchant_id(db_session, channel_id), channel_id) in recorded_tasks.args_of(TaskName.REGISTER_URLS)
    urls = db_session.execute(sa.text("SELECT confirmation_url FROM mpesa_channels WHERE id = :i"),
                              {"i": channel_id}).scalar()
    assert urls != own and "/hooks/" in urls


def test_another_merchants_endpoint_is_a_404_page(client, db_session):
    sign_up(client)
    client.post("/webhooks", data=ENDPOINT)
    row = db_session.execute(sa.text("SELECT id, merchant_id FROM webhook_endpoints")).one()
    client.post("/logout")
    sign_up(client, business_name="Taste Restaurants")
    assert client.get(f"/webhooks/{row.id}").status_code == 404
    for action in ("rotate", "test", "enable", "disable", "delete"):
        assert client.post(f"/webhooks/{row.id}/{action}").status_code == 404, action
    assert "pos.example.com" not in text(client.get("/webhooks"))
    login_as(client, row.merchant_id)
    assert client.get(f"/webhooks/{row.id}").status_code == 200
