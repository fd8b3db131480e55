"""Past payments and experiments written straight into the database, for the experiment
tests: thousands of payers in one statement each, at times relative to the clock."""

import json

import sqlalchemy as sa

from loyalty.tenancy import all_merchants


def seed_history(db_session, shop, *, payers: int, repeat_percent: int, program="loyalty"):
    """`payers` new payers spread over the last 88 days, each with a first payment and,
    for `repeat_percent` of them, a second one 7 days later (when that is already past)."""
    with all_merchants():
        db_session.execute(sa.text("""
            WITH program AS (SELECT id FROM loyalty_programs
                             WHERE merchant_id = :m AND code = :program),
            c AS (
                INSERT INTO customers (merchant_id, phone_hash, sms_opt_out, created_at,
                                       updated_at)
                SELECT :m, md5('h' || g) || md5('x' || g), false, now(), now()
                FROM generate_series(1, :n) AS g
                RETURNING id, phone_hash),
            numbered AS (SELECT id, row_number() OVER (ORDER BY id) AS g FROM c),
            visits AS (
                SELECT id AS customer_id, g, now() - make_interval(days => (1 + g % 88)::int)
                       AS t, 0 AS visit FROM numbered
                UNION ALL
                SELECT id, g, now() - make_interval(days => (1 + g % 88)::int)
                       + interval '7 days', 1 FROM numbered
                WHERE g % 100 < :repeat AND (1 + g % 88) > 7)
            INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_time, amount,
                                  msisdn_form, customer_id, program_id, points, status,
                                  attempts, payload, created_at, updated_at)
            SELECT :m, :channel, 'H' || g || 'V' || visit, 'c2b', t, 500, 'hashed',
                   customer_id, (SELECT id FROM program), 5, 'credited', 1, '{}', t, t
            FROM visits"""), {"m": shop.merchant_id, "channel": shop.channel["id"],
                              "n": payers, "repeat": repeat_percent, "program": program})


def fixed_experiment(db_session, shop, *, split=(50, 50), method="sequential", days=30,
                     per_arm=1000, rule_b=None) -> int:
    """A running experiment written directly (its plan as given), for results tests."""
    variants = [{"key": "A", "rule": {}}, {"key": "B", "rule": rule_b or {"multiplier": "2"}}]
    with all_merchants():
        return db_session.execute(sa.text("""
            INSERT INTO experiments (merchant_id, name, program_id, variants, split,
                metric_days, minimum_detectable_effect, method, status, salt, plan,
                started_at, created_at, updated_at)
            SELECT :m, 'Test', id, :variants, :split, :days, 0.05, :method, 'running',
                   'salt', :plan, now() - interval '200 days', now(), now()
            FROM loyalty_programs WHERE merchant_id = :m AND code = 'loyalty'
            RETURNING id"""), {
            "m": shop.merchant_id, "variants": json.dumps(variants),
            "split": json.dumps(list(split)), "days": days, "method": method,
            "plan": json.dumps({"sample_size_per_arm": per_arm, "estimated_weeks": 4})}).scalar()


def assign(db_session, shop, experiment_id, *, variant: str, count: int, days_ago: int,
           repeat_percent: int = 0, start: int = 0, opted_out: bool = False):
    """`count` payers assigned to `variant` whose first eligible payment was `days_ago`
    days ago; `repeat_percent` of them paid again 3 days after it."""
    with all_merchants():
        db_session.execute(sa.text("""
            WITH program AS (SELECT program_id AS id FROM experiments WHERE id = :e),
            c AS (
                INSERT INTO customers (merchant_id, phone_hash, sms_opt_out, created_at,
                                       updated_at)
                SELECT :m, md5(:variant || 'a' || g) || md5(:variant || 'b' || g), :opted, now(),
                       now() FROM generate_series(:start + 1, :start + :n) AS g
                RETURNING id, phone_hash),
            numbered AS (SELECT id, phone_hash, row_number() OVER (ORDER BY id) AS g FROM c),
            firsts AS (
                INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_time,
                                      amount, msisdn_form, customer_id, program_id, points,
                                      status, attempts, payload, created_at, updated_at)
                SELECT :m, :channel, 'F' || :variant || (:start + g), 'c2b',
                       now() - make_interval(days => :ago), 500, 'hashed', id,
                       (SELECT id FROM program), 5, 'credited', 1, '{}', now(), now()
                FROM numbered RETURNING id, customer_id, trans_time),
            repeats AS (
                INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_time,
                                      amount, msisdn_form, customer_id, program_id, points,
                                      status, attempts, payload, created_at, updated_at)
                SELECT :m, :channel, 'R' || :variant || (:start + g), 'c2b',
                       now() - make_interval(days => :ago) + interval '3 days', 500,
                       'hashed', id, (SELECT id FROM program), 5, 'credited', 1, '{}',
                       now(), now()
                FROM numbered WHERE g % 100 < :repeat AND :ago > 3)
            INSERT INTO experiment_assignments (merchant_id, experiment_id, unit_key, variant,
                                                customer_id, payment_id, first_paid_at)
            SELECT :m, :e, n.phone_hash, :variant, f.customer_id, f.id, f.trans_time
            FROM firsts AS f JOIN numbered AS n ON n.id = f.customer_id"""), {
            "m": shop.merchant_id, "channel": shop.channel["id"], "e": experiment_id,
            "variant": variant, "n": count, "ago": days_ago, "repeat": repeat_percent,
            "start": start, "opted": opted_out})
