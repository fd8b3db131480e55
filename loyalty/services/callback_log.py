"""The callback log: bodies of known channels that did not become a payment, and the spool
that keeps a body when the database cannot.

Safaricom does not retry a C2B confirmation (DARAJA.md 4.6, 17), so a body we fail to
store is a payment lost until someone pulls the statement. Every error answer on the
callback path is therefore given only after its body is kept somewhere durable: a
`callback_log` row (the usual case), else — the database itself failing — one line
appended and fsynced to a local spool file, which `flask callbacks replay-spool` feeds
back once the database is back. Should the spool be full or unwritable, the body goes into
the error log line itself: never nowhere.

Strangers (unknown tokens) are not kept at all; beat deletes rows older than
CALLBACK_LOG_RETENTION_DAYS.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from flask import current_app

from loyalty.errors import NotFound
from loyalty.extensions import db
from loyalty.models import CallbackLog, CallbackOutcome
from loyalty.models.base import utcnow
from loyalty.services import async_results, ingest
from loyalty.services.ingest import BadCallback, ChannelRoute
from loyalty.unit_of_work import transactional, unit_of_work

log = logging.getLogger(__name__)

REFUSED_KEEP = 4096  # bytes of a refused source's body that are kept
PURGE_BATCH = 5000  # rows deleted per statement, so a large purge never holds long locks


@dataclass(frozen=True)
class Received:
    """One callback as it arrived, before anything about it was decided."""

    kind: str
    token: str
    body: bytes
    remote_addr: str | None
    body_bytes: int | None = None  # the size as sent, when only the start of it is here
    request_id: int | None = None  # /stk/<request_id>: the STK push it answers


def body_text(body: bytes) -> str:
    """The body as storable text: invalid UTF-8 replaced, NUL characters (which PostgreSQL
    text cannot hold) written as \\u0000."""
    return body.decode("utf-8", "replace").replace("\x00", "\\u0000")


@transactional
def keep(received: Received, *, outcome: CallbackOutcome, status_code: int,
         error: str | None = None, route: ChannelRoute | None = None) -> None:
    """A callback_log row for this body (in the caller's unit of work, if any)."""
    db.session.add(CallbackLog(
        kind=received.kind[:40], token=received.token, body=body_text(received.body),
        status_code=status_code, error=error, outcome=outcome,
        body_bytes=received.body_bytes or len(received.body), request_ref=_ref(received),
        remote_addr=(received.remote_addr or "")[:64] or None,
        merchant_id=route.merchant_id if route else None,
        channel_id=route.channel_id if route else None))


def _ref(received: Received) -> int | None:
    # The URL's id is anyone's number: one no row can have is not worth an INT overflow.
    ref = received.request_id
    return ref if ref is not None and 0 < ref < 2**31 else None


def keep_or_spool(received: Received, *, outcome: CallbackOutcome, status_code: int,
                  error: str, route: ChannelRoute | None = None) -> str:
    """Keep the body in the log or, when the database fails too, in the spool; returns
    where it went ("log", "spool" or "log line")."""
    try:
        keep(received, outcome=outcome, status_code=status_code, error=error, route=route)
        return "log"
    except sa.exc.SQLAlchemyError as exc:
        log.error("callback_log unavailable (%s); spooling the %s body", type(exc).__name__,
                  received.kind)
    return spool(received, error=error)


# --- the spool ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Spooled:
    received_at: str
    kind: str
    token: str
    remote_addr: str | None
    error: str
    body: str
    request_id: int | None = None


def spool(received: Received, *, error: str) -> str:
    """Append the body to today's spool file (fsynced); "spool", or "log line" when the
    spool is full or cannot be written and the body went into the error log instead."""
    entry = Spooled(received_at=utcnow().isoformat(), kind=received.kind, token=received.token,
                    remote_addr=received.remote_addr, error=error,
                    body=received.body.decode("utf-8", "replace"), request_id=received.request_id)
    line = (json.dumps(asdict(entry), separators=(",", ":")) + "\n").encode()
    folder = Path(current_app.config["CALLBACK_SPOOL_DIR"])
    try:
        if _spool_size(folder) + len(line) > current_app.config["CALLBACK_SPOOL_MAX_MB"] * 2**20:
            raise OSError("the spool is full (CALLBACK_SPOOL_MAX_MB)")
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"callbacks-{entry.received_at[:10]}.jsonl"
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, line)  # one write per line: appends never interleave
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as exc:
        # The last resort: the body itself, JSON-escaped on one line of the error log.
        log.error("callback %s not stored (%s; spool: %s): %s", received.kind, error, exc,
                  json.dumps(entry.body))
        return "log line"
    log.error("callback %s spooled to %s (%s); run `flask callbacks replay-spool`",
              received.kind, path, error)
    return "spool"


