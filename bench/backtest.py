"""Benchmark 6: a back-test over a million payments (DESIGN.md section 15: under 2 s).

`backtest_payments` credited payments (1,000,000; 100,000 with --quick) of one program,
from `backtest_customers` customers over the last 29 days, loaded with one INSERT … SELECT
generate_series. The app's own `services.backtest.backtest` then re-earns them under
another rule (multiplier 1.5, minimum KES 50), and, in the same process and on the same
rows, the baseline: `SELECT count(*), sum(points)` over exactly those payments, the
cheapest query that reads them all. Reported: the back-test's median time, the scan's,
and their ratio ("the back-test costs X full scans").

    python -m bench.run --only backtest          # this row alone (setup included)
    python -m bench.backtest measure CODE        # inside the app's environment: the timing
"""

from __future__ import annotations

import json
import sys
import time

from bench.app_steps import create_program, run_step, timed
from bench.harness import log

PROGRAM = {"code": "bench-backtest", "name": "Back-test bench"}
RULE = {"multiplier": "1.5", "min_amount": "50"}


def bench_backtest(ctx) -> None:
    from bench.run import platform_env

    s = ctx.settings
    total, customers = s.backtest_payments, s.backtest_customers
    channel = ctx.seed["channels"][0]
    merchant = channel["merchant_id"]
    env = platform_env(ctx, as_app=False, BENCH_MERCHANT=str(merchant))
    program_id = int(run_step("bench.backtest", env, "prepare"))
    started = time.monotonic()
    _load(ctx.db, merchant, channel["channel_id"], program_id, total, customers)
    loaded = round(time.monotonic() - started, 1)
    log(f"backtest: {total:,} payments of {customers:,} customers loaded in {loaded} s")
    timing = json.loads(run_step("bench.backtest", platform_env(ctx, BENCH_MERCHANT=str(merchant)),
                                 "measure"))
    ratio = timing["backtest_s"] / timing["scan_s"] if timing["scan_s"] else None
    entry = {"payments": total, "customers": customers, "load_s": loaded, **timing,
             "ratio": round(ratio, 1) if ratio else None}
    entry["ok"] = timing["payments_seen"] == total and timing["backtest_s"] < 2.0
    ctx.results["backtest"] = entry
    log(f"  back-test {timing['backtest_s']:.3f} s vs scan {timing['scan_s']:.3f} s "
        f"({entry['ratio']}x); {timing['payments_seen']:,} payments seen")


def _load(db, merchant: int, channel: int, program: int, total: int, customers: int) -> None:
    db.run("""
        INSERT INTO customers (merchant_id, phone_hash, sms_opt_out, created_at, updated_at)
        SELECT %(m)s, encode(sha256(('backtest-' || k)::bytea), 'hex'), false, now(), now()
        FROM generate_series(1, %(c)s) k ON CONFLICT DO NOTHING""",
           {"m": merchant, "c": customers})
    # The rows are consistent by construction: skip the four foreign-key checks per row
    # (most of an INSERT's cost here). The bench connects as the superuser that made the
    # database; the setting lasts for this session's loading only.
    db.run("SET session_replication_role = replica")
    ids = db.one("SELECT array_agg(id ORDER BY id) FROM customers WHERE merchant_id = %s",
                 (merchant,))[0]
    # Amounts from KES 10 to 25,009.99 spread by a multiplicative hash; 1 point per KES 100.
    db.run("""
        INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_type, trans_time,
            amount, bill_ref, msisdn, msisdn_form, customer_id, program_id, points, status,
            attempts, payload, credited_at, created_at, updated_at)
        SELECT %(m)s, %(ch)s, 'BT' || lpad(g::text, 9, '0'), 'c2b', 'Pay Bill',
               now() - (g %% (29 * 86400)) * interval '1 second', a.amount, 'BT', '0', 'hashed',
               (%(ids)s::int[])[1 + (g::bigint * 7919) %% cardinality(%(ids)s::int[])], %(p)s,
               floor(a.amount / 100), 'credited', 1, '{}'::json, now(), now(), now()
        FROM generate_series(1, %(n)s) g,
             LATERAL (SELECT 10 + ((g::bigint * 104729) %% 2500000)::numeric / 100 AS amount) a""",
           {"m": merchant, "ch": channel, "p": program, "n": total, "ids": ids})
    db.run("SET session_replication_role = DEFAULT")
    db.run("ANALYZE payments")  # the planner's statistics; the timing's warm-up run sets
    db.run("ANALYZE customers")  # the rows' hint bits, so no VACUUM pass is needed


def _measure() -> None:
    import os
    from datetime import datetime, timedelta, timezone

    import sqlalchemy as sa

    from loyalty import create_app
    from loyalty.extensions import db
    from loyalty.models import Payment, PaymentStatus
    from loyalty.services.backtest import backtest
    from loyalty.services.programs import get_program
    from loyalty.tenancy import tenant_context

    merchant = int(os.environ["BENCH_MERCHANT"])
    app = create_app()
    end = datetime.now(timezone.utc)
    start = end - timedelta(days=30)
    with app.app_context(), tenant_context(merchant):
        program = get_program(PROGRAM["code"])
        scan = sa.select(sa.func.count(), sa.func.sum(Payment.points)).where(
            Payment.program_id == program.id, Payment.status == PaymentStatus.CREDITED,
            Payment.trans_time >= start, Payment.trans_time < end)

        scan_s, (count, points) = timed(lambda: db.session.execute(scan).one())
        backtest_s, result = timed(lambda: backtest(db.session, merchant, program, RULE,
                                                    start, end))
    print(json.dumps({"scan_s": round(scan_s, 4), "backtest_s": round(backtest_s, 4),
                      "payments_seen": result.payments, "scan_payments": count,
                      "points": int(points or 0), "points_under_rule": result.points.under_rule,
                      "customers_seen": result.customers, "p50": result.p50,
                      "p90": result.p90, "texts_changed": result.texts_changed}))


if __name__ == "__main__":
    {"prepare": lambda: create_program(PROGRAM), "measure": _measure}[sys.argv[1]]()
