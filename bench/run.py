"""`make bench`: every benchmark, the platform and its bare baselines in the same run.

    python -m bench.run                      # everything (about 10 minutes)
    python -m bench.run --only ingest,credit # some of it (also: --only gateway)
    python -m bench.run --only experiments   # one row (its setup included)
    python -m bench.run --quick              # shorter runs, for trying the harness

Prints a table of ratios against the targets of issue 7 and writes the raw results to
bench/out/<timestamp>/results.json (with every process log and wrk output beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import seed as seeding
from bench.backtest import bench_backtest  # noqa: F401  (run by name, like the others)
from bench.experiment_results import bench_experiments  # noqa: F401  (run by name)
from bench.harness import (
    BIN,
    CREDITED_TWICE_SQL,
    ROOT,
    CpuMeter,
    Db,
    Run,
    ensure_wrk,
    free_port,
    group_members,
    http_json,
    log,
    machine,
    peak_rss_mb,
    procfile_command,
    wait_for,
    wait_http,
    wait_log,
)
from bench.reconcile import bench_reconcile  # noqa: F401  (run by name, like the others)

ALL = ("ingest", "credit", "pipeline", "scale", "reconcile", "backtest", "experiments")


@dataclass
class Settings:
    ingest_seconds: float = 10
    warmup_seconds: float = 3
    half_rate_seconds: float = 8
    connections: int = 64
    paced_connections: int = 16
    credit_backlog: int = 20_000
    pipeline_step_seconds: float = 10
    scale_merchants: int = 10_000
    scale_channels: int = 3
    scale_ledger_rows: int = 1_000_000
    scale_customers_per_merchant: int = 10
    scale_backlog: int = 10_000
    scale_rate_seconds: float = 6
    health_seconds: float = 10
    ingest_rounds: int = 2
    credit_rounds: int = 1
    pipeline_steps: int = 5
    pipeline_start: dict = field(default_factory=lambda: {"platform": 400, "naive": 250})
    pipeline_ceiling: dict = field(default_factory=lambda: {"platform": 1800, "naive": 800})
    scale_rate: float = 300
    history_payments: int = 50_000
    reconcile_rows: int = 100_000
    backtest_payments: int = 1_000_000
    backtest_customers: int = 50_000
    experiment_assignments: int = 100_000
    budget_seconds: float = 15 * 60


QUICK = Settings(ingest_seconds=8, warmup_seconds=2, half_rate_seconds=5, credit_backlog=5_000,
                 pipeline_step_seconds=6, pipeline_steps=3, scale_merchants=1_000,
                 scale_ledger_rows=100_000, scale_backlog=3_000, scale_rate_seconds=5,
                 health_seconds=8, ingest_rounds=1, reconcile_rows=10_000,
                 backtest_payments=100_000, backtest_customers=10_000,
                 experiment_assignments=20_000)


@dataclass
class Ctx:
    run: Run
    settings: Settings
    deadline: float
    db_url: str = ""
    db: Db | None = None
    seed: dict = field(default_factory=dict)
    tokens_file: Path | None = None
    payers_file: Path | None = None
    emulator_url: str = ""
    results: dict = field(default_factory=dict)
    rss: dict = field(default_factory=lambda: {"web": 0.0, "worker": 0.0, "worker_main": 0.0,
                                               "beat": 0.0})

    def left(self) -> float:
        return self.deadline - time.monotonic()


# --- stacks ------------------------------------------------------------------------------------


def platform_env(ctx: Ctx, db_url: str | None = None, *, as_app: bool = True,
                 **extra: str) -> dict[str, str]:
    """The platform's environment; its processes connect as the app's role (`as_app`),
    the seeding as the superuser that made the database."""
    port = extra.pop("PORT", "0")
    url = db_url or ctx.db_url
    return ctx.run.app_env(
        ctx.run.as_app(url) if as_app else url, PORT=port,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        DARAJA_SANDBOX_URL=f"{ctx.emulator_url}/_emulator/daraja",
        DB_ROW_SECURITY="on" if ctx.run.row_security else "off", **extra)


class Stack:
    """Web + worker (+ beat) of the platform or of the naive baseline, started and stopped
    together. The worker can be reniced (ingest: the web tier gets the CPU)."""

    def __init__(self, ctx: Ctx, kind: str, *, db_url: str | None = None, beat: bool = False,
                 worker: bool = True, web: bool = True, enqueue: bool = True, sms: bool = True,
                 worker_nice: int = 0, env_extra: dict | None = None,
                 watch: dict | None = None):
        self.ctx, self.kind = ctx, kind
        # Processes outside the stack whose CPU its meter reports too (the emulated gateway).
        self.watched = dict(watch or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: dict = {}
        db_url = db_url or ctx.db_url
        env = platform_env(ctx, db_url, PORT=str(self.port), **(env_extra or {}))
        if kind == "naive":
            first = ctx.seed["channels"][0]
            env.update(BASELINE_DATABASE_URL=db_url, BASELINE_ENQUEUE="1" if enqueue else "0",
                       BASELINE_MERCHANT_ID=str(first["merchant_id"]),
                       BASELINE_CHANNEL_ID=str(first["channel_id"]))
        self.env = env
        tag = f"{kind}-{int(time.time() * 1000) % 100000}"
        if web:
            args = procfile_command("web", env)
            if kind == "naive":
                args = [a if a != "wsgi:app" else "bench.baseline_app:app" for a in args]
            self.procs["web"] = ctx.run.start(f"{tag}-web", args, env)
        if worker:
            args = procfile_command("worker", env)
            if kind == "naive":
                args = _replace_after(args, "-A", "bench.baseline_app.celery")
                args = _replace_after(args, "--queues", "naive")
            self.procs["worker"] = ctx.run.start(f"{tag}-worker", args, env)
            if kind == "platform" and sms:  # the Procfile's `sms` worker sends the texts
                self.procs["sms"] = ctx.run.start(f"{tag}-sms", procfile_command("sms", env), env)
        if beat:
            args = procfile_command("beat", env) + [
                "--schedule", str(ctx.run.out_dir / f"{tag}-beat-schedule")]
            self.procs["beat"] = ctx.run.start(f"{tag}-beat", args, env)
        if web:
            path = "/healthz" if kind == "platform" else "/nothing"
            wait_http_any(self.url + path, self.procs["web"])
        if worker:
            wait_log(self.procs["worker"], " ready.", timeout=60)
            if "sms" in self.procs:
                wait_log(self.procs["sms"], " ready.", timeout=60)
            if worker_nice:
                renice_workers(self, worker_nice)
        if beat:
            wait_log(self.procs["beat"], "beat: Starting", timeout=60)

    def cpu(self, dbs=()) -> CpuMeter:
        return CpuMeter({**self.procs, **self.watched}, dbs)

    def record_rss(self) -> dict:
        """Peak RSS (VmHWM) of one web worker and one worker pool process, the largest."""
        out = {}
        if "web" in self.procs:
            master = self.procs["web"].popen.pid
            kids = [pid for pid, ppid in group_members(master) if pid != master]
            out["web"] = max((peak_rss_mb(pid) for pid in kids), default=0.0)
        if "worker" in self.procs:
            main = self.procs["worker"].popen.pid
            kids = [pid for pid, ppid in group_members(main) if pid != main]
            out["worker"] = max((peak_rss_mb(pid) for pid in kids), default=0.0)
            out["worker_main"] = peak_rss_mb(main)
        if "beat" in self.procs:
            out["beat"] = peak_rss_mb(self.procs["beat"].popen.pid)
        if self.kind == "platform":
            for key, value in out.items():
                self.ctx.rss[key] = max(self.ctx.rss.get(key, 0.0), value)
        return {k: round(v, 1) for k, v in out.items()}

    def stop(self) -> None:
        for process in self.procs.values():
            process.stop()

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _replace_after(args: list[str], flag: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(flag) + 1] = value
    return args


def wait_http_any(url: str, process, timeout: float = 60) -> None:
    """Wait until the server answers anything (a 404 is an answer)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not answer within {timeout}s")


