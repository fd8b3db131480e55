"""Reversals on PostgreSQL: marked reversed (points back at once) and asked of M-Pesa's
Reversal API (points back only on its ResultCode 0), proportional claw-back, stamps, the
negative balance, idempotency, and the input a merchant can get wrong."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import responses
import sqlalchemy as sa

from loyalty.daraja.errors import DarajaUnavailable
from loyalty.services import async_results, callback_log, crediting, ledger, reversals
from loyalty.tenancy import tenant_context
from tests.integration.conftest import DELIVERY, VIP, c2b_body, make_shop

DARAJA = "https://sandbox.daraja.test"


# Tasks are recorded, not sent: the worker's part is called by the tests themselves.
pytestmark = pytest.mark.usefixtures("recorded_tasks")


@pytest.fixture
def shop(client, db_session):
    """VIP (double points) and a stamp card; KES 5,000 to VIP001 earns 100 VIP points."""
    return make_shop(client, db_session, programs=[VIP, DELIVERY],
                     mapping={"default": "loyalty", "VIP*": "vip", "DELIVERY": "delivery"})


@pytest.fixture
def daraja():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, f"{DARAJA}/oauth/v1/generate?grant_type=client_credentials",
                 json={"access_token": "tok-rev", "expires_in": "3599"})
        yield mock


def pay(shop, db_session, **body) -> int:
    body = {"trans_id": "RKTQDM7W6S", **body}
    assert shop.hook("c2b/confirmation", c2b_body(**body)).status_code == 200
    crediting.credit_waiting()
    return db_session.execute(sa.text("SELECT id FROM payments WHERE trans_id = :t"),
                              {"t": body["trans_id"]}).scalar()


def balance(db_session, program="vip"):
    return db_session.execute(sa.text(
        "SELECT b.points, b.lifetime_points, b.stamps FROM balances b JOIN loyalty_programs p "
        "ON p.id = b.program_id WHERE p.code = :code"), {"code": program}).one()


def reverse_entries(db_session):
    return db_session.execute(sa.text(
        "SELECT points, stamps FROM ledger_entries WHERE kind = 'reverse'")).all()


def mark(shop, payment_id, key="rev-1", **body):
    return shop.api("POST", f"/transactions/{payment_id}/mark-reversed",
                    json={"reason": "Reversed by customer care", "idempotency_key": key, **body})


# --- marked reversed: the points come back at once ------------------------------------------


def test_a_full_reversal_takes_back_every_point_and_the_payment_shows_it(shop, db_session):
    payment_id = pay(shop, db_session)
    assert balance(db_session) == (100, 100, 0)
    response = mark(shop, payment_id)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["reversed_amount"], body["points"]) == ("reversed", "5000.00", 100)
    reversal = body["reversal"]
    assert (reversal["state"], reversal["method"], reversal["amount"], reversal["points"],
            reversal["stamps"]) == ("done", "manual", "5000.00", 100, 0)
    assert reversal["reason"] == "Reversed by customer care"
    assert "taken back" in reversal["message"]
    assert balance(db_session) == (0, 0, 0)
    assert reverse_entries(db_session) == [(-100, 0)]
    listed = shop.api("GET", "/transactions?status=reversed").get_json()["items"]
    assert [(p["id"], p["reversal"]["state"]) for p in listed] == [(payment_id, "done")]


@pytest.mark.parametrize("amount, taken, left", [
    ("2500", 50, 50),      # half the money, half the points
    ("1", 1, 99),          # the customer keeps floor(100 x 4,999 / 5,000) = 99
    ("4999.99", 100, 0),   # keeps floor(0.0002) = 0
])
def test_a_partial_reversal_takes_back_its_proportional_share_rounded_up(shop, db_session,
                                                                         amount, taken, left):
    payment_id = pay(shop, db_session)
    body = mark(shop, payment_id, amount=amount).get_json()
    assert body["reversal"]["points"] == taken and body["reversed_amount"] == f"{float(amount):.2f}"
    assert balance(db_session)[0] == left


def test_a_stamp_comes_back_with_a_full_reversal_and_stays_when_enough_is_kept(shop, db_session):
    whole = pay(shop, db_session, trans_id="STAMP00001", bill_ref="DELIVERY", amount="300")
    part = pay(shop, db_session, trans_id="STAMP00002", bill_ref="DELIVERY", amount="300")
    assert balance(db_session, "delivery")[2] == 2
    assert mark(shop, part, key="k-part", amount="100").get_json()["reversal"]["stamps"] == 0
    assert balance(db_session, "delivery")[2] == 2
    assert mark(shop, whole, key="k-whole").get_json()["reversal"]["stamps"] == 1
    assert balance(db_session, "delivery")[2] == 1
    assert sorted(reverse_entries(db_session)) == [(0, -1), (0, 0)]


def test_the_reward_this_stamp_completed_leaves_the_card_below_zero(shop, db_session):
    ids = [pay(shop, db_session, trans_id=f"CARD00000{n}", bill_ref="DELIVERY", amount="300")
           for n in range(5)]
    assert balance(db_session, "delivery")[2] == 0  # the fifth stamp issued the reward
    mark(shop, ids[-1])
    assert balance(db_session, "delivery")[2] == -1  # the next order only fills the gap
    customer = shop.api("GET", "/customers").get_json()["items"][0]["id"]
    card = [b for b in shop.api("GET", f"/customers/{customer}").get_json()["balances"]
            if b["program"] == "delivery"][0]
    assert (card["stamps"], card["rewards_earned"]) == (-1, 1)


def test_spent_points_leave_the_balance_negative_and_redemptions_wait(shop, db_session):
    payment_id = pay(shop, db_session)
    customer = shop.api("GET", "/customers").get_json()["items"][0]["id"]
    redeem = {"program": "vip", "points": 80, "idempotency_key": "mug"}
    assert shop.api("POST", f"/customers/{customer}/redemptions", json=redeem).status_code == 201
    mark(shop, payment_id)
    vip = [b for b in shop.api("GET", f"/customers/{customer}").get_json()["balances"]
           if b["program"] == "vip"][0]
    assert vip["points"] == -80
    refused = shop.api("POST", f"/customers/{customer}/redemptions",
                       json={**redeem, "points": 1, "idempotency_key": "soda"})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "balance_negative"
    assert "-80" in refused.get_json()["error"]["message"]
    again = shop.api("POST", f"/customers/{customer}/redemptions", json=redeem)
    assert again.status_code == 200  # a replay of the earlier redemption is still a replay
    shop.api("POST", f"/customers/{customer}/adjustments", json={
        "program": "vip", "points": 100, "reason": "Goodwill", "idempotency_key": "gw"})
    assert shop.api("POST", f"/customers/{customer}/redemptions",
                    json={**redeem, "points": 20, "idempotency_key": "soda"}).status_code == 201


def test_expiry_never_raises_a_negative_balance(shop, db_session):
    shop.api("PATCH", "/programs/vip", json={"points_expiry_days": 30})
    first = pay(shop, db_session, trans_id="OLD0000001")
    pay(shop, db_session, trans_id="NEW0000001", amount="2500")  # 50 more
    customer = shop.api("GET", "/customers").get_json()["items"][0]["id"]
    shop.api("POST", f"/customers/{customer}/redemptions",
             json={"program": "vip", "points": 150, "idempotency_key": "all"})
    mark(shop, first)
    assert balance(db_session)[0] == -100
    with tenant_context(shop.merchant_id):
        assert ledger.expire_points(datetime.now(timezone.utc) + timedelta(days=31)) == 0
    assert balance(db_session)[0] == -100


def test_unspent_points_of_the_reversed_payment_can_no_longer_expire(shop, db_session):
    shop.api("PATCH", "/programs/vip", json={"points_expiry_days": 30})
    reversed_id = pay(shop, db_session, trans_id="GONE000001")
    pay(shop, db_session, trans_id="KEPT000001", amount="2500")
    mark(shop, reversed_id)
    assert balance(db_session)[0] == 50
    with tenant_context(shop.merchant_id):
        assert ledger.expire_points(datetime.now(timezone.utc) + timedelta(days=31)) == 50
    assert balance(db_session)[0] == 0


def test_the_same_key_replays_and_the_payment_is_reversed_once(shop, db_session):
    payment_id = pay(shop, db_session)
    first = mark(shop, payment_id)
    again = mark(shop, payment_id)
    assert again.status_code == 200
    assert again.get_json()["reversal"]["id"] == first.get_json()["reversal"]["id"]
    other_body = mark(shop, payment_id, amount="10")
    assert other_body.status_code == 409
    assert other_body.get_json()["error"]["code"] == "idempotency_key_reused"
    other_key = mark(shop, payment_id, key="rev-2")
    assert other_key.status_code == 409
    assert other_key.get_json()["error"]["code"] == "already_reversed"
    assert reverse_entries(db_session) == [(-100, 0)]
    assert balance(db_session)[0] == 0


@pytest.mark.parametrize("body, field", [
    ({"amount": "-5"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"amount": "5000.01"}, "amount"),       # more than the payment
    ({"amount": "abc"}, "amount"),
    ({"reason": ""}, "reason"),
    ({"reason": "x"}, "reason"),
    ({"reason": "r" * 101}, "reason"),
    ({"idempotency_key": ""}, "idempotency_key"),
])
def test_bad_input_is_a_422_naming_the_field(shop, db_session, body, field):
    payment_id = pay(shop, db_session)
    response = mark(shop, payment_id, **body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert balance(db_session)[0] == 100


def test_unknown_others_and_uncredited_payments_are_refused(shop, db_session, client):
    assert mark(shop, 999999).status_code == 404
    other = make_shop(client, db_session, business_name="Taste Restaurants", shortcode="600111")
    theirs = pay(other, db_session, shortcode="600111", trans_id="THEIRS0001")
    assert mark(shop, theirs).status_code == 404
    assert shop.api("POST", f"/transactions/{theirs}/reverse", json={
        "reason": "No", "idempotency_key": "x"}).status_code == 404
    db_session.execute(sa.text("UPDATE mpesa_channels SET is_active = false WHERE id = :id"),
                       {"id": shop.channel["id"]})
    skipped = pay(shop, db_session, trans_id="SKIPPED001")
    refused = mark(shop, skipped)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "not_credited"


def test_the_customer_is_texted_only_when_the_program_says_so(shop, db_session, open_sandbox):
    # open_sandbox: the shop's channel is a sandbox one, texting John only under the open
    # policy (the notice goes through the receipt's rules: services/sms_allowance.py).
    quiet = pay(shop, db_session, trans_id="QUIET00001")
    mark(shop, quiet, key="q")
    texts = "SELECT purpose FROM sms_messages WHERE payment_id = :p ORDER BY id"
    assert db_session.execute(sa.text(texts), {"p": quiet}).scalars().all() == ["payment_receipt"]
    shop.api("PATCH", "/programs/vip", json={"sms_on_reversal": True})
    assert shop.api("GET", "/programs/vip").get_json()["sms_on_reversal"] is True
    told = pay(shop, db_session, trans_id="TOLD000001")
    mark(shop, told, key="t", amount="2500")
    notice = db_session.execute(sa.text(
        "SELECT body, status, kind FROM sms_messages WHERE payment_id = :p AND purpose = "
        "'reversal_notice'"), {"p": told}).one()
    assert notice == ("Hi John, KES 2,500 of your payment TOLD000001 to Acme Electronics was "
                      "reversed: 50 VIP points were taken back. Total: 50 points.", "queued",
                      "transactional")


# --- through M-Pesa: the points come back only on ResultCode 0 -------------------------------


def with_initiator(shop, db_session):
    # A consumer key of its own: the token minted for it stays in this run's Redis cache,
    # where another test's channel with the demo key would find it instead of its mock.
    patched = shop.api("PATCH", f"/mpesa-channels/{shop.channel['id']}", json={
        "consumer_key": f"ck-reversals-{uuid.uuid4().hex[:8]}",
        "initiator_name": "apiop1", "initiator_password": "Initiator-Pass-1"})
    assert patched.status_code == 200, patched.get_json()
    db_session.execute(sa.text("UPDATE mpesa_channels SET status='active', is_active=true, "
                               "verification_state='done', urls_state='done' WHERE id = :id"),
                       {"id": shop.channel["id"]})


def ask(shop, payment_id, key="mpesa-1", **body):
    return shop.api("POST", f"/transactions/{payment_id}/reverse",
                    json={"reason": "Paid twice", "idempotency_key": key, **body})


def accepted(daraja, conversation="AG_20240710_rev1", originator="7788-1234-1"):
    daraja.add(responses.POST, f"{DARAJA}/mpesa/reversal/v1/request", json={
        "OriginatorConversationID": originator, "ConversationID": conversation,
        "ResponseCode": "0", "ResponseDescription": "Accept the service request successfully."})


def result(code=0, receipt="RKTQDM7W6S", amount=5000.0, conversation="AG_20240710_rev1",
           originator="7788-1234-1"):
    body = {"Result": {"ResultType": 0, "ResultCode": code, "ResultDesc": "done",
                       "OriginatorConversationID": originator, "ConversationID": conversation,
                       "TransactionID": "SGJ81CVBQF"}}
    if code == 0:
        body["Result"]["ResultParameters"] = {"ResultParameter": [
            {"Key": "Amount", "Value": amount}, {"Key": "OriginalTransactionID", "Value": receipt},
            {"Key": "TransCompletedTime", "Value": 20240710091526}]}
    return body


def asked(db_session, reversal_id) -> int:
    """The async request a reversal's result answers (its ResultURL names it)."""
    return db_session.execute(sa.text("SELECT id FROM async_requests WHERE reversal_id = :r"),
                              {"r": reversal_id}).scalar_one()


