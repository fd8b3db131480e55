"""Bench data: merchants, programs and active channels, made through the platform's own
services (so passwords, keys and encrypted credentials are real), and bulk data for the
scale run made with generate_series.

    python -m bench.seed small OUT.json --merchants 10 --channels 3
        (environment: the app's DATABASE_URL, ENCRYPTION_KEY, … as bench.harness sets them)

Writes {"channels": [{"token", "shortcode", "channel_id", "merchant_id", "consumer_key"}],
"payers": [...hashed MSISDNs...]} to OUT.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time

import psycopg

SHORTCODE = "174379"  # the public sandbox PayBill: shared by every sandbox channel
VIP = {"code": "vip", "name": "VIP", "multiplier": 2}
MAPPING = {"default": "loyalty", "VIP*": "vip"}


def payers(count: int, seed: int = 7) -> list[str]:
    """Hashed MSISDNs of `count` distinct Kenyan payers (a returning customer base)."""
    rng = random.Random(seed)
    numbers = {f"2547{rng.randrange(10**8):08d}" for _ in range(count * 2)}
    return [hashlib.sha256(n.encode()).hexdigest() for n in sorted(numbers)[:count]]


def consumer_key(merchant: int, channel: int) -> str:
    return f"bench-key-{merchant:05d}-{channel}"


def seed_small(merchants: int, channels: int) -> dict:
    from loyalty import create_app
    from loyalty.extensions import db
    from loyalty.models import ChannelType, Environment
    from loyalty.services import channels as channel_service
    from loyalty.services import merchants as merchant_service
    from loyalty.services import programs as program_service
    from loyalty.tenancy import tenant_context

    app = create_app()
    out = []
    with app.app_context():
        for m in range(1, merchants + 1):
            registration = merchant_service.register_merchant(
                business_name=f"Bench Shop {m}", owner_name="Bench Owner",
                email=f"bench-{m}@bench.example", phone="254712345678",
                business_type="RETAIL", password="bench password 123")
            merchant_id = registration.merchant.id
            with tenant_context(merchant_id):
                program_service.create_program(dict(VIP))
                for c in range(1, channels + 1):
                    channel = channel_service.create_channel({
                        "name": f"Till {c}", "shortcode": SHORTCODE,
                        "channel_type": ChannelType.PAYBILL, "environment": Environment.SANDBOX,
                        "consumer_key": consumer_key(m, c), "consumer_secret": "bench-secret",
                        "account_mapping": dict(MAPPING)})
                    out.append({"channel_id": channel.id, "merchant_id": merchant_id,
                                "token": channel.callback_token, "shortcode": SHORTCODE,
                                "consumer_key": consumer_key(m, c)})
        url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
        db.engine.dispose()
    activate_all(url)
    return {"channels": out}


def activate_all(url: str) -> None:
    """As if verification and URL registration had succeeded (the onboarding flow itself
    is covered by the e2e tests, not measured here)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE mpesa_channels SET status = 'active', is_active = true, "
                     "verification_state = 'done', urls_state = 'done', verified_at = now(), "
                     "urls_registered_at = now()")