def renice(pgid: int, value: int) -> None:
    """Lower (or restore) the CPU priority of a process group. Linux schedules sessions as
    autogroups (sched_autogroup_enabled=1 here), and every stack process runs in a session of
    its own, so the autogroup's nice is what counts; each process's nice is set too."""
    try:
        Path(f"/proc/{pgid}/autogroup").write_text(str(value))
    except OSError:
        pass
    for pid, _ in group_members(pgid):
        try:
            os.setpriority(os.PRIO_PROCESS, pid, value)
        except OSError:
            pass


# --- setup ---------------------------------------------------------------------------------------


def setup(ctx: Ctx) -> None:
    ctx.db_url = ctx.run.scratch_database("main")
    ctx.db = Db(ctx.db_url)
    ctx.run.stack.callback(ctx.db.close)
    # The emulator: Daraja's OAuth for the token-cache count (its own process, loopback).
    port = free_port()
    ctx.emulator_url = f"http://127.0.0.1:{port}"
    env = ctx.run.app_env(ctx.db_url, APP_ENV="testing", DARAJA_EMULATOR="1",
                          REDIS_KEY_PREFIX=ctx.run.prefix + "emulator:")
    # Threads: the pipeline's gateway row holds up to SMS_CONCURRENCY calls per worker
    # process open at once, each 200 ms, and a sync worker would answer them one by one.
    emulator = ctx.run.start("emulator", [str(BIN / "gunicorn"), "--workers", "1", "--threads",
                                          "160", "--bind", f"127.0.0.1:{port}", "wsgi:app"], env)
    wait_http(ctx.emulator_url + "/healthz", emulator)
    out = ctx.run.out_dir / "seed.json"
    import subprocess

    subprocess.run([str(BIN / "python"), "-m", "bench.seed", "small", str(out)], cwd=ROOT,
                   env=platform_env(ctx, as_app=False), check=True, timeout=300)
    ctx.seed = json.loads(out.read_text())
    for channel in ctx.seed["channels"]:
        http_json(ctx.emulator_url + "/_emulator/control/apps", {
            "consumer_key": channel["consumer_key"], "consumer_secret": "bench-secret",
            "products": ["c2b_v1", "c2b_v2", "stk", "balance", "status", "pull"],
            "shortcodes": [channel["shortcode"]], "environment": "sandbox"})
    ctx.tokens_file = ctx.run.out_dir / "tokens.txt"
    ctx.tokens_file.write_text("".join(f"{c['token']} {c['shortcode']}\n"
                                       for c in ctx.seed["channels"]))
    ctx.payers_file = ctx.run.out_dir / "payers.txt"
    ctx.payers_file.write_text("\n".join(seeding.payers(2000)) + "\n")


def oauth_calls(ctx: Ctx) -> dict[str, int]:
    state = http_json(ctx.emulator_url + "/_emulator/state?limit=1")
    return {k: int(v) for k, v in (state.get("oauth_calls") or {}).items()}


def reset_oauth(ctx: Ctx) -> None:
    # Only the counter: the apps stay registered.
    import redis

    redis.Redis.from_url(ctx.run.app_env("")["REDIS_URL"]).delete(
        ctx.run.prefix + "emulator:emulator:oauth_calls")


def received(ctx: Ctx, db: Db | None = None) -> int:
    return (db or ctx.db).one("SELECT count(*) FROM payments WHERE status = 'received'")[0]


def wait_drained(ctx: Ctx, timeout: float, db: Db | None = None) -> float:
    started = time.monotonic()
    wait_for(lambda: received(ctx, db) == 0, timeout, interval=0.2, what="the backlog to drain")
    return time.monotonic() - started


def reset_payments(ctx: Ctx, db: Db | None = None, history: int | None = None) -> None:
    """Between runs: no payment, ledger, balance, customer or SMS from the previous one,
    then the history any running platform has (see load_history) and fresh statistics."""
    db = db or ctx.db
    db.run("TRUNCATE payments, ledger_entries, balances, sms_messages, customers, redemptions "
           "RESTART IDENTITY CASCADE")
    load_history(ctx, db, ctx.settings.history_payments if history is None else history)
    db.run("VACUUM ANALYZE payments, customers, ledger_entries, balances, sms_messages")
    db.run("CHECKPOINT")  # the load's writes flushed now, not during the next measurement


def load_history(ctx: Ctx, db: Db, count: int) -> None:
    """`count` payments credited two days ago, and every returning payer already a customer
    of every merchant. Not for show: on empty tables PostgreSQL plans the foreign-key checks
    of ledger and outbox rows (against payments and customers) as sequential scans, keeps
    those plans in each connection while the tables grow and only replans after an ANALYZE
    (autovacuum's, within a minute or two). A platform that has been running has neither
    empty tables nor those plans; every stack runs on the same history."""
    if not count:
        return
    _stage(ctx, db)
    db.run("""
        INSERT INTO customers (merchant_id, phone_hash, sms_opt_out, created_at, updated_at)
        SELECT DISTINCT p.merchant_id, y.h, false, now() - interval '30 days',
               now() - interval '30 days'
        FROM bench_pairs p CROSS JOIN bench_payers y""")
    db.run("""
        INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_type, trans_time,
            amount, bill_ref, msisdn, msisdn_form, first_name, last_name, points, status, attempts,
            payload, credited_at, created_at, updated_at)
        SELECT p.merchant_id, p.channel_id, 'H' || lpad(to_hex(g), 9, '0'), 'c2b', 'Pay Bill',
               now() - interval '2 days', 480, 'INV-1001', y.h, 'hashed', 'Wanjiku', 'Otieno',
               48, 'credited', 1, json_build_object('TransID', 'H' || lpad(to_hex(g), 9, '0')),
               now() - interval '2 days', now() - interval '2 days', now() - interval '2 days'
        FROM generate_series(1, %(n)s) g
        JOIN bench_pairs p ON p.k = (g::bigint * 7919) %% %(np)s
        JOIN bench_payers y ON y.k = (g::bigint * 104729) %% %(ny)s""",
           {"n": count, "np": len(ctx.seed["channels"]), "ny": 2000})
    # Their receipts, sent: a running platform's outbox holds its history too, and on an
    # empty `sms_messages` (analyzed empty) PostgreSQL claims waiting texts with a bitmap
    # scan of the whole queued-texts index, dead entries included (7–20 ms a claim after a
    # minute of traffic, measured), where it otherwise walks the index in order.
    db.run("""
        INSERT INTO sms_messages (merchant_id, customer_id, payment_id, purpose, recipient,
            recipient_form, body, encoding, segments, status, attempts, provider_message_id,
            sent_at, cost, created_at, updated_at)
        SELECT p.merchant_id, c.id, p.id, 'payment_receipt', p.msisdn, 'hashed',
               'Hi Wanjiku! You earned 48 points. Total: 480 points.', 'gsm', 1, 'sent', 1,
               'ATXid_' || p.id, p.created_at, 'KES 0.8000', p.created_at, p.created_at
        FROM payments p JOIN customers c ON c.merchant_id = p.merchant_id
                                        AND c.phone_hash = p.msisdn""")


