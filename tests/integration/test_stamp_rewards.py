"""Stamp rewards: the reward text the moment a card completes, rewards_available, and
redeeming one reward (idempotent)."""

import sqlalchemy as sa

from loyalty.services import crediting
from tests.integration.conftest import DELIVERY, JOHN, c2b_body, make_shop


def _shop(client, db_session, **program):
    return make_shop(client, db_session, programs=[{**DELIVERY, **program}],
                     mapping={"default": "delivery"})


def _pay(shop, n):
    for i in range(n):
        assert shop.hook("c2b/confirmation", c2b_body(trans_id=f"RKTSTAMP{i:02d}",
                                                      amount="300")).status_code == 200
    crediting.credit_waiting()


def _texts(db_session):
    return db_session.execute(sa.text("SELECT body FROM sms_messages ORDER BY payment_id")).scalars().all()


def _customer(shop):
    return shop.api("GET", "/customers", query_string={"phone": JOHN}).get_json()["items"][0]["id"]


def test_the_fifth_stamp_sends_the_reward_text_and_a_reward_waits(client, db_session):
    shop = _shop(client, db_session)
    _pay(shop, 5)
    texts = _texts(db_session)
    assert texts[3] == "Thanks John! 1 more orders for free delivery."
    assert texts[4] == "Congrats John! Your free delivery is ready."
    # The reward text is part of the receipt: transactional, never held for the window.
    reward = db_session.execute(sa.text(
        "SELECT kind, not_before FROM sms_messages ORDER BY payment_id DESC LIMIT 1")).one()
    assert tuple(reward) == ("transactional", None)
    balance = shop.api("GET", f"/customers/{_customer(shop)}").get_json()["balances"][0]
    assert (balance["stamps"], balance["rewards_available"]) == (0, 1)


def test_a_programs_own_reward_template(client, db_session):
    shop = _shop(client, db_session, stamps_required=2,
                 reward_template="{first_name}, your {reward} at {merchant} awaits!")
    _pay(shop, 2)
    assert _texts(db_session)[1] == "John, your free delivery at Acme Electronics awaits!"
    bad = shop.api("PATCH", "/programs/delivery", json={"reward_template": "Hi {name}"})
    assert bad.status_code == 422 and "reward_template" in bad.get_json()["error"]["fields"]


def test_redeeming_a_reward_once_per_key(client, db_session):
    shop = _shop(client, db_session, stamps_required=2)
    _pay(shop, 2)
    customer = _customer(shop)
    body = {"program": "delivery", "reward": True, "idempotency_key": "hand-over-1"}
    first = shop.api("POST", f"/customers/{customer}/redemptions", json=body)
    assert first.status_code == 201
    assert (first.get_json()["reward"], first.get_json()["rewards_available"]) == (True, 0)
    again = shop.api("POST", f"/customers/{customer}/redemptions", json=body)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    none_left = shop.api("POST", f"/customers/{customer}/redemptions",
                         json={**body, "idempotency_key": "hand-over-2"})
    assert none_left.status_code == 409
    assert none_left.get_json()["error"]["code"] == "no_reward_available"
    ledger = shop.api("GET", f"/customers/{customer}/ledger").get_json()["items"]
    assert ledger[0]["kind"] == "redeem" and ledger[0]["description"] == "Reward: free delivery"


def test_points_or_reward_but_not_both(client, db_session):
    shop = _shop(client, db_session)
    _pay(shop, 1)
    customer = _customer(shop)
    both = shop.api("POST", f"/customers/{customer}/redemptions", json={
        "program": "delivery", "reward": True, "points": 5, "idempotency_key": "k"})
    neither = shop.api("POST", f"/customers/{customer}/redemptions", json={
        "program": "delivery", "idempotency_key": "k"})
    assert both.status_code == 422 and neither.status_code == 422
    assert "points" in neither.get_json()["error"]["fields"]
