"""Benchmark 9: an experiment's results over 100,000 assignments (DESIGN.md section 15:
under 1 s).

One running experiment (variants A and B, 50/50, repeat within 30 days, sequential) on a
program of its own, with `experiment_assignments` payers (100,000; 20,000 with --quick),
each a customer with a first payment spread over the last 60 days (the assignment's
`first_paid_at`, so about half have complete follow-up), three in ten with a second payment
0–40 days later (some inside the 30 days, some after), every payment credited with its
`earn` ledger entry carrying the experiment and variant (B earns 1.5×), one customer in 50
opted out. Loaded with INSERT … SELECT generate_series, foreign-key checks off for the load
(consistent by construction), as bench/backtest.py does. The experiment row is written
directly: the service's plan would refuse it (no history before the load).

The app's own `services.experiments.results.experiment_results` is then timed and, in the
same process on the same rows, the baseline: `count(*)` of the experiment's assignments and
`sum(points)` of its ledger entries, the plain scan of the rows the results aggregate.
Reported: both medians and their ratio ("the results cost X scans").

    python -m bench.run --only experiments       # this row alone (setup included)
    python -m bench.experiment_results measure   # inside the app's environment: the timing
"""

from __future__ import annotations

import json
import sys
import time

from bench.app_steps import create_program, run_step, timed
from bench.harness import log

PROGRAM = {"code": "bench-experiment", "name": "Experiment bench"}
TARGET_S = 1.0


def bench_experiments(ctx) -> None:
    from bench.run import platform_env

    total = ctx.settings.experiment_assignments
    channel = ctx.seed["channels"][0]
    merchant = channel["merchant_id"]
    env = platform_env(ctx, as_app=False, BENCH_MERCHANT=str(merchant))
    program_id = int(run_step("bench.experiment_results", env, "prepare"))
    started = time.monotonic()
    experiment_id = _load(ctx.db, merchant, channel["channel_id"], program_id, total)
    loaded = round(time.monotonic() - started, 1)
    log(f"experiments: {total:,} assignments loaded in {loaded} s")
    env = platform_env(ctx, BENCH_MERCHANT=str(merchant), BENCH_EXPERIMENT=str(experiment_id))
    timing = json.loads(run_step("bench.experiment_results", env, "measure"))
    ratio = timing["results_s"] / timing["scan_s"] if timing["scan_s"] else None
    entry = {"assignments": total, "load_s": loaded, **timing,
             "ratio": round(ratio, 1) if ratio else None}
    entry["ok"] = timing["assigned_seen"] == total and timing["results_s"] < TARGET_S
    ctx.results["experiments"] = entry
    log(f"  results {timing['results_s']:.3f} s vs scan {timing['scan_s']:.3f} s "
        f"({entry['ratio']}x); {timing['assigned_seen']:,} assigned, "
        f"{timing['enrolled_seen']:,} with complete follow-up")


