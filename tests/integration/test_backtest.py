"""Back-tests: a program's past payments re-earned under another rule, in the database."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loyalty.extensions import db
from loyalty.models import Customer, LoyaltyProgram, Payment, PaymentSource, PaymentStatus
from loyalty.phones import hash_msisdn
from loyalty.services import crediting
from loyalty.services.backtest import backtest
from loyalty.services.crediting.rules import points_for
from loyalty.tenancy import tenant_context
from tests.integration.conftest import DELIVERY, c2b_body, make_shop

PAYERS = [f"2547220000{n:02d}" for n in range(6)]


def _pay(shop, trans_id: str, amount: str, payer: str, bill_ref: str = "") -> None:
    response = shop.hook("c2b/confirmation", c2b_body(
        shortcode=shop.channel["shortcode"], trans_id=trans_id, amount=amount,
        bill_ref=bill_ref, msisdn=hash_msisdn(payer)))
    assert response.status_code == 200


def _backtest(shop, code: str, **body):
    return shop.api("POST", f"/programs/{code}/backtest", json=body)


@pytest.fixture
def shop(client, db_session):
    return make_shop(client, db_session, programs=[DELIVERY],
                     mapping={"default": "loyalty", "DEL*": "delivery"})


def test_the_programs_own_rule_changes_nothing_and_double_points_double(shop, db_session):
    for n, (amount, payer) in enumerate([("1250.50", 0), ("99.00", 0), ("5000", 1),
                                         ("320", 2)]):
        _pay(shop, f"BT{n:08d}", amount, PAYERS[payer])
    crediting.credit_waiting()
    same = _backtest(shop, "loyalty", rule={})
    assert same.status_code == 200, same.get_json()
    body = same.get_json()
    assert (body["payments"], body["customers"], body["texts_changed"]) == (4, 3, 0)
    assert body["points"] == {"actual": 12 + 0 + 50 + 3, "under_rule": 65, "difference": 0}
    assert body["difference_per_customer"] == {"p50": 0.0, "p90": 0.0}

    double = _backtest(shop, "loyalty", rule={"multiplier": "2", "min_amount": "100"}).get_json()
    # 1250.50 -> 25, 99 -> below the minimum (no receipt), 5000 -> 100, 320 -> 6
    assert double["points"] == {"actual": 65, "under_rule": 131, "difference": 66}
    assert double["texts_changed"] == 4
    # per customer: +13 - 0 = 13, +50, +3 -> p50 13, p90 between 13 and 50
    assert double["difference_per_customer"] == {"p50": 13.0, "p90": pytest.approx(42.6)}
    assert double["rule"]["multiplier"] == "2" and double["rule"]["points_per_unit"] == 1


def test_a_stamp_card_rule_moves_the_rewards(shop, db_session):
    for n in range(7):
        _pay(shop, f"ST{n:08d}", "300", PAYERS[0], bill_ref="DEL1")
        crediting.credit_waiting()  # one at a time: the card fills in payment order
    same = _backtest(shop, "delivery").get_json()
    assert (same["stamps"], same["rewards"], same["texts_changed"]) == (
        {"actual": 7, "under_rule": 7, "difference": 0},
        {"actual": 1, "under_rule": 1, "difference": 0}, 0)
    # Cards of 3: rewards at the 3rd and 6th payment instead of the 5th.
    three = _backtest(shop, "delivery", rule={"stamps_required": 3}).get_json()
    assert three["rewards"] == {"actual": 1, "under_rule": 2, "difference": 1}
    assert three["texts_changed"] == 3
    pricier = _backtest(shop, "delivery", rule={"min_amount": "500"}).get_json()
    assert pricier["stamps"]["under_rule"] == 0 and pricier["texts_changed"] == 7


def test_window_and_rule_are_checked_and_named(shop):
    cases = [({"from": "2026-11-02", "to": "2026-11-01"}, "to"),
             ({"from": "2025-01-01", "to": "2026-06-01"}, "to"),
             ({"from": "yesterday"}, "from"),
             ({"to": "2026-11-01\x00"}, "to"),
             ({"from": "9" * 5000}, "from"),
             ({"rule": {"bonus": 2}}, "rule"),
             ({"rule": {"multiplier": "-1"}}, "rule"),
             ({"rule": {"unit_amount": "0"}}, "rule"),
             ({"rule": {"points_per_unit": 2**31}}, "rule")]
    for body, field in cases:
        response = _backtest(shop, "loyalty", **body)
        assert response.status_code == 422, (body, response.get_json())
        assert field in response.get_json()["error"]["fields"], (body, response.get_json())
    future = datetime.now(timezone.utc) + timedelta(days=2)
    assert _backtest(shop, "loyalty", **{"from": future.isoformat()}).status_code == 422
    ok = _backtest(shop, "loyalty", **{"from": "2026-11-01T08:00:00", "to": "2026-11-02"})
    assert ok.status_code == 200
    assert ok.get_json()["from"].startswith("2026-11-01T08:00:00")
    assert ok.get_json()["to"].startswith("2026-11-01T21:00:00")  # 00:00 in Nairobi


def test_another_merchants_program_and_payments_are_not_seen(shop, client, db_session):
    _pay(shop, "MINE000001", "1000", PAYERS[0])
    other = make_shop(client, db_session, business_name="Taste", shortcode="600900",
                      programs=[{"code": "theirs", "name": "Theirs"}])
    _pay(other, "THEIRS0001", "9000", PAYERS[1])
    crediting.credit_waiting()
    assert _backtest(shop, "theirs").status_code == 404
    assert _backtest(shop, "nothing-here").get_json()["error"]["code"] == "not_found"
    mine = _backtest(shop, "loyalty").get_json()
    assert (mine["payments"], mine["points"]["actual"]) == (1, 10)


# --- the SQL arithmetic is the Python rule, for any amount and rule ----------------------------

AMOUNTS = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("250000"), places=2)
RULES = st.fixed_dictionaries({}, optional={
    "points_per_unit": st.integers(0, 1_000_000),
    "unit_amount": st.decimals(min_value=1, max_value=1_000_000, places=2),
    "multiplier": st.decimals(min_value=0, max_value=100, places=2),
    "min_amount": st.decimals(min_value=0, max_value=300_000, places=2),
})


@pytest.fixture
def program(shop, db_session):
    with tenant_context(shop.merchant_id):
        customers = [Customer(merchant_id=shop.merchant_id, phone_hash=hash_msisdn(p))
                     for p in PAYERS]
        db.session.add_all(customers)
        db.session.flush()
        found = db.session.query(LoyaltyProgram).filter_by(code="loyalty").one()
    return shop, found, [c.id for c in customers]


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(paid=st.lists(st.tuples(st.integers(0, len(PAYERS) - 1), AMOUNTS), min_size=1,
                     max_size=12), rule=RULES)
def test_sql_rule_equals_python_crediting(program, db_session, paid, rule):
    shop, loyalty, customer_ids = program
    now = datetime.now(timezone.utc)
    full = {"points_per_unit": 1, "unit_amount": Decimal(100), "multiplier": Decimal(1),
            "min_amount": Decimal(0), **rule}
    savepoint = db_session.begin_nested()
    try:
        with tenant_context(shop.merchant_id):
            for n, (who, amount) in enumerate(paid):
                earned = points_for(amount, points_per_unit=1, unit_amount=Decimal(100))
                db_session.add(Payment(
                    merchant_id=shop.merchant_id, channel_id=shop.channel["id"],
                    trans_id=f"HY{n:08d}", source=PaymentSource.C2B, amount=amount,
                    trans_time=now - timedelta(hours=n + 1), customer_id=customer_ids[who],
                    program_id=loyalty.id, points=earned, status=PaymentStatus.CREDITED,
                    payload={}))
            db_session.flush()
            result = backtest(db_session, shop.merchant_id, loyalty, rule,
                              now - timedelta(days=30), now)
    finally:
        savepoint.rollback()
    actual = [points_for(a, points_per_unit=1, unit_amount=Decimal(100)) for _, a in paid]
    under = [points_for(a, **full) for _, a in paid]
    assert (result.points.actual, result.points.under_rule) == (sum(actual), sum(under))
    assert result.texts_changed == sum(
        1 for (_, a), was, now_ in zip(paid, actual, under, strict=True)
        if was != now_ or a < full["min_amount"])
    per_customer: dict[int, int] = {}
    for (who, _), was, now_ in zip(paid, actual, under, strict=True):
        per_customer[who] = per_customer.get(who, 0) + now_ - was
    diffs = sorted(per_customer.values())
    assert (result.payments, result.customers) == (len(paid), len(diffs))
    assert result.p50 == pytest.approx(statistics.median(diffs))
    p90 = diffs[0] if len(diffs) == 1 else statistics.quantiles(diffs, n=10,
                                                                method="inclusive")[8]
    assert result.p90 == pytest.approx(p90)


def test_sqlite_for_make_run_gives_the_same_answers(tmp_path, redis_prefix):
    from flask_migrate import upgrade

    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path / 'dev.sqlite3'}", redis_prefix)
    with app.app_context():
        upgrade()
        assert db.engine.dialect.name == "sqlite"
        shop = make_shop(app.test_client(), db.session, programs=[DELIVERY],
                         mapping={"default": "loyalty", "DEL*": "delivery"})
        for n, (amount, payer) in enumerate([("1250.50", 0), ("99.00", 0), ("5000", 1),
                                             ("320", 2)]):
            _pay(shop, f"BT{n:08d}", amount, PAYERS[payer])
        for n in range(7):
            _pay(shop, f"ST{n:08d}", "300", PAYERS[0], bill_ref="DEL1")
            crediting.credit_waiting()
        double = _backtest(shop, "loyalty", rule={"multiplier": "2", "min_amount": "100"})
        assert double.status_code == 200, double.get_json()
        double = double.get_json()
        assert double["points"] == {"actual": 65, "under_rule": 131, "difference": 66}
        assert double["texts_changed"] == 4
        assert double["difference_per_customer"] == {"p50": 13.0, "p90": pytest.approx(42.6)}
        three = _backtest(shop, "delivery", rule={"stamps_required": 3}).get_json()
        assert (three["rewards"], three["texts_changed"]) == (
            {"actual": 1, "under_rule": 2, "difference": 1}, 3)
        db.session.remove()
