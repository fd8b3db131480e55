"""Crediting a whole batch at once gives what crediting one payment at a time gives."""

import sqlalchemy as sa

from loyalty.daraja.msisdn import hash_msisdn
from loyalty.services import crediting
from tests.integration.conftest import DELIVERY, JOHN, c2b_body, make_shop

MARY = "254722000111"


def _rows(db_session, sql, **params):
    return db_session.execute(sa.text(sql), params).all()


def test_one_batch_runs_balances_and_stamps_payment_by_payment(client, db_session):
    taste = make_shop(client, db_session, business_name="Taste Restaurants", programs=[DELIVERY],
                      mapping={"default": "loyalty", "DELIVERY": "delivery"})
    for n in range(6):  # all waiting at once: one batch
        taste.hook("c2b/confirmation", c2b_body(trans_id=f"DLV000000{n}", amount="1200",
                                                bill_ref="DELIVERY", first_name="Mary"))
    for n in range(3):
        taste.hook("c2b/confirmation", c2b_body(trans_id=f"PTS000000{n}", amount="1000",
                                                bill_ref="", first_name="Mary"))
    assert crediting.credit_waiting() == 9
    bodies = [r.body for r in _rows(db_session, "SELECT body FROM sms_messages ORDER BY id")]
    assert bodies[:6] == [
        "Thanks Mary! 4 more orders for free delivery.",
        "Thanks Mary! 3 more orders for free delivery.",
        "Thanks Mary! 2 more orders for free delivery.",
        "Thanks Mary! 1 more orders for free delivery.",
        "Thanks Mary! 5 more orders for free delivery.",  # the reward, and a fresh card
        "Thanks Mary! 4 more orders for free delivery."]
    assert [b.split("Total: ")[1] for b in bodies[6:]] == ["10 points.", "20 points.", "30 points."]
    assert _rows(db_session, "SELECT p.code, b.points, b.lifetime_points, b.stamps, "
                             "b.rewards_earned FROM balances b JOIN loyalty_programs p "
                             "ON p.id = b.program_id ORDER BY p.code") == [
        ("delivery", 0, 0, 1, 1), ("loyalty", 30, 30, 0, 0)]
    assert _rows(db_session, "SELECT kind, count(*) FROM ledger_entries GROUP BY kind "
                             "ORDER BY kind") == [("earn", 3), ("stamp", 6)]
    assert _rows(db_session, "SELECT count(*) FROM customers") == [(1,)]


def test_a_batch_mixes_every_outcome_and_fills_in_names_once(acme, db_session):
    db_session.execute(sa.text("UPDATE loyalty_programs SET min_amount = 50"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="NONAME0001", first_name="", LastName=""))
    acme.hook("c2b/confirmation", c2b_body(trans_id="NAMED00001", first_name="John"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="MASKED0001", msisdn="2547 ***** 678"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="TINY000001", amount="10"))
    acme.hook("c2b/confirmation", c2b_body(trans_id="PLAIN00001", msisdn=MARY, first_name="Mary"))
    assert crediting.credit_waiting() == 5
    states = dict(_rows(db_session, "SELECT trans_id, status FROM payments"))
    assert states == {"NONAME0001": "credited", "NAMED00001": "credited",
                      "MASKED0001": "unattributed", "TINY000001": "skipped",
                      "PLAIN00001": "credited"}
    customers = _rows(db_session, "SELECT phone_hash, phone, first_name FROM customers")
    assert sorted(customers) == sorted([(hash_msisdn(JOHN), None, "John"),
                                        (hash_msisdn(MARY), MARY, "Mary")])
    sms = _rows(db_session, "SELECT p.trans_id, s.recipient_form, s.status FROM sms_messages s "
                            "JOIN payments p ON p.id = s.payment_id ORDER BY s.id")
    assert sms == [("NONAME0001", "hashed", "queued"), ("NAMED00001", "hashed", "queued"),
                   ("MASKED0001", "masked", "skipped"), ("PLAIN00001", "plain", "queued")]
    assert crediting.credit_waiting() == 0


def test_a_batch_that_cannot_be_written_is_credited_one_by_one(acme, db_session):
    """A second earn for a payment is refused by the ledger's unique index: the batch
    falls back to a savepoint per payment, so only that payment fails."""
    for n in range(3):
        acme.hook("c2b/confirmation", c2b_body(trans_id=f"FALL00000{n}"))
    bad = db_session.execute(sa.text(
        "SELECT id, merchant_id FROM payments WHERE trans_id = 'FALL000001'")).one()
    customer = db_session.execute(sa.text(
        "INSERT INTO customers (merchant_id, phone_hash, sms_opt_out, created_at, updated_at) "
        "VALUES (:m, 'x', false, now(), now()) RETURNING id"), {"m": bad.merchant_id}).scalar()
    db_session.execute(sa.text(
        "INSERT INTO ledger_entries (merchant_id, customer_id, program_id, kind, points, stamps, "
        "remaining, payment_id, created_at) SELECT :m, :c, id, 'earn', 1, 0, 1, :p, now() "
        "FROM loyalty_programs WHERE merchant_id = :m AND code = 'vip'"),
        {"m": bad.merchant_id, "c": customer, "p": bad.id})
    assert crediting.credit_waiting() == 3
    states = dict(_rows(db_session, "SELECT trans_id, status FROM payments"))
    assert states == {"FALL000000": "credited", "FALL000001": "failed",
                      "FALL000002": "credited"}
    assert _rows(db_session, "SELECT count(*) FROM ledger_entries WHERE payment_id = :p",
                 p=bad.id) == [(1,)]
    assert _rows(db_session, "SELECT count(*) FROM sms_messages") == [(2,)]