def _load(db, merchant: int, channel: int, program: int, total: int) -> int:
    experiment_id = db.one("""
        INSERT INTO experiments (merchant_id, name, program_id, variants, split, metric_days,
            minimum_detectable_effect, method, status, salt, plan, started_at, created_at,
            updated_at)
        VALUES (%(m)s, 'Bench: 1.5x points', %(p)s,
                '[{"key": "A", "rule": {}}, {"key": "B", "rule": {"multiplier": "1.5"}}]',
                '[50, 50]', 30, 0.05, 'sequential', 'running', md5('bench'),
                '{"sample_size_per_arm": 50000, "estimated_weeks": 8}',
                now() - interval '61 days', now(), now())
        RETURNING id""", {"m": merchant, "p": program})[0]
    db.run("""
        INSERT INTO customers (merchant_id, phone_hash, sms_opt_out, created_at, updated_at)
        SELECT %(m)s, encode(sha256(('experiment-' || k)::bytea), 'hex'), k %% 50 = 0, now(),
               now()
        FROM generate_series(1, %(n)s) k ON CONFLICT DO NOTHING""", {"m": merchant, "n": total})
    # Consistent by construction: skip the foreign-key checks (the superuser's session only).
    db.run("SET session_replication_role = replica")
    ids = db.one("SELECT array_agg(id ORDER BY id) FROM customers WHERE merchant_id = %s "
                 "AND phone_hash IN (SELECT encode(sha256(('experiment-' || k)::bytea), 'hex') "
                 "FROM generate_series(1, %s) k)", (merchant, total))[0]
    params = {"m": merchant, "ch": channel, "p": program, "n": total, "ids": ids,
              "e": experiment_id}
    # Payer g: customer ids[g], variant by g's parity, first payment within the last 60
    # days; (g / 2) % 10 < 3 (three in ten of either variant) pays again 0-40 days later,
    # not after now. Both variants repeat alike: the bench times, it does not test a rule.
    db.run("""
        CREATE TEMP TABLE bench_assignees AS
        SELECT g, (%(ids)s::int[])[g] AS customer_id,
               CASE WHEN g %% 2 = 0 THEN 'A' ELSE 'B' END AS variant,
               now() - (1 + (g::bigint * 7919) %% (60 * 86400)) * interval '1 second' AS first_at,
               100 + ((g::bigint * 15485863) %% 500000)::numeric / 100 AS amount
        FROM generate_series(1, %(n)s) g""", params)
    # Statistics for the joins below: after the back-test row's million payments, a plan
    # made for an unanalyzed temporary table ran for minutes.
    db.run("ANALYZE bench_assignees")
    db.run("""
        INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_type, trans_time,
            amount, bill_ref, msisdn, msisdn_form, customer_id, program_id, points, status,
            attempts, payload, credited_at, created_at, updated_at)
        SELECT %(m)s, %(ch)s, t.prefix || lpad(b.g::text, 9, '0'), 'c2b', 'Pay Bill', t.at,
               b.amount, 'EXP', '0', 'hashed', b.customer_id, %(p)s,
               floor(b.amount * CASE b.variant WHEN 'B' THEN 1.5 ELSE 1 END / 100),
               'credited', 1, '{}'::json, now(), now(), now()
        FROM bench_assignees b,
             LATERAL (VALUES ('EX', b.first_at),
                             ('EY', least(now(), b.first_at
                                  + ((b.g::bigint * 31) %% (40 * 86400)) * interval '1 second')))
                     AS t(prefix, at)
        WHERE t.prefix = 'EX' OR (b.g / 2) %% 10 < 3""", params)
    db.run("ANALYZE payments")
    db.run("""
        INSERT INTO experiment_assignments (merchant_id, experiment_id, unit_key, variant,
                                            customer_id, payment_id, first_paid_at)
        SELECT %(m)s, %(e)s, md5('unit-' || b.g), b.variant, b.customer_id, p.id, p.trans_time
        FROM bench_assignees b
        JOIN payments p ON p.merchant_id = %(m)s AND p.trans_id = 'EX' || lpad(b.g::text, 9, '0')
        """, params)
    db.run("""
        INSERT INTO ledger_entries (merchant_id, customer_id, program_id, kind, points, stamps,
            remaining, payment_id, created_at, experiment_id, variant)
        SELECT %(m)s, p.customer_id, %(p)s, 'earn', p.points, 0, p.points, p.id, p.trans_time,
               %(e)s, b.variant
        FROM payments p JOIN bench_assignees b ON b.customer_id = p.customer_id
        WHERE p.merchant_id = %(m)s AND p.program_id = %(p)s""", params)
    db.run("SET session_replication_role = DEFAULT")
    db.run("DROP TABLE bench_assignees")
    for table in ("payments", "customers", "experiment_assignments", "ledger_entries"):
        db.run(f"ANALYZE {table}")
    return experiment_id


def _measure() -> None:
    import os

    import sqlalchemy as sa

    from loyalty import create_app
    from loyalty.extensions import db
    from loyalty.models import ExperimentAssignment, LedgerEntry
    from loyalty.services.experiments.results import experiment_results
    from loyalty.tenancy import tenant_context

    merchant = int(os.environ["BENCH_MERCHANT"])
    experiment = int(os.environ["BENCH_EXPERIMENT"])
    app = create_app()
    with app.app_context(), tenant_context(merchant):
        scan = sa.select(
            sa.select(sa.func.count()).where(
                ExperimentAssignment.merchant_id == merchant,
                ExperimentAssignment.experiment_id == experiment).scalar_subquery(),
            sa.select(sa.func.sum(LedgerEntry.points)).where(
                LedgerEntry.merchant_id == merchant,
                LedgerEntry.experiment_id == experiment).scalar_subquery())

        scan_s, (assigned, points) = timed(lambda: db.session.execute(scan).one())
        results_s, result = timed(lambda: experiment_results(experiment))
    variants = result["variants"]
    print(json.dumps({
        "scan_s": round(scan_s, 4), "results_s": round(results_s, 4),
        "assigned_seen": sum(v["assigned"] for v in variants), "scan_assigned": assigned,
        "ledger_points": int(points or 0),
        "enrolled_seen": sum(v["enrolled"] for v in variants),
        "repeaters_seen": sum(v["repeaters"] for v in variants),
        "rates": {v["key"]: v["rate"] for v in variants},
        "decision": result["decision"], "sample_ratio_p": result["sample_ratio"]["p_value"]}))


if __name__ == "__main__":
    {"prepare": lambda: create_program(PROGRAM), "measure": _measure}[sys.argv[1]]()
