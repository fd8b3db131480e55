"""What row-level security costs on the callback and crediting paths, CPU per payment.

    python -m bench.row_security              # 12 rounds (~3 min)
    python -m bench.row_security --rounds 4

`make bench`'s wrk figures swing by ±15% on a busy machine, more than the 5% this must
tell apart. CPU time moves less with other load: this runs both paths in-process, on
two databases seeded alike — "off": as shipped (the policies inert, DB_ROW_SECURITY=off);
"on": row security turned on (DB_ROW_SECURITY=on, the policies enabled) — each with its app connected as the platform's ordinary role (as in
production), in rounds that alternate which goes first, and counts the CPU of this
process and of the role's PostgreSQL backends per confirmation stored (the fast path,
`hooks/fast.py`, called as gunicorn would) and per payment credited
(`crediting.credit_waiting`, set-wise batches).
Writes bench/out/<timestamp>/row_security.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

from bench import seed as seeding
from bench.harness import BIN, ROOT, Db, Run, log, machine, pids_cpu, set_row_security
from bench.run import QUICK, Ctx, load_backlog, reset_payments

EAT_FORMAT = "%Y%m%d%H%M%S"


def backends_cpu(db: Db, role: str) -> float:
    """CPU seconds of the role's backends on this database (clock ticks: sum many runs)."""
    pids = [r[0] for r in db.all("SELECT pid FROM pg_stat_activity WHERE usename = %s "
                                 "AND datname = current_database()", (role,))]
    return pids_cpu(pids)


def build_app(run: Run, url: str, on: bool):
    from loyalty import create_app

    env = run.app_env(run.as_app(url), DB_ROW_SECURITY="on" if on else "off",
                      PUBLIC_BASE_URL="http://127.0.0.1:8000")
    overrides = {k: v for k, v in env.items()
                 if k in ("APP_ENV", "DATABASE_URL", "REDIS_URL", "REDIS_KEY_PREFIX",
                          "ENCRYPTION_KEY", "SECRET_KEY", "PUBLIC_BASE_URL", "SMS_BACKEND",
                          "DB_ROW_SECURITY")}
    return create_app(overrides)


def confirmations(app, channels: list[dict], payers: list[str], count: int, tag: str):
    """`count` confirmations through the WSGI stack (fast path once each token is cached);
    the CPU of the app call only (the request is built beforehand)."""
    from werkzeug.test import EnvironBuilder

    rng = random.Random(tag)
    requests = []
    for n in range(count):
        channel = rng.choice(channels)
        body = {"TransactionType": "Pay Bill", "TransID": f"{tag}{n:07d}",
                "TransTime": time.strftime(EAT_FORMAT), "TransAmount": "480.00",
                "BusinessShortCode": channel["shortcode"], "BillRefNumber": "VIP001",
                "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "",
                "MSISDN": rng.choice(payers), "FirstName": "Wanjiku", "MiddleName": "",
                "LastName": "Otieno"}
        requests.append(EnvironBuilder(path=f"/hooks/{channel['token']}/c2b/confirmation",
                                       method="POST", json=body).get_environ())
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    started = time.process_time()
    for environ in requests:
        for _ in app.wsgi_app(environ, start_response):
            pass
    spent = time.process_time() - started
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        raise RuntimeError(f"{len(bad)} confirmations failed: {bad[:3]}")
    return spent


def credit_all(app) -> tuple[int, float]:
    from loyalty.services import crediting

    taken, started = 0, time.process_time()
    with app.app_context():
        while True:
            batch = crediting.credit_waiting()
            if not batch:
                break
            taken += batch
    return taken, time.process_time() - started


@dataclass
class Side:
    """One database, with or without row security, and the app on it."""

    label: str
    ctx: Ctx
    db: Db
    app: object
    cpu: dict = field(default_factory=lambda: {"callback": [0.0, 0.0, 0], "credit": [0.0, 0.0, 0]})

    def add(self, path: str, app_cpu: float, pg_cpu: float, count: int) -> None:
        total = self.cpu[path]
        total[0] += app_cpu
        total[1] += pg_cpu
        total[2] += count

    def per_payment(self, path: str) -> dict:
        app_cpu, pg_cpu, count = self.cpu[path]
        return {"app_ms": round(1000 * app_cpu / count, 4), "postgres_ms": round(1000 * pg_cpu / count, 4),
                "total_ms": round(1000 * (app_cpu + pg_cpu) / count, 4), "payments": count}


