"""Benchmark 5: reconciliation (DESIGN.md section 15).

A 48-hour Pull of `reconcile_rows` rows (100,000; 10,000 with --quick) of which 1% never
reached the platform. The emulator serves the rows (its bulk Pull rows, 100 a page, as a
busy PayBill would have them); the platform already holds the other 99%, credited, as its
callbacks stored them. One worker runs the reconciliation task, as beat would queue it.

Checked, not assumed: every missing receipt recovered (source pull) and credited once, no
receipt credited twice (one earn entry per payment at most), one SMS per recovered
payment, and a second run over the same window recovering nothing. Reported: rows/s of the
run (rows seen over the run's own start-to-finish), the worker's CPU seconds, and whether
it fits the target (under a minute of worker time).
"""

from __future__ import annotations

import json
import time

import requests

from bench.harness import CREDITED_TWICE_SQL, log, wait_for

MISSING_EVERY = 100  # 1%
PREFIX = "RB"


def bench_reconcile(ctx) -> None:
    from bench.run import Stack, publish, reset_payments

    s = ctx.settings
    total = s.reconcile_rows
    res = ctx.results.setdefault("reconcile", {"rows": total})
    channel = ctx.seed["channels"][0]
    reset_payments(ctx)
    now = time.time()
    window = (now - 47.5 * 3600, now - 60)
    _register_pull(ctx, channel)
    _load_rows(ctx, channel, total, window)
    held = _load_held(ctx, channel, total, window)
    missing = total - held
    log(f"reconcile: {total} rows at the emulator, {held} held, {missing} missing")
    with Stack(ctx, "platform", web=False) as stack:
        with stack.cpu([ctx.db]) as meter:
            first = _run(ctx, channel, publish)
            wait_for(lambda: ctx.db.one("SELECT count(*) FROM payments WHERE status = "
                                        "'received'")[0] == 0,
                     timeout=300, interval=0.5, what="the recovered payments credited")
        second = _run(ctx, channel, publish)
    check = _check(ctx, channel)
    seconds = first["seconds"] or 0.0
    entry = {
        "rows": total, "missing": missing, "first": first, "second": second,
        "rows_per_s": round(first["rows_seen"] / seconds) if seconds else None,
        "worker_cpu_s": round(meter.by_group.get("worker", 0.0), 1),
        "cpu_cores": meter.report(), **check,
    }
    entry["ok"] = (first["state"] == "done" and first["recovered"] == missing
                   and first["already_known"] == held and second["recovered"] == 0
                   and check["recovered_payments"] == missing
                   and check["credited_twice"] == 0 and check["earn_entries"] == missing
                   and check["texts"] == missing)
    res.update(entry)
    log(f"  run: {first['rows_seen']} rows in {seconds:.1f}s ({entry['rows_per_s']}/s), "
        f"{first['recovered']} recovered, {first['already_known']} known; worker cpu "
        f"{entry['worker_cpu_s']} s; second run recovered {second['recovered']}; "
        f"credited twice: {check['credited_twice']}")


def _register_pull(ctx, channel: dict) -> None:
    base = ctx.emulator_url + "/_emulator/daraja"
    token = requests.get(f"{base}/oauth/v1/generate", params={"grant_type": "client_credentials"},
                         auth=(channel["consumer_key"], "bench-secret"), timeout=10)
    token.raise_for_status()
    answer = requests.post(f"{base}/pulltransactions/v1/register", timeout=10, json={
        "ShortCode": channel["shortcode"], "RequestType": "Pull",
        "NominatedNumber": "254722000111", "CallBackURL": "http://127.0.0.1/hooks/x/result/pull"},
        headers={"Authorization": f"Bearer {token.json()['access_token']}"})
    assert answer.json().get("ResponseStatus") in ("1000", "1001"), answer.text
    ctx.db.run("UPDATE mpesa_channels SET pull_state = 'done', pull_nominated_number = "
               "'254722000111' WHERE id = %s", (channel["channel_id"],))