def _stage(ctx: Ctx, db: Db, pairs: list[tuple[int, int]] | None = None) -> tuple[int, int]:
    """Temp tables of (merchant, channel) pairs and returning payers for generate_series."""
    pairs = pairs or [(c["merchant_id"], c["channel_id"]) for c in ctx.seed["channels"]]
    payers = seeding.payers(2000)
    db.run("CREATE TEMP TABLE IF NOT EXISTS bench_pairs (k int, merchant_id int, channel_id int)")
    db.run("TRUNCATE bench_pairs")
    with db.conn.cursor() as cur:
        with cur.copy("COPY bench_pairs FROM STDIN") as copy:
            for k, (m, c) in enumerate(pairs):
                copy.write_row((k, m, c))
    db.run("CREATE TEMP TABLE IF NOT EXISTS bench_payers (k int, h text)")
    db.run("TRUNCATE bench_payers")
    with db.conn.cursor() as cur:
        with cur.copy("COPY bench_payers FROM STDIN") as copy:
            for k, h in enumerate(payers):
                copy.write_row((k, h))
    return len(pairs), len(payers)


# --- 1. ingest ------------------------------------------------------------------------------------


def wrk(ctx: Ctx, url: str, seconds: float, **kw):
    """Max-rate runs use 64 connections (the issue's figure). Paced runs (`rate=`) use
    fewer: wrk connects first and waits for the request's slot, and an idle connection
    holds a gunicorn thread until its first request arrives, which no real Safaricom
    client does; 16 connections cover a paced rate's concurrency many times over."""
    default = ctx.settings.paced_connections if kw.get("rate") else ctx.settings.connections
    return ctx.run.wrk(url, tokens_file=ctx.tokens_file, payers_file=ctx.payers_file,
                       seconds=seconds, connections=kw.pop("connections", default), **kw)


def renice_workers(stack: Stack, nice: int) -> None:
    """The CPU priority of a stack's worker processes (crediting and SMS)."""
    for name in ("worker", "sms"):
        if name in stack.procs:
            renice(stack.procs[name].popen.pid, nice)


def pause(stack: Stack, paused: bool) -> None:
    """Stop (SIGSTOP) or resume (SIGCONT) a stack's worker processes (crediting and SMS)."""
    for name in ("worker", "sms"):
        if name in stack.procs:
            os.killpg(stack.procs[name].popen.pid, signal.SIGSTOP if paused else signal.SIGCONT)


def bench_ingest(ctx: Ctx) -> None:
    """The callback tier of each stack, rounds interleaving the three stacks so the other
    load on the machine hits them alike (ratios within a round, then the median).

    Each stack runs its worker, which consumes its messages (nudges or tasks) before and
    after the measured window. During the window the worker is paused (SIGSTOP), for all
    three alike: the window measures the web tier, not how much crediting work each
    design gets done meanwhile (that is the pipeline benchmark; a second, shorter window
    with the worker crediting at nice 19 is reported beside it). The nudge path costs
    the same either way: the nudge key expires by itself after 250 ms."""
    s = ctx.settings
    res = ctx.results.setdefault("ingest", {"rounds": []})
    stacks = [("platform", "platform", True), ("naive", "naive", True), ("ceiling", "naive", False)]
    for rnd in range(s.ingest_rounds):
        last = rnd == s.ingest_rounds - 1
        order = stacks if rnd % 2 == 0 else stacks[::-1]
        entries = {}
        for name, kind, enqueue in order:
            reset_payments(ctx)
            reset_oauth(ctx)
            log(f"ingest: {name} (round {rnd + 1})")
            with Stack(ctx, kind, enqueue=enqueue, beat=kind == "platform",
                       env_extra={"HEALTH_CHECK_INTERVAL": "5"}) as stack:
                url = stack.url + "/hooks/x/c2b/confirmation"
                wrk(ctx, url, s.warmup_seconds)
                drains = enqueue  # the ceiling stores payments and hands none over
                if drains:
                    wait_drained(ctx, timeout=60)
                pause(stack, True)
                try:
                    with stack.cpu([ctx.db]) as meter:
                        result = wrk(ctx, url, s.ingest_seconds)
                finally:
                    pause(stack, False)
                entry = {"max": result.as_dict(),
                         "cpu_cores": meter.report({"wrk": result.cpu_seconds})}
                log(f"  {name}: {result.rps:.0f}/s p50 {result.p50_ms:.1f} ms p99 "
                    f"{result.p99_ms:.1f} ms errors {result.errors or 'none'}; cores "
                    f"{entry['cpu_cores']}")
                if drains:
                    waiting = received(ctx)
                    drain = wait_drained(ctx, timeout=max(30.0, min(240.0, ctx.left() - 300)))
                    entry["backlog_after"] = waiting
                    entry["backlog_drain_seconds"] = round(drain, 1)
                    entry["backlog_credit_rate"] = round(waiting / drain) if drain else None
                    log(f"  the burst's {waiting} payments credited {drain:.1f}s after it")
                if rnd == 0 and name != "ceiling":
                    renice_workers(stack, 19)
                    with stack.cpu([ctx.db]) as meter:
                        busy = wrk(ctx, url, s.half_rate_seconds)
                    renice_workers(stack, 0)
                    entry["crediting_meanwhile"] = dict(
                        busy.as_dict(), cpu_cores=meter.report({"wrk": busy.cpu_seconds}))
                    log(f"  with its worker crediting meanwhile (nice 19): {busy.rps:.0f}/s "
                        f"p99 {busy.p99_ms:.1f} ms; cores {entry['crediting_meanwhile']['cpu_cores']}")
                    wait_drained(ctx, timeout=120)
                if name == "platform" and last:
                    maxes = [r["platform"]["max"]["rps"] for r in res["rounds"]] + [result.rps]
                    half_rate = statistics.median(maxes) / 2
                    half = wrk(ctx, url, s.half_rate_seconds, rate=half_rate)
                    entry["half_rate"] = dict(half.as_dict(), offered=round(half_rate))
                    log(f"  half rate ({half_rate:.0f}/s offered, worker crediting): "
                        f"{half.rps:.0f}/s p50 {half.p50_ms:.1f} ms p99 {half.p99_ms:.1f} ms")
                    vurl = stack.url + "/hooks/x/c2b/validation"
                    val = wrk(ctx, vurl, s.half_rate_seconds, kind="validation", rate=half_rate)
                    entry["validation_half_rate"] = dict(val.as_dict(), offered=round(half_rate))
                    log(f"  validation at {half_rate:.0f}/s: p50 {val.p50_ms:.1f} ms p99 "
                        f"{val.p99_ms:.1f} ms")
                    wait_drained(ctx, timeout=120)
                if name == "platform":
                    entry["oauth_calls"] = oauth_calls(ctx)
                entry["rss_mb"] = stack.record_rss()
                entries[name] = entry
        entries["ratio_naive"] = round(entries["platform"]["max"]["rps"] / entries["naive"]["max"]["rps"], 2)
        entries["ratio_ceiling"] = round(entries["platform"]["max"]["rps"] / entries["ceiling"]["max"]["rps"], 2)
        res["rounds"].append(entries)
    rounds = res["rounds"]
    res["ratio_naive"] = statistics.median(r["ratio_naive"] for r in rounds)
    res["ratio_ceiling"] = statistics.median(r["ratio_ceiling"] for r in rounds)
    for name in ("platform", "naive", "ceiling"):
        res[name + "_rps"] = round(statistics.median(r[name]["max"]["rps"] for r in rounds))
        res[name + "_p50_ms"] = round(statistics.median(r[name]["max"]["p50_ms"] for r in rounds), 1)
        res[name + "_p99_ms"] = round(statistics.median(r[name]["max"]["p99_ms"] for r in rounds), 1)
    first = rounds[0]
    res["crediting_meanwhile"] = {
        name: round(first[name]["crediting_meanwhile"]["rps"]) for name in ("platform", "naive")}
    res["crediting_meanwhile"]["ratio"] = round(
        res["crediting_meanwhile"]["platform"] / res["crediting_meanwhile"]["naive"], 2)
    res["half_rate"] = rounds[-1]["platform"]["half_rate"]
    res["validation"] = rounds[-1]["platform"]["validation_half_rate"]
    res["oauth_calls"] = [r["platform"].get("oauth_calls", {}) for r in rounds]


