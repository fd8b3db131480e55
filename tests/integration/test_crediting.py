"""From a stored payment to points, stamps, customers and exactly one SMS."""

import pytest
import sqlalchemy as sa

from loyalty.phones import hash_msisdn
from loyalty.services import crediting
from tests.integration.conftest import DELIVERY, JOHN, c2b_body, make_shop


def _credit(db_session):
    return crediting.credit_waiting()


def _sms(db_session):
    return db_session.execute(sa.text(
        "SELECT recipient, recipient_form, body, status, error, segments FROM sms_messages "
        "ORDER BY id")).all()


def _payment(db_session, trans_id):
    return db_session.execute(sa.text(
        "SELECT p.status, p.points, p.matched_pattern, p.error, lp.code AS program, p.customer_id "
        "FROM payments p LEFT JOIN loyalty_programs lp ON lp.id = p.program_id "
        "WHERE p.trans_id = :t"), {"t": trans_id}).mappings().one()


def test_vip_payment_from_an_enrolled_customer(acme, db_session):
    customer = acme.api("POST", "/customers", json={"phone": "0712 345 678", "first_name": "John"})
    assert customer.status_code == 201
    acme.hook("c2b/confirmation", c2b_body(trans_id="PREV000001", amount="137350.00"))
    _credit(db_session)
    balances = acme.api("GET", f"/customers/{customer.get_json()['id']}").get_json()["balances"]
    assert [(b["program"], b["points"]) for b in balances] == [("vip", 2747)]
    acme.hook("c2b/confirmation", c2b_body(trans_id="RKTQDM7W6S", amount="5000.00", bill_ref=" vip001 "))
    assert _credit(db_session) == 1
    payment = _payment(db_session, "RKTQDM7W6S")
    assert (payment["status"], payment["points"], payment["program"], payment["matched_pattern"]) == (
        "credited", 100, "vip", "VIP*")
    messages = _sms(db_session)
    assert messages[-1].body == "Hi John! You earned 100 VIP points. Total: 2,847 points."
    assert (messages[-1].recipient, messages[-1].recipient_form, messages[-1].status) == (
        JOHN, "plain", "queued")


def test_duplicate_and_replayed_payments_credit_once(acme, db_session):
    for _ in range(3):
        acme.hook("c2b/confirmation", c2b_body())
    _credit(db_session)
    payment_id = db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    replay = acme.api("POST", f"/transactions/{payment_id}/replay")
    assert replay.status_code == 200 and replay.get_json()["status"] == "credited"
    acme.hook("c2b/confirmation", c2b_body())
    _credit(db_session)
    assert db_session.execute(sa.text("SELECT count(*), sum(points) FROM ledger_entries")).one() == (1, 100)
    assert len(_sms(db_session)) == 1


def test_a_payer_known_only_by_hash_earns_now_and_claims_on_enrolment(acme, db_session):
    acme.hook("c2b/confirmation", c2b_body(bill_ref="", amount="1000"))
    _credit(db_session)
    customer = db_session.execute(sa.text("SELECT id, phone, phone_hash, first_name FROM customers")).one()
    assert customer.phone is None and customer.phone_hash == hash_msisdn(JOHN)
    sms = _sms(db_session)[0]
    assert (sms.recipient, sms.recipient_form) == (hash_msisdn(JOHN), "hashed")
    enrolled = acme.api("POST", "/customers", json={"phone": "+254712345678"}).get_json()
    assert enrolled["id"] == customer.id and enrolled["phone"] == JOHN and enrolled["enrolled"]
    assert enrolled["balances"][0]["points"] == 10
    assert enrolled["first_name"] == "John"  # the name came from the callback


def test_masked_payer_is_unattributed_until_attached_to_a_phone(acme, db_session):
    acme.hook("c2b/confirmation", c2b_body(msisdn="2547 ***** 678", trans_id="MASKED0001"))
    _credit(db_session)
    assert _payment(db_session, "MASKED0001")["status"] == "unattributed"
    assert _sms(db_session)[0].status == "skipped"
    queue = acme.api("GET", "/transactions?status=unattributed").get_json()["items"]
    attached = acme.api("POST", f"/transactions/{queue[0]['id']}/attribute", json={"phone": "0712345678"})
    assert attached.status_code == 200 and attached.get_json()["status"] == "credited"
    assert attached.get_json()["points"] == 100
    assert [(s.recipient, s.status) for s in _sms(db_session)] == [(JOHN, "queued")]
    again = acme.api("POST", f"/transactions/{queue[0]['id']}/attribute", json={"phone": "0712345678"})
    assert again.status_code == 409


