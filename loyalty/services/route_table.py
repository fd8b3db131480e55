"""Every channel's route, held by each callback process (services/ingest.py asks it first).

With tens of thousands of channels most confirmations are for a channel this process has
not seen in the last ROUTE_CACHE_SECONDS — each channel is paid now and then — so a cache
filled by the callbacks themselves misses on most of them, and each miss is a read on the
callback's path: at 30,030 channels that put the callback p99 at 1.3–1.9× the 30-channel
figure, all of it the misses (bench/README.md, scale). Instead each process holds every
channel's routing columns and answers from them, refreshed in the background before they
are ROUTE_CACHE_SECONDS old: no route is older than the per-token cache's would be, and
none costs a read on the callback's path.

What a refresh costs is what it must not cost the callbacks (measured at 30,030 channels):
- Reading every channel each time took 150–400 ms of Python; a thread that busy makes the
  process's other threads wait for the GIL at every socket read, and the callbacks of
  those windows had a p99 of 45–100 ms. So the channels are kept in buckets of ids, each
  with a digest PostgreSQL computes of its routing columns (`db.channels.ROUTE_DIGESTS`):
  a refresh is one small query, and only the buckets whose digest moved are read again.
  (SQLite, the embedded default, reads every channel: it holds few.)
- Routes are flat tuples of strings, numbers and a time, which the garbage collector
  stops tracking; 30k route objects made each full collection walk them. And while the
  rows of a read are alive the collector waits, so that they are not promoted into a
  full collection (120–200 ms with the GIL held). The caller builds the route of the one
  token it needs.

Up to ROUTE_TABLE_MAX channels; past that (or when it is 0) the table stays empty and the
per-token cache answers as before. A token the table does not hold — a channel added
since the last refresh, a stranger — is looked up by the caller, as before.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Callable, Iterator

from loyalty.db import channels as channel_statements
from loyalty.db.alone import execute_alone
from loyalty.extensions import db
from loyalty.models.base import utcnow
from loyalty.tenancy import all_merchants

log = logging.getLogger(__name__)

# Past ROUTE_TABLE_MAX channels, how long before looking again whether they still are.
TOO_MANY_RECHECK_SECONDS = 300.0
# A table is refreshed once this share of its freshness has gone, so that a busy process
# does not find it stale (and fall back to reads) while the refresh runs.
REFRESH_AT = 0.7


class RouteTable:
    """Routes by token, each a flat tuple whose last item is the end of its grace (a
    rotated-out token) or None, kept by bucket of channel ids with each bucket's digest.
    Answers only while fresh; says when it is due to be refreshed."""

    def __init__(self) -> None:
        self._routes: dict[str, tuple] = {}
        self._buckets: dict[int, tuple[str | None, tuple[str, ...]]] = {}
        self._fresh_until = 0.0
        self._due_at = 0.0
        self._loading = False
        self._lock = threading.Lock()
        self.ever_loaded = False

    def get(self, token: str, now: float) -> tuple | None:
        if now >= self._fresh_until:
            return None
        entry = self._routes.get(token)
        if entry is None:
            return None
        grace_ends: datetime | None = entry[-1]
        if grace_ends is not None and grace_ends <= utcnow():
            return None
        return entry

    def digest(self, bucket: int) -> str | None:
        held = self._buckets.get(bucket)
        return held[0] if held else None

    def claim_load(self, now: float) -> bool:
        """True for the one caller that should refresh the table now (it is due and nobody
        is refreshing it); that caller must call `loaded`, `too_many` or `failed` after."""
        if now < self._due_at or self._loading:
            return False
        with self._lock:
            if now < self._due_at or self._loading:
                return False
            self._loading = True
            return True

    def loaded(self, buckets: dict[int, tuple[str | None, dict[str, tuple]]],
               digests: dict[int, str] | None, started: float, seconds: float) -> None:
        """Replace the buckets read (with their digests) and, when `digests` lists every
        bucket there is, drop those no longer in it; `digests` None: `buckets` is all.
        Fresh as of `started` (monotonic), when the refresh began."""
        with self._lock:
            if digests is None:
                routes: dict[str, tuple] = {}
                kept: dict[int, tuple[str | None, tuple[str, ...]]] = {}
            else:
                routes, kept = dict(self._routes), dict(self._buckets)
                for bucket in [b for b in kept if b not in digests or b in buckets]:
                    for token in kept.pop(bucket)[1]:
                        routes.pop(token, None)
            for bucket, (digest, bucket_routes) in buckets.items():
                routes.update(bucket_routes)
                kept[bucket] = (digest, tuple(bucket_routes))
            self._routes, self._buckets = routes, kept
            self._fresh_until = started + seconds
            self._due_at = started + seconds * REFRESH_AT
            self._loading = False
            self.ever_loaded = True

    def too_many(self, started: float) -> None:
        with self._lock:
            self._routes, self._buckets, self._fresh_until = {}, {}, 0.0
            self._due_at = started + TOO_MANY_RECHECK_SECONDS
            self._loading = False

    def failed(self, started: float, seconds: float) -> None:
        """The refresh failed: the table ages as it would have; the next try is after a
        while."""
        with self._lock:
            self._due_at = started + max(seconds * REFRESH_AT, 1.0)
            self._loading = False

    def clear(self) -> None:
        with self._lock:
            self._routes, self._buckets = {}, {}
            self._fresh_until, self._due_at = 0.0, 0.0

    def __len__(self) -> int:
        return len(self._routes)


def refresh(app, table: RouteTable, started: float) -> None:
    """Bring `table` up to date (on its own thread, or called by a test). A failure is
    logged; the table then ages as it would have."""
    seconds, most = app.config["ROUTE_CACHE_SECONDS"], app.config["ROUTE_TABLE_MAX"]
    try:
        with app.app_context(), all_merchants(), collector_paused():
            now = utcnow()
            digests: dict[int, str] | None = None
            params: dict[str, Any] = {"now": now, "every_bucket": True, "buckets": [],
                                      "limit": most + 1}
            if db.session.get_bind().dialect.name == "postgresql":
                found = execute_alone(channel_statements.ROUTE_DIGESTS, {"now": now}, rows=True)
                if sum(row.channels for row in found) > most:
                    return _too_many(table, started, most)
                digests = {row.bucket: row.digest for row in found}
                changed = [b for b, digest in digests.items() if table.digest(b) != digest]
                params.update(every_bucket=False, buckets=changed)
            rows = (execute_alone(channel_statements.ROUTES, params, rows=True)
                    if params["every_bucket"] or params["buckets"] else [])
            if len(rows) > most:
                return _too_many(table, started, most)
            buckets = _packed(rows, digests)
            del rows
        first = not table.ever_loaded
        table.loaded(buckets, digests, started, seconds)
        if first:
            settle_long_lived()
        if first or buckets:
            (log.info if first else log.debug)(
                "route table: %d routes held, %d buckets of channels read in %.0f ms",
                len(table), len(buckets), (monotonic() - started) * 1000)
    except Exception as exc:  # noqa: BLE001 - the per-token lookups answer meanwhile
        log.warning("route table: reading the channels failed (%s); tokens are looked up "
                    "one by one meanwhile", type(exc).__name__)
        table.failed(started, seconds)


def _too_many(table: RouteTable, started: float, most: int) -> None:
    log.info("route table: more than ROUTE_TABLE_MAX=%d channels; each token is looked up "
             "instead", most)
    table.too_many(started)


def _packed(rows, digests: dict[int, str] | None
            ) -> dict[int, tuple[str | None, dict[str, tuple]]]:
    """The rows as flat tuples by token, by bucket (each with its digest, if known)."""
    buckets: dict[int, tuple[str | None, dict[str, tuple]]] = {}
    for row in rows:
        held = buckets.get(row.bucket)
        if held is None:
            held = buckets[row.bucket] = (digests.get(row.bucket) if digests else None, {})
        packed = (row.id, row.merchant_id, row.shortcode, row.store_number,
                  row.channel_type.value, row.mapping_json,
                  row.validation_policy.value == "reject_unknown")
        held[1][row.callback_token] = (*packed, None)
        if row.grace_token:
            held[1][row.grace_token] = (*packed, row.previous_token_expires_at)
    return buckets


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a moment (the whole process's, as it only can
    be): the rows read and the routes built hold no cycles, and are freed or untracked by
    the next young collection instead of being promoted into a full one."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def settle_long_lived() -> None:
    """Move what the process holds by now — the app, its modules, compiled statements, the
    routes — out of the collector's sight (gc.freeze). A full collection walks every
    tracked object with the GIL held: ~200k of them in a warmed-up callback process, 120–180
    ms measured, and whatever the process keeps afterwards triggers one now and then;
    frozen, they are not walked again. A cycle already garbage at this moment stays
    allocated, once: the price of never walking the rest."""
    gc.freeze()


def load_in_background(load: Callable[[], None]) -> None:
    """Run `load` on a thread of its own, so that no callback waits for the table."""
    threading.Thread(target=load, name="route-table", daemon=True).start()


def monotonic() -> float:
    return time.monotonic()