# --- 2. credit ------------------------------------------------------------------------------------


def load_backlog(ctx: Ctx, db: Db, count: int, *, merchants: list[tuple[int, int]] | None = None,
                 tag: str = "C") -> None:
    """`count` received payments, spread over (merchant_id, channel_id) pairs, payers from the
    returning-payer pool, a mix of VIP and default references — as the callbacks store them."""
    n_pairs, n_payers = _stage(ctx, db, merchants)
    db.run("""
        INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_type, trans_time,
            amount, bill_ref, msisdn, msisdn_form, first_name, last_name, points, status, attempts,
            payload, created_at, updated_at)
        SELECT p.merchant_id, p.channel_id, %(tag)s || lpad(to_hex(g), 9, '0'), 'c2b', 'Pay Bill',
               now(), (ARRAY[50, 100, 250, 480, 1200, 5000])[1 + g %% 6],
               (ARRAY['VIP001', 'INV-1001', 'ACC7', 'vip9', ''])[1 + g %% 5], y.h, 'hashed',
               'Wanjiku', 'Otieno', 0, 'received', 0,
               json_build_object('TransID', %(tag)s || lpad(to_hex(g), 9, '0'), 'MSISDN', y.h),
               now(), now()
        FROM generate_series(1, %(n)s) g
        JOIN bench_pairs p ON p.k = (g::bigint * 7919) %% %(np)s
        JOIN bench_payers y ON y.k = (g::bigint * 104729) %% %(ny)s""",
           {"n": count, "tag": tag, "np": n_pairs, "ny": n_payers})
    db.run("ANALYZE payments")


_publisher = None


def publisher(ctx: Ctx):
    """A Celery client with the platform's own settings (queues, key prefix), for the bench
    to publish what beat or the callback path would."""
    global _publisher
    if _publisher is None:
        from celery import Celery

        from bench.harness import REDIS_URL
        from loyalty.config import celery_settings

        _publisher = Celery("bench")
        _publisher.config_from_object(celery_settings(REDIS_URL, "production", ctx.run.prefix))
        ctx.run.stack.callback(_publisher.close)
    return _publisher


def publish(ctx: Ctx, name: str, queue: str, args=()) -> None:
    publisher(ctx).send_task(name, args=list(args), queue=queue, retry=False)


def credit_span(db: Db, since: str | None = None) -> tuple[int, float]:
    """Payments credited (since a DB timestamp) and their rate over first→last credited_at."""
    # (the history's payments were credited two days ago)
    where = ("credited_at > now() - interval '1 hour'"
             + (" AND credited_at >= %(t)s" if since else ""))
    row = db.one(f"SELECT count(*), extract(epoch FROM max(credited_at) - min(credited_at)) "
                 f"FROM payments WHERE {where}", {"t": since})
    count, span = row[0], float(row[1] or 0)
    return count, (count / span if span else 0.0)


def credit_platform(ctx: Ctx, db: Db, db_url: str, backlog: int, *, beat: bool,
                    label: str, workers: int = 1) -> dict:
    """Drain `backlog` received payments (already loaded) with `workers` platform worker
    processes (each the Procfile's worker line), which share the backlog by SKIP LOCKED."""
    import contextlib

    with contextlib.ExitStack() as more, \
            Stack(ctx, "platform", db_url=db_url, web=False, beat=beat,
                  env_extra={"HEALTH_CHECK_INTERVAL": "5"}) as stack:
        for _ in range(workers - 1):
            extra = more.enter_context(Stack(ctx, "platform", db_url=db_url, web=False, sms=False))
            stack.procs[f"worker{len(stack.procs)}"] = extra.procs["worker"]
        with stack.cpu([db]) as meter:
            publish(ctx, "payments.credit_waiting", "callbacks")
            wait_for(lambda: received(ctx, db) == 0, timeout=min(300.0, max(60.0, ctx.left())),
                     interval=0.2, what="the backlog to be credited")
        count, rate = credit_span(db)
        rows = db.one("SELECT (SELECT count(*) FROM ledger_entries WHERE payment_id IS NOT NULL), "
                      "(SELECT count(*) FROM sms_messages WHERE payment_id IS NOT NULL), "
                      "(SELECT count(*) FROM balances), "
                      "(SELECT count(*) FROM payments WHERE status = 'failed'), "
                      f"({CREDITED_TWICE_SQL})")
        # The SMS outbox is sent by the `sms` worker (console backend): how long it trails.
        started = time.monotonic()
        try:
            wait_for(lambda: db.one("SELECT count(*) FROM sms_messages WHERE status = 'queued'")[0]
                     == 0, timeout=min(120.0, max(10.0, ctx.left() - 200)), interval=0.5,
                     what="the SMS outbox to drain")
            sms_drain = round(time.monotonic() - started, 1)
        except TimeoutError:
            sms_drain = None
        entry = {"payments": backlog, "credited": count, "rate": round(rate, 1),
                 "wall_seconds": round(meter.seconds, 1),
                 "ledger_rows": rows[0], "sms_rows": rows[1], "balances": rows[2],
                 "failed": rows[3], "credited_twice": rows[4], "sms_drained_after_s": sms_drain,
                 "cpu_cores": meter.report(), "rss_mb": stack.record_rss()}
        log(f"  {label}: {count} credited at {rate:.0f}/s (ledger {rows[0]}, sms {rows[1]}, "
            f"failed {rows[3]}); SMS outbox sent {sms_drain}s later; cpu {entry['cpu_cores']}")
        return entry


