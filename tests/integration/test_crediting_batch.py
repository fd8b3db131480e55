"""Crediting a whole batch at once gives what crediting one payment at a time gives."""

import sqlalchemy as sa

from loyalty.phones import hash_msisdn
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
        "Congrats Mary! Your free delivery is ready.",  # the reward, and a fresh card
        "Thanks Mary! 4 more orders for free delivery."]
    assert [b.split("Total: ")[1] for b in bodies[6:]] == ["10 points.", "20 points.", "30 points."]
    assert _rows(db_session, "SELECT p.code, b.points, b.lifetime_points, b.stamps, "
                             "b.rewards_earned FROM balances b JOIN loyalty_programs p "
                             "ON p.id = b.program_id ORDER BY p.code") == [
        ("delivery", 0, 0, 1, 1), ("loyalty", 30, 30, 0, 0)]
    assert _rows(db_session, "SELECT kind, count(*) FROM ledger_entries GROUP BY kind "
                             "ORDER BY kind") == [("earn", 3), ("stamp", 6)]
    assert _rows(db_session, "SELECT count(*) FROM customers") == [(1,)]


def test_a_batch_mixes_every_outcome_and_fills_in_names_once(acme, db_session, open_sandbox):
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


def test_a_batch_of_two_merchants_writes_each_table_with_one_statement_of_fixed_text(
        client, acme, db_session, recorded_tasks):
    """Every write of a batch is one statement (no executemany) whose text is the same for
    any batch size; rows of two merchants in one batch stay each merchant's own."""
    from sqlalchemy import event

    from loyalty.extensions import db

    other = make_shop(client, db_session, business_name="Other Shop")
    statements: list[list[tuple[str, bool]]] = []
    crediting_now = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if crediting_now:
            statements[-1].append((" ".join(statement.split()), executemany))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        for size, prefix in ((2, "SMALL"), (5, "LARGE")):
            for n in range(size):  # the same payer at both merchants, a masked one at acme
                acme.hook("c2b/confirmation", c2b_body(trans_id=f"{prefix}A{n}", first_name=""))
                other.hook("c2b/confirmation", c2b_body(trans_id=f"{prefix}O{n}"))
            acme.hook("c2b/confirmation", c2b_body(trans_id=f"{prefix}MASK",
                                                   msisdn="2547 ***** 678"))
            statements.append([])
            crediting_now.append(True)
            assert crediting.credit_waiting() == 2 * size + 1
            crediting_now.clear()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)

    small, large = statements
    writes = [text for text, _ in large if text.split()[0] in ("INSERT", "UPDATE")]
    assert sorted(w.split()[2 if w.startswith("INSERT") else 1] for w in writes) == [
        "balances", "balances", "customers", "ledger_entries", "payments", "sms_messages"]
    assert all("unnest(" in w for w in writes)
    assert not any(many for _, many in small + large)
    assert [t for t, _ in small if t.split()[0] in ("INSERT", "UPDATE")] == writes
    # each merchant's rows, the payer a customer of each
    assert _rows(db_session, "SELECT merchant_id, phone_hash, first_name FROM customers "
                             "ORDER BY merchant_id") == [
        (acme.merchant_id, hash_msisdn(JOHN), None), (other.merchant_id, hash_msisdn(JOHN), "John")]
    assert _rows(db_session, """
        SELECT count(*) FROM ledger_entries l
        JOIN payments p ON p.id = l.payment_id AND p.merchant_id = l.merchant_id
        JOIN customers c ON c.id = l.customer_id AND c.merchant_id = l.merchant_id
        JOIN balances b ON b.customer_id = l.customer_id AND b.program_id = l.program_id
                       AND b.merchant_id = l.merchant_id""") == [(14,)]
    assert _rows(db_session, "SELECT merchant_id, lifetime_points FROM balances "
                             "ORDER BY merchant_id") == [(acme.merchant_id, 700),  # VIP: x2
                                                         (other.merchant_id, 350)]
    assert _rows(db_session, "SELECT p.merchant_id, p.status, p.customer_id IS NULL, p.error "
                             "IS NULL, count(*) FROM payments p GROUP BY 1, 2, 3, 4 ORDER BY 1, 2") == [
        (acme.merchant_id, "credited", False, True, 7),
        (acme.merchant_id, "unattributed", True, False, 2),
        (other.merchant_id, "credited", False, True, 7)]
    sms = _rows(db_session, "SELECT s.id, s.merchant_id, s.status, p.merchant_id AS owner "
                            "FROM sms_messages s JOIN payments p ON p.id = s.payment_id "
                            "ORDER BY s.payment_id")
    assert [s.id for s in sms] == sorted(s.id for s in sms)  # inserted in payment order
    assert all(s.merchant_id == s.owner for s in sms) and len(sms) == 16
    queued = [tuple(pair) for (pairs,) in recorded_tasks.args_of(crediting.TaskName.SEND_SMS_BATCH)
              for pair in pairs]
    assert queued == [(s.merchant_id, s.id) for s in sms if s.status == "queued"]
