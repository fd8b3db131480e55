"""A setup template's plan carries a back-test over the last 90 days when the merchant has
payments in them: a program it would create re-earns the payments its account rules would
route to it, one it would change re-earns its own."""

from datetime import datetime, timedelta, timezone

import pytest

from loyalty.phones import hash_msisdn
from loyalty.services import crediting
from tests.integration.conftest import c2b_body, make_shop, trans_time

PAYERS = [f"2547330000{n:02d}" for n in range(4)]


def _pay(shop, trans_id, amount, payer, bill_ref, days_ago=0):
    moment = datetime.now(timezone.utc) - timedelta(days=days_ago)
    response = shop.hook("c2b/confirmation", c2b_body(
        shortcode=shop.channel["shortcode"], trans_id=trans_id, amount=amount,
        bill_ref=bill_ref, msisdn=hash_msisdn(PAYERS[payer]), TransTime=trans_time(moment)))
    assert response.status_code == 200


def _plan(shop, **params):
    response = shop.api("POST", "/setup-templates/electronics-vip/plan",
                        json={"version": 1, "params": params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _history(shop):
    """Payments on a PayBill whose only rule is `default` -> loyalty, routed by
    electronics-vip's rules (VIP* -> vip, DELIVERY -> delivery) once applied."""
    _pay(shop, "HB00000001", "5000", 0, "VIP001")     # loyalty now: 50 points
    _pay(shop, "HB00000002", "1000", 1, " vip002 ")   # 10; VIP* ignores case and spaces
    _pay(shop, "HB00000003", "300", 0, "DELIVERY")    # 3
    _pay(shop, "HB00000004", "250", 2, "SHOP")        # 2; no template rule: stays in loyalty
    _pay(shop, "HB00000005", "9000", 3, "VIP003", days_ago=100)  # before the 90 days
    crediting.credit_waiting()


def test_a_new_program_is_backtested_over_the_payments_its_rules_would_route_to_it(
        client, db_session):
    shop = make_shop(client, db_session, mapping={"default": "loyalty"})
    _history(shop)
    _check_routed(_plan(shop, vip_multiplier="3"))


def test_sqlite_for_make_run_gives_the_same_plan_backtest(tmp_path, redis_prefix):
    from flask_migrate import upgrade

    from loyalty.extensions import db
    from tests.conftest import make_test_app

    app = make_test_app(f"sqlite:///{tmp_path / 'dev.sqlite3'}", redis_prefix)
    with app.app_context():
        upgrade()
        assert db.engine.dialect.name == "sqlite"
        shop = make_shop(app.test_client(), db.session, mapping={"default": "loyalty"})
        _history(shop)
        _check_routed(_plan(shop, vip_multiplier="3"))
        db.session.remove()


def _check_routed(plan):
    backtest = plan["backtest"]
    assert backtest["days"] == 90
    by_code = {entry["program"]: entry for entry in backtest["programs"]}
    assert set(by_code) == {"vip", "delivery"}  # loyalty does not change

    vip = by_code["vip"]
    assert (vip["action"], vip["basis"], vip["name"]) == ("create", "routed", "VIP")
    assert (vip["payments"], vip["customers"]) == (2, 2)
    # KES 5,000 and 1,000 at 3 points per KES 100 instead of 1.
    assert vip["points"] == {"actual": 60, "under_rule": 180, "difference": 120}
    # per customer +100 and +20: p50 60, p90 20 + 0.9 × 80
    assert vip["difference_per_customer"] == {"p50": 60.0, "p90": pytest.approx(92.0)}
    assert vip["texts_changed"] == 2

    delivery = by_code["delivery"]
    assert (delivery["payments"], delivery["customers"]) == (1, 1)
    assert delivery["points"] == {"actual": 3, "under_rule": 0, "difference": -3}
    assert delivery["stamps"] == {"actual": 0, "under_rule": 1, "difference": 1}
    assert delivery["rewards"]["under_rule"] == 0  # one of five stamps


def test_a_program_the_plan_changes_is_backtested_over_its_own_payments(client, db_session):
    shop = make_shop(client, db_session, programs=[{"code": "vip", "name": "VIP",
                                                    "multiplier": "3"}],
                     mapping={"default": "loyalty", "VIP*": "vip"})
    _pay(shop, "HO00000001", "5000", 0, "VIP001")
    _pay(shop, "HO00000002", "800", 1, "VIP002")
    _pay(shop, "HO00000003", "700", 2, "OTHER")  # loyalty's, not vip's
    crediting.credit_waiting()

    vip = next(entry for entry in _plan(shop)["backtest"]["programs"]
               if entry["program"] == "vip")
    assert (vip["action"], vip["basis"]) == ("conflict", "own")
    # 150 + 24 points at triple, 100 + 16 at the template's double.
    assert (vip["payments"], vip["points"]) == (
        2, {"actual": 174, "under_rule": 116, "difference": -58})
    assert vip["rule"]["multiplier"] == "2"


def test_a_merchant_without_payments_in_the_last_90_days_gets_no_backtest(client, db_session):
    quiet = make_shop(client, db_session)
    assert _plan(quiet)["backtest"] is None
    old = make_shop(client, db_session, business_name="Old Shop", shortcode="600901")
    _pay(old, "HN00000001", "5000", 0, "VIP001", days_ago=91)
    crediting.credit_waiting()
    assert _plan(old)["backtest"] is None
