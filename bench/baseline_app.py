"""The bare baselines the platform is measured against (bench only, never deployed).

* `app` — a minimal Flask app: parse the C2B JSON, INSERT one row into the same
  `payments` table with ON CONFLICT DO NOTHING, commit, and (unless BASELINE_ENQUEUE=0)
  enqueue one Celery task per new payment. With BASELINE_ENQUEUE=1 this is the *naive*
  stack (a); with BASELINE_ENQUEUE=0 it is the *ceiling* (b).
* `celery` — the naive worker: `naive.credit(payment_id)` does one UPDATE per message.

Same table, indexes, gunicorn command line and Celery settings (acks_late, prefetch 1,
JSON, Redis broker, the same key prefix scheme) as the platform, so a ratio compares the
platform's code, not its configuration. psycopg 3, one connection per thread.

    BASELINE_DATABASE_URL   postgresql://… (the bench's scratch database)
    REDIS_URL, REDIS_KEY_PREFIX
    BASELINE_MERCHANT_ID, BASELINE_CHANNEL_ID   the owner of every row
    BASELINE_ENQUEUE        1 (naive, default) or 0 (ceiling)
"""

from __future__ import annotations

import json
import os
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import psycopg
from celery import Celery
from flask import Flask, jsonify, request

from loyalty.config import celery_settings

EAT = timezone(timedelta(hours=3))
QUEUE = "naive"

DATABASE_URL = os.environ.get("BASELINE_DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("REDIS_KEY_PREFIX", "loyalty-bench:")
MERCHANT_ID = int(os.environ.get("BASELINE_MERCHANT_ID", "1"))
CHANNEL_ID = int(os.environ.get("BASELINE_CHANNEL_ID", "1"))
ENQUEUE = os.environ.get("BASELINE_ENQUEUE", "1") == "1"

celery = Celery("naive")
celery.config_from_object(celery_settings(REDIS_URL, "production", PREFIX))

_local = threading.local()


def connection() -> psycopg.Connection:
    """One connection per thread (gunicorn's gthread workers), opened after the fork."""
    conn = getattr(_local, "connection", None)
    if conn is None or conn.closed:
        conn = _local.connection = psycopg.connect(DATABASE_URL)
    return conn


INSERT = """
INSERT INTO payments (merchant_id, channel_id, trans_id, source, trans_type, trans_time, amount,
                      bill_ref, msisdn, msisdn_form, first_name, middle_name, last_name, points,
                      status, attempts, payload, created_at, updated_at)
VALUES (%s, %s, %s, 'c2b', %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 'received', 0, %s, now(), now())
ON CONFLICT (merchant_id, trans_id) DO NOTHING
RETURNING id
"""

app = Flask(__name__)


@app.post("/hooks/<token>/c2b/confirmation")
def confirmation(token: str):
    body = json.loads(request.get_data())
    when = datetime.strptime(body["TransTime"], "%Y%m%d%H%M%S").replace(tzinfo=EAT)
    conn = connection()
    with conn.transaction():
        new_id = conn.execute(INSERT, (
            MERCHANT_ID, CHANNEL_ID, body["TransID"], body.get("TransactionType"), when,
            Decimal(str(body["TransAmount"])), body.get("BillRefNumber") or None,
            body.get("MSISDN") or None, "hashed", body.get("FirstName") or None,
            body.get("MiddleName") or None, body.get("LastName") or None, json.dumps(body),
        )).fetchone()
    if ENQUEUE and new_id is not None:
        celery.send_task("naive.credit", args=[new_id[0]], queue=QUEUE, retry=False)
    return jsonify({"ResultCode": 0, "ResultDesc": "Accepted"})


@celery.task(name="naive.credit", acks_late=True)
def credit(payment_id: int) -> None:
    """One UPDATE per message: the least a per-payment crediting task can do."""
    conn = connection()
    conn.execute("UPDATE payments SET status = 'credited', credited_at = now() "
                 "WHERE id = %s AND status = 'received'", (payment_id,))
    conn.commit()
