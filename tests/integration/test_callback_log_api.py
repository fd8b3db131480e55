"""The callback log API: the merchant's own bodies that did not become payments, and replay
through the normal path (twice credits once; a foreign shortcode stays refused)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from loyalty.services import crediting
from tests.conftest import auth
from tests.integration.conftest import c2b_body, pending_push


def _entries(shop, **query) -> dict:
    response = shop.api("GET", "/callback-log", query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _kept(db_session, shop, body, *, kind="c2b_confirmation", status_code=503, error="x",
          outcome="store_failed") -> int:
    """A body kept in the log as the hooks keep one (e.g. the database failed to store it)."""
    return db_session.execute(sa.text(
        "INSERT INTO callback_log (received_at, kind, merchant_id, channel_id, body, "
        "status_code, error, outcome) VALUES (now(), :kind, :m, :c, :body, :status, :error, "
        ":outcome) RETURNING id"),
        {"kind": kind, "m": shop.merchant_id, "c": shop.channel["id"], "body": json.dumps(body),
         "status": status_code, "error": error, "outcome": outcome}).scalar()


def _earns(db_session) -> int:
    return db_session.execute(sa.text(
        "SELECT count(*) FROM ledger_entries WHERE kind = 'earn'")).scalar()


def test_the_log_lists_what_did_not_become_a_payment(acme, db_session):
    acme.hook("c2b/confirmation", c2b_body())  # a payment: not in the log
    acme.hook("c2b/confirmation", c2b_body(shortcode="600999", trans_id="FOREIGN001"))
    acme.hook("c2b/confirmation", b"{not json")
    acme.hook("result/balance", {"Result": {"ResultCode": 0, "ConversationID": "AG_9"}})
    page = _entries(acme)
    assert [e["kind"] for e in page["items"]] == ["result_balance", "c2b_confirmation",
                                                  "c2b_confirmation"]
    assert [e["outcome"] for e in page["items"]] == ["result", "rejected", "rejected"]
    foreign = page["items"][2]
    assert set(foreign) == {"id", "channel_id", "kind", "received_at", "outcome", "error", "body",
                            "replayed_at", "payment_id"}
    assert foreign["channel_id"] == acme.channel["id"]
    assert "600999 does not belong to this channel" in foreign["error"]
    assert json.loads(foreign["body"])["TransID"] == "FOREIGN001"
    assert page["next_cursor"] is None
    first = _entries(acme, limit=2)
    assert len(first["items"]) == 2
    rest = _entries(acme, limit=2, cursor=first["next_cursor"])
    assert [e["id"] for e in rest["items"]] == [foreign["id"]]
    assert [e["kind"] for e in _entries(acme, kind="result_balance")["items"]] == ["result_balance"]
    assert _entries(acme, channel_id=acme.channel["id"] + 1000)["items"] == []
    assert _entries(acme, **{"from": "2099-01-01T00:00:00Z"})["items"] == []
    assert acme.api("GET", "/callback-log", query_string={"limit": 0}).status_code == 422


def test_replaying_a_kept_confirmation_credits_it_once(acme, db_session):
    entry_id = _kept(db_session, acme, c2b_body(trans_id="KEPT000001"))
    first = acme.api("POST", f"/callback-log/{entry_id}/replay")
    assert first.status_code == 200, first.get_json()
    payment = first.get_json()
    assert (payment["trans_id"], payment["status"], payment["points"]) == ("KEPT000001",
                                                                           "credited", 100)
    again = acme.api("POST", f"/callback-log/{entry_id}/replay")
    assert again.status_code == 200 and again.get_json()["id"] == payment["id"]
    crediting.credit_waiting()
    assert _earns(db_session) == 1
    assert db_session.execute(sa.text("SELECT count(*) FROM sms_messages")).scalar() == 1
    entry = next(e for e in _entries(acme)["items"] if e["id"] == entry_id)
    assert entry["payment_id"] == payment["id"] and entry["replayed_at"]


def test_a_replay_finds_the_payment_that_came_meanwhile(acme, db_session):
    entry_id = _kept(db_session, acme, c2b_body(trans_id="BOTH000001"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="BOTH000001"))
    crediting.credit_waiting()
    replayed = acme.api("POST", f"/callback-log/{entry_id}/replay").get_json()
    assert (replayed["trans_id"], replayed["status"]) == ("BOTH000001", "credited")
    assert _earns(db_session) == 1


def test_a_foreign_shortcode_stays_refused(acme, db_session):
    acme.hook("c2b/confirmation", c2b_body(shortcode="600999", trans_id="FOREIGN001"))
    entry_id = _entries(acme)["items"][0]["id"]
    refused = acme.api("POST", f"/callback-log/{entry_id}/replay")
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "shortcode_mismatch" and "600999" in error["fields"]["body"][0]
    assert db_session.execute(sa.text("SELECT count(*) FROM payments")).scalar() == 0


@pytest.mark.parametrize("kind, body, status, code", [
    ("c2b_confirmation", "{not json", 422, "bad_callback"),
    ("c2b_validation", c2b_body(), 409, "not_replayable"),
])
def test_what_cannot_become_a_payment_says_why(acme, db_session, kind, body, status, code):
    entry_id = db_session.execute(sa.text(
        "INSERT INTO callback_log (received_at, kind, merchant_id, channel_id, body, status_code, "
        "outcome) VALUES (now(), :kind, :m, :c, :body, 400, 'rejected') RETURNING id"),
        {"kind": kind, "m": acme.merchant_id, "c": acme.channel["id"],
         "body": body if isinstance(body, str) else json.dumps(body)}).scalar()
    response = acme.api("POST", f"/callback-log/{entry_id}/replay")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_replaying_a_late_stk_callback_of_the_same_receipt_is_the_same_payment(acme, db_session):
    request_id = pending_push(db_session, acme, "254712345678", checkout="ws_CO_5")
    body = {"Body": {"stkCallback": {
        "MerchantRequestID": "m-5", "CheckoutRequestID": "ws_CO_5", "ResultCode": 0,
        "ResultDesc": "ok", "CallbackMetadata": {"Item": [
            {"Name": "Amount", "Value": 100}, {"Name": "MpesaReceiptNumber", "Value": "STK0000005"},
            {"Name": "PhoneNumber", "Value": 254712345678}]}}}}
    acme.hook("stk", body)
    acme.hook("stk", body)  # the second delivery is kept in the log
    [entry] = _entries(acme)["items"]
    assert (entry["kind"], entry["outcome"]) == ("stk_result", "duplicate")
    entry_id = entry["id"]
    replayed = acme.api("POST", f"/callback-log/{entry_id}/replay")
    assert replayed.status_code == 200 and replayed.get_json()["trans_id"] == "STK0000005"
    other = json.loads(json.dumps(body).replace("STK0000005", "STK0000006"))
    other_id = _kept(db_session, acme, other, kind="stk_result", status_code=200,
                     outcome="duplicate")
    refused = acme.api("POST", f"/callback-log/{other_id}/replay")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "already_settled"
    assert "STK0000005" in refused.get_json()["error"]["message"]
    crediting.credit_waiting()
    assert _earns(db_session) == 1
    assert db_session.execute(sa.text("SELECT receipt FROM payment_requests WHERE id = :id"),
                              {"id": request_id}).scalar() == "STK0000005"


def test_a_confirmation_to_an_inactive_channel_is_kept_and_credited_after_activation(
        acme, db_session):
    db_session.execute(sa.text("UPDATE mpesa_channels SET is_active=false, status='verified'"))
    entry_id = _kept(db_session, acme, c2b_body(trans_id="IDLE000001"))
    kept = acme.api("POST", f"/callback-log/{entry_id}/replay").get_json()
    assert kept["status"] == "skipped"
    assert kept["error"] == "Channel 'Main' is not active: activate it, then replay this payment."
    acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/activate")
    credited = acme.api("POST", f"/transactions/{kept['id']}/replay").get_json()
    assert (credited["status"], credited["points"]) == ("credited", 100)
    assert _earns(db_session) == 1


def test_a_truncated_body_from_a_refused_address_is_not_replayed(acme, app, db_session):
    app.config["CALLBACK_IP_POLICY"] = "enforce"
    try:
        big = c2b_body(trans_id="BIGBODY001", InvoiceNumber="x" * 5000)
        assert acme.hook("c2b/confirmation", big).status_code == 403
    finally:
        app.config["CALLBACK_IP_POLICY"] = "off"
    [entry] = _entries(acme)["items"]
    assert entry["outcome"] == "refused_ip"
    refused = acme.api("POST", f"/callback-log/{entry['id']}/replay")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "body_truncated"


def test_another_merchants_log_is_not_found(acme, db_session, client, merchant_b):
    entry_id = _kept(db_session, acme, c2b_body(trans_id="MINE000001"))
    theirs = client.get("/api/v1/callback-log", headers=auth(merchant_b[1])).get_json()
    assert theirs == {"items": [], "next_cursor": None}
    replay = client.post(f"/api/v1/callback-log/{entry_id}/replay", headers=auth(merchant_b[1]))
    assert replay.status_code == 404
    assert replay.get_json()["error"]["code"] == "not_found"
    assert db_session.execute(sa.text("SELECT count(*) FROM payments")).scalar() == 0