def _load_rows(ctx, channel: dict, total: int, window: tuple[float, float]) -> None:
    answer = requests.post(ctx.emulator_url + "/_emulator/control/pull-rows", timeout=300, json={
        "ShortCode": channel["shortcode"], "count": total, "from": window[0], "to": window[1],
        "prefix": PREFIX, "msisdn": "254712345678", "bill_ref": "VIP001", "amount": "100.00"})
    assert answer.status_code == 201, answer.text


def _load_held(ctx, channel: dict, total: int, window: tuple[float, float]) -> int:
    """The 99% the callbacks stored and crediting credited, with the emulator's receipts
    and times (its formula: evenly spread over the window)."""
    step = (window[1] - window[0]) / max(1, total - 1)
    ctx.db.run("""
        INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_type, trans_time,
            amount, bill_ref, msisdn, msisdn_form, points, status, attempts, payload,
            credited_at, created_at, updated_at)
        SELECT %(m)s, %(c)s, %(p)s || lpad(g::text, 8, '0'), 'c2b', 'Pay Bill',
               to_timestamp(%(t0)s + g * %(step)s), 100, 'VIP001', %(h)s, 'hashed', 2,
               'credited', 1, '{}'::json, now() - interval '1 day', now() - interval '1 day',
               now() - interval '1 day'
        FROM generate_series(0, %(n)s - 1) g WHERE g %% %(every)s <> 0""",
               {"m": channel["merchant_id"], "c": channel["channel_id"], "p": PREFIX,
                "t0": window[0], "step": step, "n": total, "every": MISSING_EVERY,
                "h": "0" * 64})
    ctx.db.run("VACUUM ANALYZE payments")
    return ctx.db.one("SELECT count(*) FROM payments WHERE trans_id LIKE %s",
                      (PREFIX + "%",))[0]


def _run(ctx, channel: dict, publish) -> dict:
    """A run over the last 48 hours, queued as beat queues one; its outcome."""
    run_id = ctx.db.one("""
        INSERT INTO reconciliation_runs (merchant_id, channel_id, trigger, window_from,
            window_to, state, pages, rows_seen, already_known, recovered, ignored, skipped,
            skipped_reasons, started_at)
        VALUES (%s, %s, 'schedule', now() - interval '48 hours', now(), 'running', 0, 0, 0, 0,
                0, 0, '{}', now()) RETURNING id""",
                        (channel["merchant_id"], channel["channel_id"]))[0]
    publish(ctx, "daraja.reconcile", "daraja", [channel["merchant_id"], run_id])
    wait_for(lambda: ctx.db.one("SELECT state FROM reconciliation_runs WHERE id = %s",
                                (run_id,))[0] != "running",
             timeout=600, interval=0.5, what="the reconciliation run")
    row = ctx.db.one("SELECT state, rows_seen, already_known, recovered, ignored, skipped, "
                     "pages, error, extract(epoch FROM finished_at - started_at) "
                     "FROM reconciliation_runs WHERE id = %s", (run_id,))
    names = ("state", "rows_seen", "already_known", "recovered", "ignored", "skipped", "pages",
             "error")
    out = dict(zip(names, row[:8], strict=True))
    out["seconds"] = round(float(row[8] or 0), 2)
    log(f"  run {run_id}: {json.dumps(out)}")
    return out


def _check(ctx, channel: dict) -> dict:
    one = ctx.db.one
    return {
        "recovered_payments": one("SELECT count(*) FROM payments WHERE source = 'pull' "
                                  "AND status = 'credited'")[0],
        "credited_twice": one(CREDITED_TWICE_SQL)[0],
        "earn_entries": one("SELECT count(*) FROM ledger_entries l JOIN payments p "
                            "ON p.id = l.payment_id WHERE p.source = 'pull' "
                            "AND l.kind = 'earn'")[0],
        "texts": one("SELECT count(*) FROM sms_messages s JOIN payments p ON p.id = s.payment_id "
                     "WHERE p.source = 'pull'")[0],
    }