def make_side(run: Run, label: str, on: bool) -> Side:
    url = run.scratch_database(f"rls_{label}")
    seed_file = run.out_dir / f"seed-{label}.json"
    subprocess.run([str(BIN / "python"), "-m", "bench.seed", "small", str(seed_file)],
                   cwd=ROOT, env=run.app_env(url), check=True, timeout=300)
    ctx = Ctx(run=run, settings=QUICK, deadline=time.monotonic() + 3600, db_url=url)
    ctx.seed = json.loads(seed_file.read_text())
    ctx.db = db = Db(url)
    set_row_security(url, on)
    reset_payments(ctx, history=20_000)
    return Side(label, ctx, db, build_app(run, url, on))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--confirmations", type=int, default=1000)
    parser.add_argument("--backlog", type=int, default=2000)
    args = parser.parse_args()
    out_dir = ROOT / "bench" / "out" / time.strftime("%Y%m%d-%H%M%S")
    run = Run(out_dir)
    results: dict = {"machine": machine(), "settings": vars(args), "rounds": []}
    payers = seeding.payers(2000)
    try:
        run.create_app_role()
        sides = [make_side(run, "off", False), make_side(run, "on", True)]
        for side in sides:  # warm up: routes cached, pools connected, statements prepared
            with side.app.app_context():
                confirmations(side.app, side.ctx.seed["channels"], payers, 300, "W" + side.label)
        for n in range(args.rounds):
            order = sides if n % 2 == 0 else sides[::-1]
            entry = {"order": [side.label for side in order]}
            for side in order:
                tag = f"{side.label[:2].upper()}{n:02d}"
                with side.app.app_context():
                    pg0 = backends_cpu(side.db, run.app_role)
                    app_cpu = confirmations(side.app, side.ctx.seed["channels"], payers,
                                            args.confirmations, tag)
                    pg_cpu = backends_cpu(side.db, run.app_role) - pg0
                side.add("callback", app_cpu, pg_cpu, args.confirmations)
                entry[f"callback_{side.label}_ms"] = round(1000 * (app_cpu + pg_cpu)
                                                           / args.confirmations, 4)
            for side in order:
                load_backlog(side.ctx, side.db, args.backlog, tag=f"K{n:02d}")
            for side in order:
                pg0 = backends_cpu(side.db, run.app_role)
                taken, credit_cpu = credit_all(side.app)
                credit_pg = backends_cpu(side.db, run.app_role) - pg0
                side.add("credit", credit_cpu, credit_pg, taken)
                entry[f"credit_{side.label}_ms"] = round(1000 * (credit_cpu + credit_pg)
                                                         / max(taken, 1), 4)
            entry["loadavg"] = os.getloadavg()[0]
            results["rounds"].append(entry)
            log(f"round {n + 1}: {entry}")
        summary = {}
        for path in ("callback", "credit"):
            off, on = (side.per_payment(path) for side in sides)
            paired = [r[f"{path}_on_ms"] / r[f"{path}_off_ms"] for r in results["rounds"]]
            summary[path] = {"off": off, "on": on,
                             "cost_total": f"{100 * (on['total_ms'] / off['total_ms'] - 1):+.1f}%",
                             "cost_median_of_rounds": f"{100 * (statistics.median(paired) - 1):+.1f}%"}
        results["summary"] = summary
        log("summary: " + json.dumps(summary, indent=1))
    finally:
        (out_dir / "row_security.json").write_text(json.dumps(results, indent=2, default=str))
        for side in locals().get("sides", []):
            dispose(side.app)
        run.close()
    return 0


def dispose(app) -> None:
    from loyalty.extensions import db as app_db

    with app.app_context():
        for engine in app_db.engines.values():
            engine.dispose()
        for engine in app.extensions.get("sql_alone_engines", {}).values():
            engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
