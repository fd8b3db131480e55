"""Experiments through the API: the plan gate, the rules of running, promotion, results."""

from decimal import Decimal

import sqlalchemy as sa

from tests.integration.experiment_history import assign, fixed_experiment, seed_history

BODY = {"name": "1.5x points", "program": "loyalty",
        "variants": [{"key": "A", "rule": {}}, {"key": "B", "rule": {"multiplier": "1.5"}}],
        "split": [50, 50], "metric": {"kind": "repeat_within_days", "days": 30},
        "minimum_detectable_effect": 0.10, "method": "fixed"}


def _create(shop, **changes):
    return shop.api("POST", "/experiments", json={**BODY, **changes})


def test_a_feasible_plan_is_created_with_its_numbers(acme, db_session):
    seed_history(db_session, acme, payers=2000, repeat_percent=30)
    created = _create(acme)
    assert created.status_code == 201, created.get_json()
    plan = created.get_json()["plan"]
    # first payments at least 30 days old: 58 of every 88 days; 30% of those came back
    assert abs(plan["baseline_rate"] - 0.30) < 0.02
    assert plan["weekly_new_payers"] == round(2000 * 7 / 90, 1)
    assert plan["sample_size_per_arm"] in range(340, 380)
    assert plan["estimated_weeks"] == -(-2 * plan["sample_size_per_arm"] // (2000 * 7 / 90))
    assert plan["feasible"] is True
    assert created.get_json()["status"] == "draft"
    assert created.get_json()["program"] == "loyalty"
    # an 80/20 split waits for the 20% arm to fill: two and a half times as long
    uneven = _create(acme, split=[80, 20]).get_json()["plan"]
    assert uneven["estimated_weeks"] == -(-uneven["sample_size_per_arm"] // (2000 * 7 / 90 * 0.2))


def test_a_plan_beyond_twelve_weeks_is_refused_with_its_numbers(acme, db_session):
    seed_history(db_session, acme, payers=2000, repeat_percent=30)
    refused = _create(acme, minimum_detectable_effect=0.02)
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "plan_not_feasible"
    plan = error["plan"]
    assert plan["feasible"] is False
    assert plan["sample_size_per_arm"] > 8000 and plan["estimated_weeks"] > 12
    assert plan["baseline_rate"] > 0 and plan["weekly_new_payers"] > 0
    effect = plan["feasible_effect"]
    assert 0.02 < effect < 0.10
    assert f"{effect:.1%}" in error["message"]
    assert "minimum_detectable_effect" in error["fields"]


def test_a_program_without_payers_is_refused_saying_so(acme):
    refused = _create(acme)
    assert refused.status_code == 422
    assert "Too few new payers" in refused.get_json()["error"]["message"]


def test_bad_experiments_are_refused_naming_the_field(acme):
    cases = {
        "split": dict(split=[60, 50]),
        "variants": dict(variants=[{"key": "A", "rule": {}}, {"key": "A", "rule": {}}]),
        "multiplier": dict(variants=[{"key": "A", "rule": {}},
                                     {"key": "B", "rule": {"multiplier": "1000"}}]),
        "sms_template": dict(variants=[{"key": "A", "rule": {}},
                                       {"key": "B", "rule": {"sms_template": "Hi"}}]),
        "days": dict(metric={"kind": "repeat_within_days", "days": 91}),
        "minimum_detectable_effect": dict(minimum_detectable_effect=1),
        "method": dict(method="bayesian"),
    }
    for field, change in cases.items():
        answer = _create(acme, **change)
        assert answer.status_code == 422, (field, answer.get_json())
        assert field in str(answer.get_json()["error"]["fields"]), (field, answer.get_json())
    wrong_count = _create(acme, split=[50, 25, 25])
    assert "one share per variant" in str(wrong_count.get_json()["error"]["fields"]["split"])
    huge = acme.api("GET", f"/experiments/{2**31}")
    assert huge.status_code in (404, 422)


def test_one_running_experiment_per_program_then_promotion(acme, db_session):
    seed_history(db_session, acme, payers=2000, repeat_percent=30)
    first = _create(acme).get_json()["id"]
    second = _create(acme, name="Double").get_json()["id"]
    assert acme.api("POST", f"/experiments/{first}/start").get_json()["status"] == "running"
    refused = acme.api("POST", f"/experiments/{second}/start")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "experiment_running"
    assert acme.api("POST", f"/experiments/{first}/start").status_code == 409
    promoted = acme.api("POST", f"/experiments/{first}/promote", json={"variant": "B"})
    assert promoted.status_code == 200
    assert promoted.get_json()["status"] == "promoted"
    assert promoted.get_json()["promoted_variant"] == "B"
    assert acme.api("GET", "/programs/loyalty").get_json()["multiplier"] == "1.50"
    # the program is free again
    assert acme.api("POST", f"/experiments/{second}/start").status_code == 200
    assert acme.api("POST", f"/experiments/{second}/promote",
                    json={"variant": "Z"}).status_code == 422
    assert acme.api("POST", f"/experiments/{second}/stop").get_json()["status"] == "stopped"
    listed = acme.api("GET", "/experiments").get_json()
    assert [item["id"] for item in listed["items"]] == [second, first]


def _results(shop, experiment_id, **query):
    answer = shop.api("GET", f"/experiments/{experiment_id}/results", query_string=query)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_results_count_only_payers_whose_follow_up_is_complete(acme, db_session):
    experiment = fixed_experiment(db_session, acme, days=30)
    assign(db_session, acme, experiment, variant="A", count=100, days_ago=40, repeat_percent=20)
    assign(db_session, acme, experiment, variant="B", count=100, days_ago=40, repeat_percent=40)
    # joined ten days ago: they may still come back, so they are not counted yet
    assign(db_session, acme, experiment, variant="A", count=50, days_ago=10, repeat_percent=0,
           start=1000)
    assign(db_session, acme, experiment, variant="B", count=50, days_ago=10, repeat_percent=0,
           start=1000)
    result = _results(acme, experiment)
    a, b = result["variants"]
    assert (a["assigned"], a["enrolled"], a["repeaters"]) == (150, 100, 20)
    assert (b["assigned"], b["enrolled"], b["repeaters"]) == (150, 100, 40)
    assert a["rate"] == 0.2 and a["ci_low"] < 0.2 < a["ci_high"]
    comparison = result["comparisons"][0]
    assert abs(comparison["difference"] - 0.2) < 1e-9
    assert comparison["ci_low"] > 0 and comparison["p_value"] < 0.01
    assert result["sample_ratio"]["frozen"] is False
    # 100 enrolled per arm of 1,000 planned: not yet the first of four looks
    assert result["looks"]["reached"] == 0 and result["decision"] == "continue"


def test_a_skewed_split_freezes_the_verdict(acme, db_session):
    experiment = fixed_experiment(db_session, acme, per_arm=400)
    assign(db_session, acme, experiment, variant="A", count=600, days_ago=40, repeat_percent=20)
    assign(db_session, acme, experiment, variant="B", count=400, days_ago=40, repeat_percent=60)
    result = _results(acme, experiment)
    assert result["sample_ratio"]["p_value"] < 0.001 and result["sample_ratio"]["frozen"]
    assert result["decision"] is None
    assert "sample-ratio check" in result["verdict"]


def test_sequential_stops_for_a_clear_effect_and_cost_and_opt_outs(acme, db_session):
    experiment = fixed_experiment(db_session, acme, per_arm=400)
    assign(db_session, acme, experiment, variant="A", count=200, days_ago=40, repeat_percent=20)
    assign(db_session, acme, experiment, variant="B", count=190, days_ago=40, repeat_percent=60)
    assign(db_session, acme, experiment, variant="B", count=10, days_ago=40, start=500,
           opted_out=True)
    with_points = db_session.execute(sa.text(
        "SELECT customer_id, merchant_id, payment_id FROM experiment_assignments "
        "WHERE variant = 'B' AND experiment_id = :e"), {"e": experiment}).all()
    for customer_id, merchant_id, payment_id in with_points:
        db_session.execute(sa.text(
            "INSERT INTO ledger_entries (merchant_id, customer_id, program_id, kind, points, "
            "stamps, remaining, payment_id, created_at, experiment_id, variant) "
            "SELECT :m, :c, program_id, 'earn', 10, 0, 10, :p, now(), :e, 'B' "
            "FROM experiments WHERE id = :e"),
            {"m": merchant_id, "c": customer_id, "p": payment_id, "e": experiment})
    result = _results(acme, experiment, point_value="0.50")
    a, b = result["variants"]
    assert result["looks"]["reached"] == 2  # 200 of 400 per arm
    assert result["decision"] == "stop_for_effect"
    assert Decimal(b["points_cost_kes_per_customer"]) == Decimal("5.00")
    assert Decimal(a["points_cost_kes_per_customer"]) == Decimal("0.00")
    assert b["opt_out_rate"] == 0.05 and a["opt_out_rate"] == 0


def test_a_fixed_experiment_hides_its_effect_until_the_analysis_date(acme, db_session):
    experiment = fixed_experiment(db_session, acme, method="fixed")
    db_session.execute(sa.text("UPDATE experiments SET started_at = now() - interval '35 days' "
                               "WHERE id = :e"), {"e": experiment})
    assign(db_session, acme, experiment, variant="A", count=100, days_ago=34, repeat_percent=20)
    assign(db_session, acme, experiment, variant="B", count=100, days_ago=34, repeat_percent=60)
    result = _results(acme, experiment)
    assert result["variants"][0]["enrolled"] == 100  # the rates are shown…
    comparison = result["comparisons"][0]
    assert comparison["difference"] is None and comparison["p_value"] is None  # …not the effect
    assert result["decision"] is None and "hidden" in result["verdict"]
    db_session.execute(sa.text("UPDATE experiments SET started_at = now() - interval '80 days' "
                               "WHERE id = :e"), {"e": experiment})
    shown = _results(acme, experiment)
    assert shown["comparisons"][0]["p_value"] < 0.001
    assert shown["decision"] == "stop_for_effect"


def test_another_merchants_experiment_is_not_found(client, acme, db_session):
    from tests.integration.conftest import make_shop

    experiment = fixed_experiment(db_session, acme)
    other = make_shop(client, db_session, business_name="Other Shop")
    for path in (f"/experiments/{experiment}", f"/experiments/{experiment}/results"):
        assert other.api("GET", path).status_code == 404
    assert other.api("POST", f"/experiments/{experiment}/stop").status_code == 404
    assert other.api("GET", "/experiments").get_json()["items"] == []
