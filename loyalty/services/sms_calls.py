"""Gateway calls made concurrently: how the outbox keeps up with a gateway that takes
100–300 ms per text (DESIGN.md section 14).

Africa's Talking takes one recipient per call, and a call spends nearly all its time
waiting for the answer, so one sender making its calls one after another sends 3–10 texts a
second. Here the calls of a chunk run on a thread pool kept per process, at most
`SMS_CONCURRENCY` at once in the whole process (the pool's size), through the backend's one
connection pool (sms/africastalking.py). The threads only call the gateway: claiming,
recording outcomes and every other database statement stay on the sender's own thread,
which owns its session (services/messages.py).
"""

from __future__ import annotations

import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from loyalty.sms.base import SendResult, SmsBackend, SmsUnavailable

_pools: dict[tuple[int, int], ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def pool(size: int) -> ThreadPoolExecutor:
    """This process's pool of `size` threads. Keyed by pid as well: a pool made before a
    fork (Celery's prefork pool) has no threads in the child, so each child makes its own."""
    key = (os.getpid(), size)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="sms-gateway")
        return _pools[key]


@dataclass(frozen=True)
class Answer:
    """One call's end: the gateway's result, or why there was none."""

    item: Any
    result: SendResult | None
    unavailable: SmsUnavailable | None
    seconds: float


def _call(backend: SmsBackend, item: Any, timeout: float) -> Answer:
    started = time.monotonic()
    # A merchant's approved sender ID for the text's category (services/sender_ids.py);
    # only passed when there is one, so a backend that knows no sender IDs still works.
    extra = {"sender_id": item.sender_id} if getattr(item, "sender_id", None) else {}
    try:
        if item.form == "hashed":
            result = backend.send_hashed(item.recipient, item.body, timeout=timeout, **extra)
        else:
            result = backend.send(item.recipient, item.body, timeout=timeout, **extra)
    except SmsUnavailable as exc:
        return Answer(item, None, exc, time.monotonic() - started)
    return Answer(item, result, None, time.monotonic() - started)


class GatewayCalls:
    """One chunk's calls in flight, at most `window` of them at a time."""

    def __init__(self, backend: SmsBackend, window: int) -> None:
        self.backend = backend
        self.window = window
        # A backend that never waits on a network (the console) is called inline: a
        # thread hand-off per text would cost more than the call.
        self._inline = not getattr(backend, "networked", True)
        self._pool = None if self._inline else pool(window)
        self._in_flight: dict[Future, Any] = {}
        self._ready: list[Answer] = []
        # Each call hands its future here as it ends: waiting for the next answer costs the
        # same with 100 calls in flight as with one (concurrent.futures.wait would hook and
        # unhook every future in flight on each wake-up: most of a sender's CPU at a
        # hundred calls in flight).
        self._done: queue.SimpleQueue[Future] = queue.SimpleQueue()

    @property
    def room(self) -> bool:
        return len(self._in_flight) + len(self._ready) < self.window

    @property
    def busy(self) -> bool:
        return bool(self._in_flight or self._ready)

    def start(self, item: Any, timeout: float, backend: SmsBackend | None = None) -> None:
        """Send `item` (an outbox message) on the pool, through `backend` (a merchant's
        own account) or the window's; `timeout` bounds the call."""
        backend = backend or self.backend
        if self._inline or not getattr(backend, "networked", True):
            self._ready.append(_call(backend, item, timeout))
            return
        if self._pool is None:
            self._pool = pool(self.window)
        future = self._pool.submit(_call, backend, item, timeout)
        self._in_flight[future] = item
        future.add_done_callback(self._done.put)

    def answers(self, timeout: float) -> list[Answer]:
        """The calls that ended within `timeout` seconds (at least one, unless none did)."""
        if self._ready:
            ready, self._ready = self._ready, []
            return ready
        if not self._in_flight:
            return []
        try:
            done = [self._done.get(timeout=max(0.0, timeout))]
        except queue.Empty:
            return []
        while True:
            try:
                done.append(self._done.get_nowait())
            except queue.Empty:
                break
        # An abandoned call may still end here later: it is no longer waited for.
        return [future.result() for future in done if self._in_flight.pop(future, None) is not None]

    def abandon(self) -> list[Any]:
        """Stop waiting for the calls still running: their items, whatever they get. The
        threads finish on their own, bounded by the timeout each call was given."""
        items = list(self._in_flight.values())
        self._in_flight.clear()
        return items