def send(shop, reversal_id, **kwargs):
    with tenant_context(shop.merchant_id):
        reversals.send_reversal(reversal_id, **kwargs)


def test_without_an_initiator_the_api_cannot_reverse(shop, db_session):
    payment_id = pay(shop, db_session)
    response = ask(shop, payment_id)
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "initiator_missing" and "mark the payment as reversed" in error["message"]


def test_points_come_back_only_when_mpesa_confirms(shop, db_session, daraja, recorded_tasks):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    response = ask(shop, payment_id)
    assert response.status_code == 202, response.get_json()
    reversal = response.get_json()["reversal"]
    assert (reversal["state"], reversal["method"], reversal["points"]) == ("requested", "mpesa", 0)
    assert recorded_tasks.args_of("daraja.reverse") == [(shop.merchant_id, reversal["id"])]
    accepted(daraja)
    send(shop, reversal["id"])
    sent = json.loads(daraja.calls[-1].request.body)
    assert (sent["CommandID"], sent["TransactionID"], sent["Amount"], sent["ReceiverParty"]) == (
        "TransactionReversal", "RKTQDM7W6S", "5000", "174379")
    ref = asked(db_session, reversal["id"])
    assert sent["ResultURL"].endswith(f"/hooks/{shop.channel['callback_token']}"
                                      f"/result/reversal/{ref}")
    assert sent["QueueTimeOutURL"].endswith(f"/timeout/reversal/{ref}")
    assert "Initiator-Pass-1" not in daraja.calls[-1].request.body.decode()
    assert balance(db_session)[0] == 100  # the acknowledgement changes nothing
    send(shop, reversal["id"])  # a redelivered task never asks twice
    assert len([c for c in daraja.calls if "reversal" in c.request.url]) == 1
    assert shop.hook(f"result/reversal/{ref}", result()).status_code == 200
    body = shop.api("GET", "/transactions").get_json()["items"][0]
    assert (body["status"], body["reversal"]["state"], body["reversal"]["receipt"],
            body["reversal"]["points"]) == ("reversed", "done", "SGJ81CVBQF", 100)
    assert balance(db_session)[0] == 0
    assert shop.hook(f"result/reversal/{ref}", result()).status_code == 200
    assert reverse_entries(db_session) == [(-100, 0)]  # a second result takes nothing more
    logged = db_session.execute(sa.text(
        "SELECT kind, error FROM callback_log ORDER BY id")).all()
    assert logged[0] == ("result_reversal", None)
    assert "answered already" in logged[1][1]


