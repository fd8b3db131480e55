"""Transactions: filters, the unattributed queue with attach-to-phone, replay; analytics; keys."""

import re

import sqlalchemy as sa

from loyalty.services import crediting
from tests.integration.conftest import c2b_body
from tests.web.conftest import issued_key, text


def test_filters_narrow_the_list(client, shop):
    assert "RKTQDM7W6S" in text(client.get("/transactions", query_string={"status": "credited"}))
    assert "RKTQDM7W6S" not in text(client.get("/transactions", query_string={"status": "failed"}))
    assert "RKTQDM7W6S" not in text(client.get("/transactions", query_string={"from": "2099-01-01"}))
    bad = client.get("/transactions", query_string={"from": "yesterday", "status": "nonsense"})
    assert bad.status_code == 200 and "RKTQDM7W6S" in text(bad)  # bad filters are ignored


def test_attach_an_unattributed_payment_to_a_phone(client, shop):
    shop.hook("c2b/confirmation", c2b_body(msisdn="2547 ***** 678", trans_id="MASKED0001"))
    crediting.credit_waiting()
    queue = client.get("/transactions/unattributed")
    assert "MASKED0001" in text(queue)
    payment_id = int(re.search(r'id="payment-(\d+)"', queue.get_data(as_text=True)).group(1))
    bad = client.post(f"/transactions/{payment_id}/attribute", data={f"p{payment_id}-phone": "12"},
                      follow_redirects=True)
    assert "is not a Kenyan mobile number" in text(bad) and "MASKED0001" in text(bad)
    done = client.post(f"/transactions/{payment_id}/attribute",
                       data={f"p{payment_id}-phone": "0712345678"}, follow_redirects=True)
    assert "Payment attached and credited." in text(done)
    assert "MASKED0001" not in text(done)
    assert "200 VIP points" in text(client.get(
        client.get("/customers", query_string={"phone": "0712345678"}).headers["Location"]))


def test_replay_a_skipped_payment_after_activation(client, db_session, shop):
    db_session.execute(sa.text("UPDATE mpesa_channels SET is_active=false, status='verified'"))
    shop.hook("c2b/confirmation", c2b_body(trans_id="LATE000001"))
    crediting.credit_waiting()
    page = client.get("/transactions", query_string={"status": "skipped"})
    assert "LATE000001" in text(page) and "Replay" in text(page)
    payment_id = db_session.execute(sa.text(
        "SELECT id FROM payments WHERE trans_id = 'LATE000001'")).scalar()
    client.post(f"/channels/{shop.channel['id']}/activate")
    replayed = client.post(f"/transactions/{payment_id}/replay", follow_redirects=True)
    assert "Payment LATE000001 is now credited." in text(replayed)


def test_analytics_draws_a_chart_per_channel(client, shop):
    html = client.get("/analytics").get_data(as_text=True)
    assert html.count("<svg") == 3  # payments, amount, points for the one channel
    assert re.search(r'<rect class="bar" [^>]*height="(?!0")[\d.]+"', html)
    assert "KES 5,000" in text(client.get("/analytics"))


def test_api_key_is_shown_once_and_revoking_it_locks_it_out(client, shop):
    key = issued_key(client.post("/settings/api-keys", data={"name": "Till app"}))
    ok = client.get("/api/v1/merchants/me", headers={"Authorization": f"Bearer {key}"})
    assert ok.status_code == 200
    listing = client.get("/settings/api-keys").get_data(as_text=True)
    assert key not in listing and "Till app" in listing
    key_id = re.findall(r'/settings/api-keys/(\d+)/revoke', listing)[-1]
    client.post(f"/settings/api-keys/{key_id}/revoke")
    refused = client.get("/api/v1/merchants/me", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401


def test_the_api_keys_page_shows_when_each_key_was_last_used(client, shop):
    key = issued_key(client.post("/settings/api-keys", data={"name": "Till app"}))
    unused = text(client.get("/settings/api-keys"))
    assert re.search(r"Till app mpl_\S+… \d\d \w+ \d{4}, \d\d:\d\d – active", unused)
    client.get("/api/v1/merchants/me", headers={"Authorization": f"Bearer {key}"})
    used = text(client.get("/settings/api-keys"))
    assert re.search(r"Till app mpl_\S+… (\d\d \w+ \d{4}, \d\d:\d\d) \1 active", used)


def test_a_payments_page_shows_its_texts_and_what_the_gateway_reported(
        client, app, db_session, shop, monkeypatch):
    payment_id = db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    db_session.execute(sa.text(
        "UPDATE sms_messages SET status = 'sent', provider_message_id = 'ATXid_9', "
        "cost = 'KES 0.8000', sent_at = now(), reason = NULL, error = NULL WHERE payment_id = :p"), {"p": payment_id})
    db_session.commit()
    monkeypatch.setitem(app.config, "SMS_CALLBACK_TOKEN", "t0ken")
    client.post("/hooks/sms/t0ken/delivery", data={
        "id": "ATXid_9", "status": "Failed", "failureReason": "UserIsInactive"})
    page = text(client.get(f"/transactions/{payment_id}"))
    texts = page[page.index("Texts"):]
    assert "Hi John! You earned 100 VIP points." in texts
    assert "not delivered: UserIsInactive" in texts and "KES 0.8000" in texts
    assert "transactional" in texts