def bench_credit(ctx: Ctx) -> None:
    s = ctx.settings
    res = ctx.results.setdefault("credit", {})
    rounds = []
    for attempt in range(s.credit_rounds):
        # Platform: a backlog of received payments, one worker (Procfile: concurrency 2),
        # one nudge; beat runs (health checks every 5 s: the token cache under load).
        reset_payments(ctx)
        reset_oauth(ctx)
        load_backlog(ctx, ctx.db, s.credit_backlog)
        log(f"credit: platform, backlog {s.credit_backlog} (round {attempt + 1})")
        platform = credit_platform(ctx, ctx.db, ctx.db_url, s.credit_backlog, beat=True,
                                   label="platform")
        platform["oauth_calls"] = oauth_calls(ctx)
        # Baseline: the same backlog, one naive.credit task per payment queued up front,
        # then one naive worker (same Procfile worker line) drains them.
        reset_payments(ctx)
        load_backlog(ctx, ctx.db, s.credit_backlog)
        log(f"credit: naive, {s.credit_backlog} tasks")
        ids = [r[0] for r in ctx.db.all("SELECT id FROM payments WHERE status = 'received' "
                                                  "ORDER BY id")]
        for payment_id in ids:
            publish(ctx, "naive.credit", "naive", [payment_id])
        with Stack(ctx, "naive", web=False) as stack:
            with stack.cpu([ctx.db]) as meter:
                wait_for(lambda: received(ctx) == 0, timeout=min(300.0, max(60.0, ctx.left())),
                         interval=0.2, what="the naive tasks to drain")
            count, rate = credit_span(ctx.db)
            naive = {"tasks": len(ids), "credited": count, "rate": round(rate, 1),
                     "cpu_cores": meter.report(), "rss_mb": stack.record_rss()}
        log(f"  naive: {count} tasks at {rate:.0f}/s; cpu {naive['cpu_cores']}")
        rounds.append({"platform": platform, "naive": naive,
                       "ratio": round(platform["rate"] / naive["rate"], 2) if naive["rate"] else None})
    # Two worker processes on the same backlog: how crediting scales with processes on
    # this machine, and that SKIP LOCKED shares the batches without crediting one twice.
    reset_payments(ctx)
    load_backlog(ctx, ctx.db, s.credit_backlog)
    log(f"credit: platform, two worker processes, backlog {s.credit_backlog}")
    two = credit_platform(ctx, ctx.db, ctx.db_url, s.credit_backlog, beat=False,
                          label="two workers", workers=2)
    one = statistics.median(r["platform"]["rate"] for r in rounds)
    res["two_workers"] = {**two, "ratio_to_one": round(two["rate"] / one, 2) if one else None}
    res["rounds"] = rounds
    res["ratio"] = statistics.median(r["ratio"] for r in rounds if r["ratio"])
    res["platform_rate"] = statistics.median(r["platform"]["rate"] for r in rounds)
    res["naive_rate"] = statistics.median(r["naive"]["rate"] for r in rounds)


# --- 3. the whole pipeline ------------------------------------------------------------------


def db_now(db: Db) -> str:
    return str(db.one("SELECT clock_timestamp()")[0])


def pipeline_step(ctx: Ctx, stack: Stack, rate: float, seconds: float) -> dict:
    """Offer `rate` confirmations/s for `seconds`; did the web take them all, and did the
    worker credit them as fast as they came (the backlog not growing)?"""
    db = ctx.db
    before_backlog = received(ctx)
    before_texts = texts_waiting(db)
    t0 = db_now(db)
    with stack.cpu([db]) as meter:
        result = wrk(ctx, stack.url + "/hooks/x/c2b/confirmation", seconds, rate=rate)
    t1 = db_now(db)
    after_backlog = received(ctx)
    after_texts = texts_waiting(db)
    sent = db.one("SELECT count(*) FROM sms_messages WHERE sent_at >= %s AND sent_at < %s",
                  (t0, t1))[0]
    stored = db.one("SELECT count(*) FROM payments WHERE created_at >= %s AND created_at < %s",
                    (t0, t1))[0]
    credited = db.one("SELECT count(*) FROM payments WHERE credited_at >= %s AND credited_at < %s",
                      (t0, t1))[0]
    # Every payment credited as it comes, and (the platform) its text sent as well: the
    # texts waiting to go out must not pile up either (the naive stack sends none).
    ok = (result.rps >= 0.97 * rate and not result.errors
          and after_backlog <= max(before_backlog, 0) + max(200, 0.5 * rate)
          and credited >= 0.95 * stored
          and after_texts <= before_texts + max(200, 0.5 * rate))
    step = {"offered": round(rate), "ingested": round(result.rps), "p99_ms": round(result.p99_ms, 1),
            "credited_per_s": round(credited / result.seconds), "backlog_before": before_backlog,
            "backlog_after": after_backlog, "texts_sent_per_s": round(sent / result.seconds),
            "texts_waiting_before": before_texts, "texts_waiting_after": after_texts,
            "errors": result.errors, "sustained": ok,
            "cpu_cores": meter.report({"wrk": result.cpu_seconds})}
    log(f"  {rate:.0f}/s offered: took {result.rps:.0f}/s, credited {step['credited_per_s']}/s, "
        f"backlog {before_backlog} -> {after_backlog}, texts sent {step['texts_sent_per_s']}/s "
        f"(waiting {before_texts} -> {after_texts}), p99 {result.p99_ms:.0f} ms: "
        f"{'sustained' if ok else 'NOT sustained'} (others {step['cpu_cores']['others']} cores)")
    return step


def texts_waiting(db: Db) -> int:
    """Receipts queued and not yet taken by a sender. A text a sender has claimed is being
    sent: at 200 ms a call about 0.2 s of traffic is always in flight (and counted as sent
    once answered), a standing stock rather than a growing backlog; a sender claims at most
    its window and one chunk ahead, and gives back what it did not send."""
    return db.one("SELECT count(*) FROM sms_messages WHERE status = 'queued' "
                  "AND (claimed_until IS NULL OR claimed_until < clock_timestamp())")[0]


def find_sustained(ctx: Ctx, kind: str, lo: float, hi: float, steps: int,
                   env_extra: dict | None = None, watch: dict | None = None) -> dict:
    """Bisect the highest steady rate both tiers keep up with (web, worker and beat on the
    same two cores, normal priority)."""
    s = ctx.settings
    reset_payments(ctx)
    tried = []
    best = 0.0
    with Stack(ctx, kind, beat=kind == "platform", env_extra=env_extra, watch=watch) as stack:
        wrk(ctx, stack.url + "/hooks/x/c2b/confirmation", s.warmup_seconds, rate=lo)
        wait_drained(ctx, 60)
        for _ in range(steps):
            if ctx.left() < 120:
                break
            rate = (lo + hi) / 2 if best else lo
            step = pipeline_step(ctx, stack, rate, s.pipeline_step_seconds)
            tried.append(step)
            if step["sustained"]:
                best = max(best, rate)
                lo = rate
            else:
                hi = rate
            try:
                wait_drained(ctx, timeout=45)
                wait_for(lambda: texts_waiting(ctx.db) == 0, 45, interval=0.2,
                         what="the texts to be sent")
            except TimeoutError:
                log("  the backlog did not drain within 45 s: stopping the search")
                break
            if not step["sustained"] and not best:
                lo = lo / 2  # even the start was too fast: halve
        rss = stack.record_rss()
    return {"sustained": round(best), "steps": tried, "rss_mb": rss}