@pytest.mark.parametrize("code, words", [
    ("R000001", "already reversed"),
    ("R000002", "does not know this receipt"),
    (1, "does not hold enough money"),
])
def test_a_refused_reversal_is_shown_as_such_and_takes_nothing(shop, db_session, daraja, code,
                                                               words):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    reversal_id = ask(shop, payment_id).get_json()["reversal"]["id"]
    accepted(daraja)
    send(shop, reversal_id)
    shop.hook(f"result/reversal/{asked(db_session, reversal_id)}", result(code=code))
    body = shop.api("GET", "/transactions").get_json()["items"][0]
    assert body["status"] == "credited" and balance(db_session)[0] == 100
    assert (body["reversal"]["state"], body["reversal"]["result_code"]) == ("failed", str(code))
    assert words in body["reversal"]["message"]
    if code == "R000001":  # reversed on the portal after all: the merchant records it
        assert mark(shop, payment_id).status_code == 200
        assert balance(db_session)[0] == 0


def test_a_result_matched_by_its_conversation_ids_on_the_plain_url(shop, db_session, daraja):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    reversal_id = ask(shop, payment_id).get_json()["reversal"]["id"]
    accepted(daraja, conversation="AG_plain", originator="1-2-3")
    send(shop, reversal_id)
    shop.hook("result/reversal", result(conversation="", originator="1-2-3", amount=2500))
    body = shop.api("GET", "/transactions").get_json()["items"][0]
    assert (body["reversal"]["state"], body["reversed_amount"]) == ("done", "2500.00")
    assert balance(db_session)[0] == 50  # what M-Pesa says it reversed counts


