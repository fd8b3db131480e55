"""The callback log page: what did not become a payment, in the merchant's words, with a
replay button (CSRF-protected) that credits once; another merchant's entries stay theirs."""

from __future__ import annotations

import json
import re

import sqlalchemy as sa

from tests.integration.conftest import c2b_body
from tests.web.conftest import sign_up, text


def _kept(db_session, shop, body: dict) -> int:
    """A confirmation kept in the log as the hooks keep one the database failed to store."""
    return db_session.execute(sa.text(
        "INSERT INTO callback_log (received_at, kind, merchant_id, channel_id, body, "
        "status_code, error, outcome) VALUES (now(), 'c2b_confirmation', :m, :c, :body, 503, "
        "'The callback could not be stored right now.', 'store_failed') RETURNING id"),
        {"m": shop.merchant_id, "c": shop.channel["id"], "body": json.dumps(body)}).scalar()


def test_the_page_says_why_each_message_is_there(client, shop):
    shop.hook("c2b/confirmation", c2b_body(shortcode="600999", trans_id="FOREIGN001"))
    shop.hook("c2b/confirmation", b"{not json")
    page = client.get("/callback-log")
    assert page.status_code == 200
    shown = text(page)
    assert "Refused Payment confirmation · Main" in shown
    assert "BusinessShortCode 600999 does not belong to this channel" in shown
    assert "The body is not valid JSON." in shown
    assert "What Safaricom sent" in shown and "FOREIGN001" in shown
    html = page.get_data(as_text=True)
    assert html.count(">Replay</button>") == 2  # both are confirmations
    only_unreadable = text(client.get("/callback-log", query_string={"kind": "c2b_validation"}))
    assert "Nothing here" in only_unreadable
    assert "Callback log" in text(client.get("/transactions"))


def test_replay_credits_once_and_a_refused_body_says_why(client, db_session, shop):
    entry_id = _kept(db_session, shop, c2b_body(trans_id="KEPT000001", amount="2500"))
    done = client.post(f"/callback-log/{entry_id}/replay", follow_redirects=True)
    assert "Payment KEPT000001 of KES 2,500 is credited." in text(done)
    assert "it is a payment now" in text(done)
    client.post(f"/callback-log/{entry_id}/replay", follow_redirects=True)
    earns = db_session.execute(sa.text(
        "SELECT count(*) FROM ledger_entries l JOIN payments p ON p.id = l.payment_id "
        "WHERE p.trans_id = 'KEPT000001' AND l.kind = 'earn'")).scalar()
    assert earns == 1
    shop.hook("c2b/confirmation", c2b_body(shortcode="600999", trans_id="FOREIGN001"))
    foreign_id = int(re.search(r'id="entry-(\d+)"', client.get("/callback-log").get_data(
        as_text=True)).group(1))
    refused = client.post(f"/callback-log/{foreign_id}/replay", follow_redirects=True)
    assert "Not replayed: BusinessShortCode 600999 does not belong to this channel" in text(refused)


def test_replay_needs_the_csrf_token(client, app, db_session, shop, monkeypatch):
    entry_id = _kept(db_session, shop, c2b_body(trans_id="KEPT000002"))
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    assert client.post(f"/callback-log/{entry_id}/replay").status_code == 400
    html = client.get("/callback-log").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', html).group(1)
    assert client.post(f"/callback-log/{entry_id}/replay",
                       data={"csrf_token": token}).status_code == 302
    assert db_session.execute(sa.text(
        "SELECT status FROM payments WHERE trans_id = 'KEPT000002'")).scalar() == "credited"


def test_another_merchants_log_is_neither_listed_nor_replayed(client, db_session, shop):
    entry_id = _kept(db_session, shop, c2b_body(trans_id="THEIRS0001"))
    client.post("/logout")
    sign_up(client, business_name="Taste Restaurants")
    assert "THEIRS0001" not in text(client.get("/callback-log"))
    assert client.post(f"/callback-log/{entry_id}/replay").status_code == 404
    assert db_session.execute(sa.text(
        "SELECT count(*) FROM payments WHERE trans_id = 'THEIRS0001'")).scalar() == 0


def test_replaying_a_kept_result_says_what_it_did(client, db_session, shop):
    body = {"Result": {"ResultType": 0, "ResultCode": 0, "ResultDesc": "done",
                       "OriginatorConversationID": "1-1", "ConversationID": "AG_NOBODY"}}
    entry_id = db_session.execute(sa.text(
        "INSERT INTO callback_log (received_at, kind, merchant_id, channel_id, body, "
        "status_code, error, outcome) VALUES (now(), 'result_reversal', :m, :c, :body, 500, "
        "'The result could not be applied; kept for review.', 'store_failed') RETURNING id"),
        {"m": shop.merchant_id, "c": shop.channel["id"], "body": json.dumps(body)}).scalar()
    page = client.get("/callback-log").get_data(as_text=True)
    assert f'/callback-log/{entry_id}/replay' in page  # Safaricom's answers have the button
    done = text(client.post(f"/callback-log/{entry_id}/replay", follow_redirects=True))
    assert "Reversal result: nothing changed. No request of this channel has ConversationID " \
           "AG_NOBODY" in done
    assert "Replayed" in done