def seed_large(url: str, *, merchants: int, channels: int, customers_per_merchant: int,
               ledger_rows: int, log=print) -> dict:
    """Bulk rows beside the small seed: `merchants` more merchants with their default and
    VIP programs, `channels` active channels each (copies of an existing channel, so
    their credentials decrypt), customers, credited payments and one ledger row per
    payment. Returns counts and the seconds it took."""
    started = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        base = conn.execute("SELECT coalesce(max(id), 0) FROM merchants").fetchone()[0]
        step = time.monotonic()
        conn.execute("""
            INSERT INTO merchants (id, public_id, business_name, owner_name, email, phone,
                                   business_type, password_hash, is_active, created_at,
                                   updated_at)
            SELECT %(base)s + g, substr(md5('scale-' || g), 1, 16), 'Scale Shop ' || g,
                   'Owner', 'scale-' || g || '@bench.example', '254712345678', 'RETAIL', 'x',
                   true, now(), now()
            FROM generate_series(1, %(n)s) g""", {"base": base, "n": merchants})
        conn.execute("SELECT setval(pg_get_serial_sequence('merchants', 'id'), "
                     "(SELECT max(id) FROM merchants))")
        # Programs and channels are copies of the small seed's first merchant's rows, so a
        # column added by a later migration comes along with its real value (hand-written
        # column lists broke the scale run at every NOT NULL column added since).
        first = conn.execute("SELECT min(id) FROM merchants").fetchone()[0]
        cols = _columns(conn, "loyalty_programs", exclude={"id", "merchant_id"})
        conn.execute(f"""
            INSERT INTO loyalty_programs (merchant_id, {", ".join(cols)})
            SELECT m.id, {", ".join("p." + c for c in cols)}
            FROM merchants m CROSS JOIN (SELECT * FROM loyalty_programs
                                         WHERE merchant_id = %(first)s) p
            WHERE m.id > %(base)s""", {"base": base, "first": first})
        log(f"  merchants and programs: {time.monotonic() - step:.1f}s")
        step = time.monotonic()
        overrides = {
            "name": "'Till ' || c", "is_primary": "c = 1", "is_active": "true",
            "status": "'active'", "account_mapping": """'{"default": "loyalty", "VIP*": "vip"}'""",
            "callback_token": "md5(random()::text || m.id || '-' || c)",
            "previous_callback_token": "NULL", "previous_token_expires_at": "NULL",
            "health_state": "'unknown'", "created_at": "now()", "updated_at": "now()"}
        cols = _columns(conn, "mpesa_channels", exclude={"id", "merchant_id"})
        conn.execute(f"""
            INSERT INTO mpesa_channels (merchant_id, {", ".join(cols)})
            SELECT m.id, {", ".join(overrides.get(c, "t." + c) for c in cols)}
            FROM merchants m CROSS JOIN generate_series(1, %(c)s) c
                 CROSS JOIN (SELECT * FROM mpesa_channels WHERE merchant_id = %(first)s
                             ORDER BY id LIMIT 1) t
            WHERE m.id > %(base)s""", {"base": base, "c": channels, "first": first})
        log(f"  channels: {time.monotonic() - step:.1f}s")
        step = time.monotonic()
        conn.execute("""
            INSERT INTO customers (merchant_id, phone_hash, first_name, sms_opt_out,
                                   created_at, updated_at)
            SELECT m.id, encode(sha256(('2547' || lpad((m.id * 1000 + k)::text, 8, '0'))::bytea), 'hex'),
                   'Customer', false, now(), now()
            FROM merchants m CROSS JOIN generate_series(1, %(k)s) k
            WHERE m.id > %(base)s""", {"base": base, "k": customers_per_merchant})
        conn.execute("""
            INSERT INTO balances (merchant_id, customer_id, program_id, points, lifetime_points,
                                  stamps, rewards_earned)
            SELECT c.merchant_id, c.id, p.id, 0, 0, 0, 0
            FROM customers c JOIN loyalty_programs p
              ON p.merchant_id = c.merchant_id AND p.code = 'loyalty'
            WHERE c.merchant_id > %(base)s""", {"base": base})
        log(f"  customers and balances: {time.monotonic() - step:.1f}s")
        step = time.monotonic()
        # Credited payments, spread over every customer, and their earn entries.
        conn.execute("""
            CREATE TEMP TABLE bench_cust AS
            SELECT row_number() OVER (ORDER BY c.id) - 1 AS k, c.id, c.merchant_id, ch.id AS channel_id,
                   p.id AS program_id
            FROM customers c
            JOIN mpesa_channels ch ON ch.merchant_id = c.merchant_id AND ch.is_primary
            JOIN loyalty_programs p ON p.merchant_id = c.merchant_id AND p.code = 'loyalty'
            WHERE c.merchant_id > %(base)s""", {"base": base})
        ncust = conn.execute("SELECT count(*) FROM bench_cust").fetchone()[0]
        conn.execute("""
            INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_type, trans_time,
                amount, bill_ref, msisdn, msisdn_form, customer_id, program_id, points, status,
                attempts, credited_at, payload, created_at, updated_at)
            SELECT c.merchant_id, c.channel_id, 'S' || lpad(to_hex(g), 9, '0'), 'c2b', 'Pay Bill',
                   now() - (g || ' seconds')::interval, 1000, 'ACC', NULL, 'hashed', c.id,
                   c.program_id, 10, 'credited', 1, now(), '{}', now(), now()
            FROM generate_series(1, %(n)s) g JOIN bench_cust c ON c.k = g %% %(ncust)s""",
                     {"n": ledger_rows, "ncust": ncust})
        log(f"  payments: {time.monotonic() - step:.1f}s")
        step = time.monotonic()
        conn.execute("""
            INSERT INTO ledger_entries (merchant_id, customer_id, program_id, kind, points, stamps,
                                        remaining, payment_id, description, created_at)
            SELECT merchant_id, customer_id, program_id, 'earn', 10, 0, 10, id,
                   'Payment ' || trans_id, created_at
            FROM payments WHERE trans_id LIKE 'S%%' AND status = 'credited'""")
        conn.execute("""
            UPDATE balances b SET points = b.points + s.p, lifetime_points = b.lifetime_points + s.p
            FROM (SELECT customer_id, program_id, sum(points) AS p FROM ledger_entries
                  GROUP BY customer_id, program_id) s
            WHERE b.customer_id = s.customer_id AND b.program_id = s.program_id""")
        log(f"  ledger: {time.monotonic() - step:.1f}s")
        step = time.monotonic()
        conn.execute("VACUUM ANALYZE")
        # Two million rows wrote gigabytes of WAL: a checkpoint now, not in the middle of
        # the measurement that follows (its writes stalled commits for hundreds of ms).
        conn.execute("CHECKPOINT")
        log(f"  vacuum analyze, checkpoint: {time.monotonic() - step:.1f}s")
        counts = dict(conn.execute("""
            SELECT 'merchants', count(*) FROM merchants UNION ALL
            SELECT 'channels', count(*) FROM mpesa_channels UNION ALL
            SELECT 'customers', count(*) FROM customers UNION ALL
            SELECT 'payments', count(*) FROM payments UNION ALL
            SELECT 'ledger_entries', count(*) FROM ledger_entries""").fetchall())
    return {"counts": counts, "seconds": round(time.monotonic() - started, 1)}


def _columns(conn, table: str, *, exclude: set[str]) -> list[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name = %s "
                        "ORDER BY ordinal_position", (table,)).fetchall()
    return [r[0] for r in rows if r[0] not in exclude]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["small"])
    parser.add_argument("out")
    parser.add_argument("--merchants", type=int, default=10)
    parser.add_argument("--channels", type=int, default=3)
    args = parser.parse_args()
    data = seed_small(args.merchants, args.channels)
    with open(args.out, "w") as f:
        json.dump(data, f)


if __name__ == "__main__":
    main()