def test_results_that_match_nothing_are_logged_not_applied(shop, db_session, daraja):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    reversal_id = ask(shop, payment_id).get_json()["reversal"]["id"]
    accepted(daraja)
    send(shop, reversal_id)
    assert shop.hook("result/reversal", result(conversation="AG_unknown",
                                               originator="0-0-0")).status_code == 200
    assert shop.hook(f"result/reversal/{asked(db_session, reversal_id)}",
                     result(receipt="SOMEONEELS")).status_code == 200
    assert shop.hook("result/reversal", b"{not json").status_code == 400
    assert balance(db_session)[0] == 100
    logged = db_session.execute(sa.text(
        "SELECT status_code, error FROM callback_log ORDER BY id")).all()
    assert "No request of this channel has ConversationID AG_unknown" in logged[0][1]
    assert "reverses SOMEONEELS, not RKTQDM7W6S" in logged[1][1]
    assert logged[2][0] == 400
    state = shop.api("GET", "/transactions").get_json()["items"][0]["reversal"]["state"]
    assert state == "requested"


def test_a_pending_request_blocks_another_and_marking_reversed_supersedes_it(shop, db_session,
                                                                            daraja):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    reversal_id = ask(shop, payment_id).get_json()["reversal"]["id"]
    second = ask(shop, payment_id, key="mpesa-2")
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "reversal_pending"
    assert mark(shop, payment_id).status_code == 200
    shop.hook(f"result/reversal/{asked(db_session, reversal_id)}", result())  # late: changes nothing
    assert reverse_entries(db_session) == [(-100, 0)]
    states = db_session.execute(sa.text(
        "SELECT method, state, result_desc FROM reversals ORDER BY id")).all()
    assert states[0][:2] == ("mpesa", "failed") and "Superseded" in states[0][2]
    assert states[1][:2] == ("manual", "done")