def bench_pipeline(ctx: Ctx) -> None:
    s = ctx.settings
    res = ctx.results.setdefault("pipeline", {})
    log("pipeline: platform (web + worker + beat)")
    res["platform"] = find_sustained(ctx, "platform", s.pipeline_start["platform"],
                                     s.pipeline_ceiling["platform"], s.pipeline_steps)
    log("pipeline: naive (handler (a) + one task per payment)")
    res["naive"] = find_sustained(ctx, "naive", s.pipeline_start["naive"],
                                  s.pipeline_ceiling["naive"], s.pipeline_steps)
    n = res["naive"]["sustained"]
    res["ratio"] = round(res["platform"]["sustained"] / n, 2) if n else None
    log("pipeline: platform texting through Africa's Talking's API at 200 ms a call (emulated)")
    res["gateway_200ms"] = pipeline_at_gateway_speed(ctx, latency_ms=200)
    console = res["platform"]["sustained"]
    res["gateway_ratio"] = (round(res["gateway_200ms"]["sustained"] / console, 2)
                            if console else None)
    # A single payment at rest: confirmation to credited (the relay must not add seconds).
    reset_payments(ctx)
    with Stack(ctx, "platform") as stack:
        res["single_payment_latency_ms"] = single_payment_latency(ctx, stack.url, 3)
    log(f"  single payments at rest credited in {res['single_payment_latency_ms']} ms")


def bench_gateway(ctx: Ctx) -> None:
    """`--only gateway`: the 200 ms gateway row alone (part of `pipeline` in a full run),
    for working on the sender without the other pipeline searches."""
    res = ctx.results.setdefault("pipeline", {})
    res["gateway_200ms"] = pipeline_at_gateway_speed(ctx, latency_ms=200)


GATEWAY_WINDOW = 100  # SMS_CONCURRENCY of the gateway row's `sms` pool processes