def _spool_size(folder: Path) -> int:
    return sum(path.stat().st_size for path in _spool_files(folder))


def _spool_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("callbacks-*.jsonl")) if folder.is_dir() else []


def spooled() -> Iterator[tuple[Path, list[Received]]]:
    """Each spool file with the callbacks in it, oldest file first."""
    for path in _spool_files(Path(current_app.config["CALLBACK_SPOOL_DIR"])):
        entries = [Spooled(**json.loads(line)) for line in path.read_text().splitlines()
                   if line.strip()]
        yield path, [Received(kind=entry.kind, token=entry.token, body=entry.body.encode(),
                              remote_addr=entry.remote_addr, request_id=entry.request_id)
                     for entry in entries]


def replay(received: Received) -> str:
    """One spooled callback handled as its view would have, now that the database is
    back: "stored" (a payment or STK result; idempotent), "kept" (in the callback log; an
    async result or timeout of any kind applied first, like its view does) or "stranger"
    (the token is no channel's: dropped)."""
    try:
        route = ingest.route_for(received.token)
    except NotFound:
        return "stranger"
    try:
        if received.kind == "c2b_confirmation":
            ingest.store_c2b(route, received.body)
            return "stored"
        if received.kind == "stk_result":
            stored = ingest.store_stk_result(route, received.body, received.request_id)
            if not stored.late:
                return "stored"
            keep(received, outcome=CallbackOutcome.DUPLICATE, status_code=200,
                 error=stored.late, route=route)
            return "kept"
        if received.kind.startswith(("result_", "timeout_")):
            # Safaricom never sends a result again: the spooled copy is the only one.
            timed_out, kind = received.kind.split("_", 1)
            apply = (async_results.apply_timeout if timed_out == "timeout"
                     else async_results.apply_result)
            note = apply(route, received.body, kind=kind, ref=received.request_id)
            keep(received, outcome=CallbackOutcome.RESULT, status_code=200, error=note,
                 route=route)
            return "kept"
    except BadCallback as exc:
        keep(received, outcome=CallbackOutcome.REJECTED, status_code=exc.status,
             error=exc.message, route=route)
        return "kept"
    keep(received, outcome=CallbackOutcome.STORE_FAILED, status_code=503,
         error="replayed from the spool; answered 503 when it came", route=route)
    return "kept"


# --- retention ----------------------------------------------------------------------------


def purge_older_than(days: int) -> int:
    """Worker: delete callback_log rows received more than `days` days ago, a batch per
    commit (its task says `owns_transaction=False`), so a long purge never holds one long
    transaction; returns how many went."""
    cutoff = utcnow() - timedelta(days=days)
    total = 0
    while True:
        with_ids = sa.select(CallbackLog.id).where(CallbackLog.received_at < cutoff) \
            .limit(PURGE_BATCH)
        with unit_of_work():
            deleted = db.session.execute(
                sa.delete(CallbackLog).where(CallbackLog.id.in_(with_ids)),
                execution_options={"synchronize_session": False}).rowcount
        total += deleted
        if deleted < PURGE_BATCH:
            return total