def test_safaricom_refusing_or_unreachable_fails_the_request(shop, db_session, daraja):
    first = pay(shop, db_session, trans_id="REFUSED001")
    with_initiator(shop, db_session)
    refused_id = ask(shop, first, key="a").get_json()["reversal"]["id"]
    daraja.add(responses.POST, f"{DARAJA}/mpesa/reversal/v1/request", status=400, json={
        "requestId": "1", "errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid Amount"})
    send(shop, refused_id)
    second = pay(shop, db_session, trans_id="DOWN000001")
    down_id = ask(shop, second, key="b").get_json()["reversal"]["id"]
    daraja.replace(responses.POST, f"{DARAJA}/mpesa/reversal/v1/request", status=503,
                   body="<html>down</html>", content_type="text/html")
    with pytest.raises(DarajaUnavailable):
        send(shop, down_id, final_attempt=False)
    send(shop, down_id, final_attempt=True)
    rows = dict(db_session.execute(sa.text(
        "SELECT id, state || ': ' || result_desc FROM reversals")).all())
    assert rows[refused_id].startswith("failed: ") and "Invalid Amount" in rows[refused_id]
    assert rows[down_id].startswith("failed: Safaricom could not be reached")
    assert balance(db_session)[0] == 200
    assert ask(shop, first, key="c").status_code == 202  # a failed reversal can be tried again


