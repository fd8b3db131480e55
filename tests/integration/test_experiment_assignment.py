"""Who gets which variant, and what each variant's payers earn, on both crediting paths."""

import math
from types import SimpleNamespace

import sqlalchemy as sa

from loyalty.phones import hash_msisdn
from loyalty.services import crediting
from loyalty.services.crediting import single
from loyalty.services.experiments import assignment
from loyalty.tenancy import all_merchants
from tests.integration.conftest import JOHN, c2b_body, trans_time
from tests.integration.experiment_history import fixed_experiment


def _experiment(split=(50, 50), salt="0123456789abcdef"):
    return SimpleNamespace(id=1, salt=salt, split=list(split), channel_ids=None,
                           variants=[{"key": "A", "rule": {}}, {"key": "B", "rule": {}}])


def _band(n: int, share: float) -> tuple[float, float]:
    """99.9% binomial band for a count out of n."""
    half = 3.29 * math.sqrt(n * share * (1 - share))
    return n * share - half, n * share + half


def test_assignment_is_balanced_and_sticky_over_ten_thousand_payers(app):
    payers = [hash_msisdn(f"2547{n:08d}") for n in range(10_000)]
    with app.app_context():
        for split in ((50, 50), (20, 80)):
            experiment = _experiment(split)
            keys = [assignment.unit_key(7, phone_hash) for phone_hash in payers]
            first = [assignment.variant_of(experiment, key)["key"] for key in keys]
            again = [assignment.variant_of(experiment, assignment.unit_key(7, h))["key"]
                     for h in payers]
            assert first == again  # sticky: a pure function of the payer and the experiment
            low, high = _band(10_000, split[0] / 100)
            assert low <= first.count("A") <= high, (split, first.count("A"))
        # another experiment (salt) reshuffles: not the same payers in A every time
        other = [assignment.variant_of(_experiment((20, 80), "fedcba9876543210"), key)["key"]
                 for key in keys]
        agree = sum(x == y for x, y in zip(first, other, strict=True))
        low, high = _band(10_000, 0.2 * 0.2 + 0.8 * 0.8)
        assert low <= agree <= high
        # one merchant's key for a phone is not another's
        assert assignment.unit_key(7, payers[0]) != assignment.unit_key(8, payers[0])


def _rows(db_session, sql, **params):
    with all_merchants():
        return db_session.execute(sa.text(sql), params).all()


def _stk_payment(db_session, shop, receipt: str, phone: str, amount="5000.00"):
    """An STK payment as stk_receipts.credit_receipt stores it: the plain phone."""
    with all_merchants():
        db_session.execute(sa.text(
            "INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_type, "
            "trans_time, amount, bill_ref, msisdn, msisdn_form, status, points, attempts, "
            "payload, created_at, updated_at) VALUES (:m, :c, :r, 'stk', 'STK Push', now(), "
            ":amount, '', :phone, 'plain', 'received', 0, 0, '{}', now(), now())"),
            {"m": shop.merchant_id, "c": shop.channel["id"], "r": receipt, "phone": phone,
             "amount": amount})


def test_the_same_phone_by_c2b_hash_and_by_stk_is_one_payer_in_one_variant(acme, db_session):
    experiment = fixed_experiment(db_session, acme, rule_b={"multiplier": "3"})
    acme.hook("c2b/confirmation", c2b_body(trans_id="HASHED0001", bill_ref=""))  # hashed JOHN
    assert crediting.credit_waiting() == 1
    _stk_payment(db_session, acme, "STKPAID001", JOHN)
    assert crediting.credit_waiting() == 1
    assigned = _rows(db_session, "SELECT variant, customer_id FROM experiment_assignments "
                                 "WHERE experiment_id = :e", e=experiment)
    assert len(assigned) == 1
    entries = _rows(db_session, "SELECT p.trans_id, l.variant, l.experiment_id, l.points "
                                "FROM ledger_entries l JOIN payments p ON p.id = l.payment_id "
                                "ORDER BY p.id")
    variant = assigned[0].variant
    points = 150 if variant == "B" else 50  # KES 5,000 at 1 point per KES 100, B triples
    assert entries == [("HASHED0001", variant, experiment, points),
                       ("STKPAID001", variant, experiment, points)]


def _payers_in_both_variants(experiment_id, merchant_id, app, count=12):
    """Plain phones of payers who land in A and in B (found by the bucket, as crediting)."""
    experiment = SimpleNamespace(salt="salt", split=[50, 50],
                                 variants=[{"key": "A", "rule": {}}, {"key": "B", "rule": {}}])
    phones = {"A": [], "B": []}
    n = 0
    with app.app_context():
        while min(len(v) for v in phones.values()) < count // 2:
            phone = f"2547220{n:05d}"
            key = assignment.unit_key(merchant_id, hash_msisdn(phone))
            phones[assignment.variant_of(experiment, key)["key"]].append(phone)
            n += 1
    return phones["A"][:count // 2] + phones["B"][:count // 2]


def _check_variant_points(db_session, experiment):
    rows = _rows(db_session, """
        SELECT p.msisdn, a.variant, l.variant AS entry_variant, l.points, s.body
        FROM payments p
        JOIN ledger_entries l ON l.payment_id = p.id
        JOIN customers c ON c.id = p.customer_id
        JOIN experiment_assignments a ON a.customer_id = c.id AND a.experiment_id = :e
        JOIN sms_messages s ON s.payment_id = p.id
        ORDER BY p.id""", e=experiment)
    assert {row.variant for row in rows} == {"A", "B"}
    for row in rows:
        assert row.entry_variant == row.variant
        assert row.points == (150 if row.variant == "B" else 50), row
        # the receipt is the program's own text, with what this payer earned
        assert f"{row.points} Loyalty" in row.body or f"{row.points} points" in row.body, row.body
    return rows


def test_variant_rules_reach_the_batch_path(app, acme, db_session):
    experiment = fixed_experiment(db_session, acme, rule_b={"multiplier": "3"})
    phones = _payers_in_both_variants(experiment, acme.merchant_id, app)
    for n, phone in enumerate(phones):
        acme.hook("c2b/confirmation", c2b_body(trans_id=f"BATCH{n:05d}", msisdn=phone,
                                               bill_ref=""))
    # a masked payer is left out of the experiment (and credited as before: unattributed)
    acme.hook("c2b/confirmation", c2b_body(trans_id="MASKED0001", msisdn="2547 ***** 678",
                                           bill_ref=""))
    assert crediting.credit_waiting() == len(phones) + 1
    assert len(_check_variant_points(db_session, experiment)) == len(phones)
    results = acme.api("GET", f"/experiments/{experiment}/results").get_json()
    assert sum(v["assigned"] for v in results["variants"]) == len(phones)
    assert results["masked_share"] == 1 / (len(phones) + 1)


def test_variant_rules_reach_the_one_by_one_path_and_stay_sticky(app, acme, db_session):
    experiment = fixed_experiment(db_session, acme, rule_b={"multiplier": "3"})
    phones = _payers_in_both_variants(experiment, acme.merchant_id, app)
    for round_ in range(2):  # a second payment of each payer: same variant, no second row
        for n, phone in enumerate(phones):
            acme.hook("c2b/confirmation", c2b_body(trans_id=f"ONE{round_}{n:05d}", msisdn=phone,
                                                   bill_ref="", TransTime=trans_time()))
        sms: list = []
        assert single.credit_one_by_one(100, sms) == len(phones)
    assert len(_check_variant_points(db_session, experiment)) == 2 * len(phones)
    assert _rows(db_session, "SELECT count(*) FROM experiment_assignments") == [(len(phones),)]