def pipeline_at_gateway_speed(ctx: Ctx, *, latency_ms: float) -> dict:
    """The platform's pipeline with every receipt sent through the Africa's Talking client
    to the emulator, which answers each call after `latency_ms` (DESIGN.md 15: sustained
    rate >= 0.9x the console backend's, every text sent).

    The calls go to the emulator's gateway-speed server (`flask emulator sms-gateway`, one
    asyncio loop on the emulator's state): the real gateway answers from Africa's Talking's
    machines, and the emulator's Flask views would spend ~2 ms of these 2 cores per text
    (half a core at 250 texts/s in run H), measuring the emulator rather than the sender.
    Its CPU is reported as `gateway`, apart from `others`."""
    s = ctx.settings
    settings_url = ctx.emulator_url + "/_emulator/control/settings"
    http_json(settings_url, {"sms_latency_ms": latency_ms})
    port = free_port()
    env = ctx.run.app_env(ctx.db_url, APP_ENV="testing",
                          REDIS_KEY_PREFIX=ctx.run.prefix + "emulator:")
    gateway = ctx.run.start("sms-gateway", [str(BIN / "flask"), "--app", "wsgi:app", "emulator",
                                            "sms-gateway", "--port", str(port)], env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", gateway)
        return find_sustained(ctx, "platform", s.pipeline_start["platform"],
                              s.pipeline_ceiling["platform"], s.pipeline_steps, env_extra={
                                  "SMS_BACKEND": "africastalking", "AT_USERNAME": "sandbox",
                                  "AT_API_KEY": "bench-at-key",
                                  "AT_BASE_URL": f"http://127.0.0.1:{port}",
                                  # Sized as docs/OPERATIONS.md says: texts/s x latency in
                                  # flight (two pool processes x 100: up to ~1,000/s at 200 ms).
                                  "SMS_CONCURRENCY": str(GATEWAY_WINDOW)},
                              watch={"gateway": gateway})
    finally:
        gateway.stop()
        http_json(settings_url, {"sms_latency_ms": 0})


def single_payment_latency(ctx: Ctx, base: str, count: int) -> list[float]:
    import urllib.request

    channel = ctx.seed["channels"][0]
    payer = ctx.payers_file.read_text().split()[0]
    out = []
    for n in range(count):
        trans_id = f"LONE{n:06d}"
        body = json.dumps({"TransactionType": "Pay Bill", "TransID": trans_id,
                           "TransTime": "20261126093015", "TransAmount": "100.00",
                           "BusinessShortCode": channel["shortcode"], "BillRefNumber": "VIP1",
                           "MSISDN": payer, "FirstName": "Wanjiku"}).encode()
        req = urllib.request.Request(f"{base}/hooks/{channel['token']}/c2b/confirmation",
                                     data=body, headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=5).read()
        wait_for(lambda t=trans_id: ctx.db.one("SELECT status FROM payments WHERE trans_id = %s",
                                               (t,))[0] != "received", timeout=20, interval=0.02,
                 what="a single payment to be credited")
        ms = ctx.db.one("SELECT extract(epoch FROM credited_at - created_at) * 1000 FROM payments "
                        "WHERE trans_id = %s", (trans_id,))[0]
        out.append(round(float(ms or 0), 1))
        time.sleep(1.0)
    return out


# --- 4. scale ----------------------------------------------------------------------------------


def scale_measure(ctx: Ctx, label: str, db: Db, db_url: str, tokens_file: Path,
                  pairs: list[tuple[int, int]], rate: float) -> dict:
    s = ctx.settings
    out = {}
    # Callback p99 at a fixed rate, tokens picked at random from every channel.
    with Stack(ctx, "platform", db_url=db_url, worker_nice=19) as stack:
        url = stack.url + "/hooks/x/c2b/confirmation"
        ctx.run.wrk(url, tokens_file=tokens_file, payers_file=ctx.payers_file,
                    seconds=s.warmup_seconds, rate=rate, connections=s.paced_connections)
        runs = []
        # Three windows and their median: one stall of the shared disk (a few hundred ms
        # now and then, on either database) moves one window's p99, not the result.
        for _ in range(3):
            r = ctx.run.wrk(url, tokens_file=tokens_file, payers_file=ctx.payers_file,
                            seconds=s.scale_rate_seconds, rate=rate,
                            connections=s.paced_connections)
            runs.append(r)
        out["callback"] = {"offered": round(rate), "rps": round(statistics.median(r.rps for r in runs)),
                           "p50_ms": round(statistics.median(r.p50_ms for r in runs), 2),
                           "p99_ms": round(statistics.median(r.p99_ms for r in runs), 2),
                           "p99_runs": [round(r.p99_ms, 2) for r in runs]}
        renice_workers(stack, 0)
        wait_for(lambda: received(ctx, db) == 0, timeout=120, interval=0.2, what="drain")
    # Crediting rate: a backlog spread over the merchants.
    db.run("DELETE FROM payments WHERE status = 'received'")
    t0 = db_now(db)
    load_backlog(ctx, db, s.scale_backlog, merchants=pairs, tag="K" + label[0].upper())
    with Stack(ctx, "platform", db_url=db_url, web=False) as stack:
        publish(ctx, "payments.credit_waiting", "callbacks")
        wait_for(lambda: received(ctx, db) == 0, timeout=300, interval=0.2, what="credit")
    count, rate_ = credit_span(db, since=t0)
    out["credit"] = {"payments": count, "rate": round(rate_, 1)}
    log(f"  {label}: callback p99 {out['callback']['p99_ms']} ms at {rate:.0f}/s; "
        f"credited {count} at {rate_:.0f}/s")
    return out


def bench_scale(ctx: Ctx) -> None:
    s = ctx.settings
    res = ctx.results.setdefault("scale", {})
    rate = s.scale_rate
    small_pairs = [(c["merchant_id"], c["channel_id"]) for c in ctx.seed["channels"]]
    log("scale: 10 merchants")
    reset_payments(ctx)
    res["small"] = scale_measure(ctx, "small", ctx.db, ctx.db_url, ctx.tokens_file, small_pairs,
                                 rate)
    log(f"scale: loading {s.scale_merchants} merchants x {s.scale_channels} channels, "
        f"{s.scale_ledger_rows} ledger rows")
    url = ctx.run.scratch_database("scale")
    import subprocess

    seed_out = ctx.run.out_dir / "seed-scale.json"
    subprocess.run([str(BIN / "python"), "-m", "bench.seed", "small", str(seed_out)], cwd=ROOT,
                   env=platform_env(ctx, url, as_app=False), check=True, timeout=300)
    load = seeding.seed_large(url, merchants=s.scale_merchants, channels=s.scale_channels,
                              customers_per_merchant=s.scale_customers_per_merchant,
                              ledger_rows=s.scale_ledger_rows, log=log)
    res["load"] = load
    log(f"  loaded {load['counts']} in {load['seconds']}s")
    db = Db(url)
    ctx.run.stack.callback(db.close)
    tokens = ctx.run.out_dir / "tokens-scale.txt"
    rows = db.all("SELECT callback_token, shortcode, merchant_id, id FROM mpesa_channels "
                  "WHERE is_active")
    tokens.write_text("".join(f"{t} {sc}\n" for t, sc, _, _ in rows))
    # The backlog: 10 merchants paid, as in the small run (the same mix of new and known
    # payers), but found among 10,000 merchants, 30,000 channels, 1M payments and ledger
    # rows: what differs is only the size of what every lookup searches.
    import random

    primaries = db.all("SELECT merchant_id, id FROM mpesa_channels WHERE is_primary "
                       "AND merchant_id > 10")
    pairs = random.Random(3).sample([tuple(r) for r in primaries], 10)
    res["large"] = scale_measure(ctx, "large", db, url, tokens, pairs, rate)
    small, large = res["small"], res["large"]
    res["callback_p99_ratio"] = round(large["callback"]["p99_ms"] / small["callback"]["p99_ms"], 2)
    res["credit_rate_ratio"] = round(large["credit"]["rate"] / small["credit"]["rate"], 2)
    res["health"] = health_fanout(ctx, db, url)


def health_fanout(ctx: Ctx, db: Db, url: str) -> dict:
    """Beat's health check over every active channel: how it fans out, and how fast a
    worker gets through it (bounded: the run stops after a fixed time)."""
    import redis

    from bench.harness import REDIS_URL

    s = ctx.settings
    total = db.one("SELECT count(*) FROM mpesa_channels WHERE is_active")[0]
    client = redis.Redis.from_url(REDIS_URL)
    queue = ctx.run.prefix + "celery:daraja"
    client.delete(queue)
    reset_oauth(ctx)
    # The template credentials of the scale channels belong to the first seeded channel.
    http_json(ctx.emulator_url + "/_emulator/control/apps", {
        "consumer_key": ctx.seed["channels"][0]["consumer_key"], "consumer_secret": "bench-secret",
        "products": ["c2b_v1", "c2b_v2", "stk", "balance", "status", "pull"], "shortcodes": ["174379"],
        "environment": "sandbox"})
    with Stack(ctx, "platform", db_url=url, web=False,
               env_extra={"WORKER_CONCURRENCY": "2"}) as stack:
        started = time.monotonic()
        publish(ctx, "channels.check_all", "daraja")
        # The fan-out task lists the channels and queues batches; the same worker then
        # works through the batches.
        checked = lambda: db.one("SELECT count(*) FROM mpesa_channels "  # noqa: E731
                                 "WHERE health_checked_at IS NOT NULL")[0]
        try:
            wait_for(lambda: checked() >= total, timeout=s.health_seconds, interval=0.5,
                     what="every channel checked")
        except TimeoutError:
            pass
        seconds = time.monotonic() - started
        done = checked()
        pending = client.llen(queue)
        log_text = stack.procs["worker"].log()
    fanout_line = [ln for ln in log_text.splitlines() if "channels.check_all" in ln and "succeeded" in ln]
    batches = log_text.count("channels.check_health_batch[") // 2 or None
    calls = oauth_calls(ctx)
    entry = {"channels": total, "checked": done, "seconds": round(seconds, 1),
             "checks_per_s": round(done / seconds, 1), "messages_left": pending,
             "batch_size": 50, "expected_batches": -(-total // 50),
             "fanout_log": fanout_line[-1][-160:] if fanout_line else None,
             "batches_seen_in_log": batches, "oauth_calls": calls,
             "projected_full_minutes": round(total / max(done / seconds, 1e-9) / 60, 1)}
    log(f"  health: {done}/{total} channels checked in {seconds:.0f}s ({entry['checks_per_s']}/s, "
        f"{entry['expected_batches']} batches of 50); OAuth calls {calls}")
    return entry


def _fmt(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def report(ctx: Ctx) -> str:
    """The table `make bench` prints: each measure, the platform, the baseline, the ratio,
    the target and whether it is met."""
    r = ctx.results
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(name, platform, baseline, ratio, target, ok):
        rows.append((name, platform, baseline, ratio, target,
                     "-" if ok is None else ("MET" if ok else "below")))

    ing = r.get("ingest")
    if ing and ing.get("rounds"):
        row("ingest confirmations/s vs naive (a)", f"{ing['platform_rps']}",
            f"{ing['naive_rps']}", f"{ing['ratio_naive']:.2f}x", ">= 1.2x",
            ing["ratio_naive"] >= 1.2)
        row("ingest confirmations/s vs ceiling (b)", f"{ing['platform_rps']}",
            f"{ing['ceiling_rps']}", f"{ing['ratio_ceiling']:.2f}x", ">= 0.7x",
            ing["ratio_ceiling"] >= 0.7)
        row("ingest p50 / p99 ms at max (platform)",
            f"{ing['platform_p50_ms']} / {ing['platform_p99_ms']}",
            f"{ing['naive_p50_ms']} / {ing['naive_p99_ms']}", "", "", None)
        half = ing.get("half_rate") or {}
        row(f"callback p99 ms at half max ({half.get('offered')}/s)",
            f"{_fmt(half.get('p99_ms'), '.1f')}", "", "", "< 50 ms",
            half.get("p99_ms") is not None and half["p99_ms"] < 50 and
            half.get("rps", 0) >= 0.97 * half.get("offered", 0))
        val = ing.get("validation") or {}
        row("validation p99 ms (same rate)", f"{_fmt(val.get('p99_ms'), '.1f')}", "", "",
            "well under 2 s", val.get("p99_ms") is not None and val["p99_ms"] < 2000)
        cm = ing.get("crediting_meanwhile") or {}
        if cm:
            row("ingest/s with the worker crediting (nice 19)", f"{cm['platform']}",
                f"{cm['naive']}", f"{cm['ratio']:.2f}x", "(info)", None)
    cr = r.get("credit")
    if cr and cr.get("rounds"):
        row("credited payments/s, 1 worker (c=2)", f"{cr['platform_rate']:.0f}",
            f"{cr['naive_rate']:.0f}", f"{cr['ratio']:.2f}x", ">= 1.0x", cr["ratio"] >= 1.0)
        two = cr.get("two_workers")
        if two:
            row("credited payments/s, 2 workers vs 1 (SKIP LOCKED)", f"{two['rate']:.0f}",
                f"{cr['platform_rate']:.0f}", f"{_fmt(two['ratio_to_one'], '.2f')}x",
                "(info) none twice", two["credited_twice"] == 0
                and two["credited"] == two["payments"])
    pl = r.get("pipeline")
    if pl and pl.get("platform"):
        row("pipeline sustained payments/s", f"{pl['platform']['sustained']}",
            f"{pl['naive']['sustained']}", f"{_fmt(pl.get('ratio'), '.2f')}x", ">= 2x",
            (pl.get("ratio") or 0) >= 2)
        gw = pl.get("gateway_200ms")
        if gw:
            row("pipeline, SMS gateway at 200 ms vs console", f"{gw['sustained']}",
                f"{pl['platform']['sustained']}", f"{_fmt(pl.get('gateway_ratio'), '.2f')}x",
                ">= 0.9x", (pl.get("gateway_ratio") or 0) >= 0.9)
        lat = pl.get("single_payment_latency_ms") or []
        if lat:
            row("single payment at rest: stored -> credited ms", f"max {max(lat):.0f}", "", "",
                "~1 s", max(lat) <= 1500)
    sc = r.get("scale")
    if sc and sc.get("large"):
        row("scale: callback p99 ms, 10 vs 10k merchants",
            f"{sc['large']['callback']['p99_ms']}", f"{sc['small']['callback']['p99_ms']}",
            f"{sc['callback_p99_ratio']:.2f}x", "<= 1.10x", sc["callback_p99_ratio"] <= 1.10)
        row("scale: credited/s, 10 vs 10k merchants", f"{sc['large']['credit']['rate']:.0f}",
            f"{sc['small']['credit']['rate']:.0f}", f"{sc['credit_rate_ratio']:.2f}x",
            ">= 0.90x", sc["credit_rate_ratio"] >= 0.90)
        h = sc.get("health") or {}
        if h:
            row(f"health fan-out: {h['channels']} channels", f"{h['expected_batches']} tasks x 50",
                "", "", "no task does all", True)
            row("health checks/s (bounded run)", f"{h['checks_per_s']}",
                f"{h['checked']} in {h['seconds']}s", "", "", None)
    rc = r.get("reconcile")
    if rc and rc.get("first"):
        row(f"reconcile: 48 h Pull, {rc['rows']:,} rows, {rc['missing']:,} missing",
            f"{rc['first']['recovered']:,} recovered, {rc['credited_twice']} twice",
            f"{rc['rows_per_s']} rows/s", f"cpu {rc['worker_cpu_s']} s",
            "all, once, < 60 s", rc["ok"] and rc["worker_cpu_s"] < 60)
    bt = r.get("backtest")
    if bt and bt.get("backtest_s") is not None:
        row(f"back-test over {bt['payments']:,} payments vs a full scan of them",
            f"{bt['backtest_s']:.2f} s", f"{bt['scan_s']:.2f} s", f"{_fmt(bt['ratio'])}x",
            "< 2 s", bt["ok"])
    ex = r.get("experiments")
    if ex and ex.get("results_s") is not None:
        row(f"experiment results over {ex['assignments']:,} assignments vs a scan of them",
            f"{ex['results_s']:.2f} s", f"{ex['scan_s']:.2f} s", f"{_fmt(ex['ratio'])}x",
            "< 1 s", ex["ok"])
    calls = []
    for entry in (ing or {}).get("oauth_calls", []) or []:
        calls.extend(entry.values())
    for rnd in (cr or {}).get("rounds", []) or []:
        calls.extend((rnd["platform"].get("oauth_calls") or {}).values())
    if calls or ing or cr:
        row("OAuth calls per channel per run (max)", f"{max(calls) if calls else 0}", "", "",
            "<= 1", (max(calls) if calls else 0) <= 1)
    rss = r.get("rss_mb") or {}
    if rss:
        row("peak RSS MiB: web worker / worker child", f"{rss.get('web', 0):.0f} / "
            f"{rss.get('worker', 0):.0f}", "", "", "(info)", None)
    head = ("measure", "platform", "baseline", "ratio", "target", "")
    widths = [max(len(str(x[i])) for x in [head] + rows) for i in range(6)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
             for line in [head] + rows]
    m = r.get("machine", {})
    lines.append("")
    lines.append(f"machine: {m.get('cores')} cores ({m.get('cpu')}), {m.get('memory_gib')} GiB, "
                 f"PostgreSQL {m.get('postgresql')}, {m.get('redis', '')[:24]}; a fixed Python "
                 f"loop {m.get('python_loop_ms')} ms; wrk shares the cores; total "
                 f"{r.get('seconds')} s")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(ALL))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--row-security", choices=("on", "off"), default="off",
                        help="the platform without PostgreSQL row-level security (the default, "
                             "as shipped) or with it: DB_ROW_SECURITY=on, policies enabled")
    args = parser.parse_args()
    only = [x.strip() for x in args.only.split(",") if x.strip()]
    settings = QUICK if args.quick else Settings()
    if set(only) & {"ingest", "pipeline", "gateway", "scale"}:  # the load generator of those three
        ensure_wrk()
    out_dir = ROOT / "bench" / "out" / time.strftime("%Y%m%d-%H%M%S")
    run = Run(out_dir, row_security=args.row_security == "on")
    run.create_app_role()

    def stop(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)
    ctx = Ctx(run=run, settings=settings, deadline=time.monotonic() + settings.budget_seconds)
    started = time.monotonic()
    ok = True
    try:
        ctx.results["machine"] = machine()
        ctx.results["row_security"] = args.row_security
        log(f"machine: {ctx.results['machine']['cores']} cores, {ctx.results['machine']['cpu']}; "
            f"logs in {out_dir.relative_to(ROOT)}")
        setup(ctx)
        for name in only:
            if ctx.left() < 60:
                log(f"skipping {name}: the time budget is spent")
                continue
            globals()[f"bench_{name}"](ctx)
    except BaseException as exc:
        ok = False
        log(f"FAILED: {type(exc).__name__}: {exc}")
        if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            import traceback

            traceback.print_exc()
    finally:
        ctx.results["rss_mb"] = {k: round(v, 1) for k, v in ctx.rss.items()}
        ctx.results["seconds"] = round(time.monotonic() - started, 1)
        (out_dir / "results.json").write_text(json.dumps(ctx.results, indent=2, default=str))
        run.close()
        try:
            table = report(ctx)
            (out_dir / "table.txt").write_text(table + "\n")
            print("\n" + table)
        except Exception as exc:  # a partial run still leaves results.json
            log(f"no table: {type(exc).__name__}: {exc}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