def test_delivery_stamps_count_down_to_the_reward(client, db_session):
    taste = make_shop(client, db_session, business_name="Taste Restaurants", programs=[DELIVERY],
                      mapping={"default": "loyalty", "DELIVERY": "delivery"})
    bodies = []
    for n in range(6):
        taste.hook("c2b/confirmation", c2b_body(trans_id=f"DLV000000{n}", amount="1200",
                                                bill_ref="DELIVERY", first_name="Mary"))
        _credit(db_session)
        bodies.append(_sms(db_session)[-1].body)
    assert bodies[0] == "Thanks Mary! 4 more orders for free delivery."
    assert bodies[3] == "Thanks Mary! 1 more orders for free delivery."
    assert bodies[4] == "Congrats Mary! Your free delivery is ready."  # reward issued, card reset
    balance = db_session.execute(sa.text(
        "SELECT stamps, rewards_earned, points FROM balances")).one()
    assert tuple(balance) == (1, 1, 0)
    reward = db_session.execute(sa.text(
        "SELECT description FROM ledger_entries WHERE description LIKE 'Reward%'")).scalar()
    assert reward == "Reward: free delivery"


def test_till_payment_lands_in_the_default_program(client, db_session):
    shop = make_shop(client, db_session, channel_type="till", shortcode="123456")
    shop.hook("c2b/confirmation", c2b_body(shortcode="600111", bill_ref="", trans_id="TILL000001",
                                           TransactionType="Buy Goods", amount="450"))
    _credit(db_session)
    payment = _payment(db_session, "TILL000001")
    assert (payment["status"], payment["program"], payment["points"]) == ("credited", "loyalty", 4)


def test_inactive_channel_skips_and_replay_credits_after_activation(acme, db_session):
    db_session.execute(sa.text("UPDATE mpesa_channels SET is_active=false, status='verified'"))
    acme.hook("c2b/confirmation", c2b_body())
    _credit(db_session)
    payment = _payment(db_session, "RKTQDM7W6S")
    assert payment["status"] == "skipped" and "not active" in payment["error"]
    acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/activate")
    payment_id = db_session.execute(sa.text("SELECT id FROM payments")).scalar()
    replayed = acme.api("POST", f"/transactions/{payment_id}/replay").get_json()
    assert replayed["status"] == "credited" and replayed["points"] == 100


def test_below_minimum_is_skipped_without_sms(acme, db_session):
    acme.api("PATCH", "/programs/vip", json={"min_amount": "6000"})
    acme.hook("c2b/confirmation", c2b_body())
    _credit(db_session)
    payment = _payment(db_session, "RKTQDM7W6S")
    assert payment["status"] == "skipped" and "minimum" in payment["error"]
    assert _sms(db_session) == []


def test_opted_out_customer_gets_no_sms(acme, db_session):
    acme.api("POST", "/customers", json={"phone": JOHN, "sms_opt_out": True})
    acme.hook("c2b/confirmation", c2b_body())
    _credit(db_session)
    sms = _sms(db_session)[0]
    assert sms.status == "skipped" and "opted out" in sms.error


def test_one_bad_payment_does_not_fail_its_neighbours(acme, db_session, monkeypatch):
    acme.hook("c2b/confirmation", c2b_body(trans_id="GOOD000001"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="BAD0000001"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="GOOD000002"))
    real = crediting.rules.earn

    def flaky(payment, *args, **kwargs):
        if payment.trans_id == "BAD0000001":
            raise RuntimeError("boom")
        return real(payment, *args, **kwargs)

    monkeypatch.setattr(crediting.rules, "earn", flaky)
    assert _credit(db_session) == 3
    states = dict(db_session.execute(sa.text("SELECT trans_id, status FROM payments")).all())
    assert states == {"GOOD000001": "credited", "BAD0000001": "failed", "GOOD000002": "credited"}
    monkeypatch.setattr(crediting.rules, "earn", real)
    bad_id = db_session.execute(sa.text("SELECT id FROM payments WHERE trans_id='BAD0000001'")).scalar()
    assert acme.api("POST", f"/transactions/{bad_id}/replay").get_json()["status"] == "credited"


@pytest.mark.parametrize("account, expected", [("VIP001", ("vip", "VIP*", 100)),
                                               ("gold", ("loyalty", "default", 50)),
                                               ("", ("loyalty", "default", 50))])
def test_resolve_dry_run(acme, account, expected):
    answer = acme.api("GET", f"/mpesa-channels/{acme.channel['id']}/resolve?account={account}&amount=5000")
    body = answer.get_json()
    assert (body["program"], body["matched_pattern"], body["points"]) == expected


def test_redemptions_are_idempotent_and_refuse_overdraft(acme, db_session):
    acme.hook("c2b/confirmation", c2b_body())
    _credit(db_session)
    customer_id = db_session.execute(sa.text("SELECT id FROM customers")).scalar()
    body = {"program": "vip", "points": 60, "description": "Mug", "idempotency_key": "order-1"}
    first = acme.api("POST", f"/customers/{customer_id}/redemptions", json=body)
    assert first.status_code == 201 and first.get_json()["balance"] == 40
    again = acme.api("POST", f"/customers/{customer_id}/redemptions", json=body)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    short = acme.api("POST", f"/customers/{customer_id}/redemptions",
                     json={**body, "idempotency_key": "order-2"})
    assert short.status_code == 409 and short.get_json()["error"]["code"] == "insufficient_points"
    ledger = acme.api("GET", f"/customers/{customer_id}/ledger").get_json()["items"]
    assert [(e["kind"], e["points"]) for e in ledger] == [("redeem", -60), ("earn", 100)]