def test_mpesa_reverses_whole_shillings_only(shop, db_session):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    response = ask(shop, payment_id, amount="10.50")
    assert response.status_code == 422 and "amount" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("amount", ["-5", "5001"])  # whole shillings, as M-Pesa takes them
def test_a_negative_or_over_payment_amount_is_a_422_and_mpesa_is_not_asked(shop, db_session,
                                                                          recorded_tasks, amount):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    response = ask(shop, payment_id, amount=amount)
    assert response.status_code == 422, response.get_json()
    assert "amount" in response.get_json()["error"]["fields"]
    assert recorded_tasks.args_of("daraja.reverse") == []
    assert db_session.execute(sa.text("SELECT count(*) FROM reversals")).scalar() == 0
    assert balance(db_session)[0] == 100


def test_a_result_spooled_while_the_database_was_down_is_applied_on_replay(
        shop, app, db_session, daraja, monkeypatch, tmp_path):
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    reversal_id = ask(shop, payment_id).get_json()["reversal"]["id"]
    accepted(daraja)
    send(shop, reversal_id)
    monkeypatch.setitem(app.config, "CALLBACK_SPOOL_DIR", str(tmp_path))
    with monkeypatch.context() as down:
        def database_down(*args, **kwargs):
            raise sa.exc.OperationalError("SELECT", {}, Exception("connection refused"))

        down.setattr(async_results, "apply_result", database_down)
        down.setattr(callback_log, "keep", database_down)
        assert shop.hook(f"result/reversal/{asked(db_session, reversal_id)}", result()).status_code == 503
    assert balance(db_session)[0] == 100
    replayed = app.test_cli_runner().invoke(args=["callbacks", "replay-spool"])
    assert replayed.exit_code == 0, replayed.output
    assert balance(db_session)[0] == 0
    assert shop.api("GET", "/transactions").get_json()["items"][0]["reversal"]["state"] == "done"
