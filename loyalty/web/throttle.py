"""Login throttling: after 5 failed attempts for one email from one address in 15 minutes,
refuse further attempts until the window has passed.

Keyed by email *and* client address, so a stranger guessing at one shop's password cannot lock
the owner out from the shop's own network, and one address cannot spray many accounts
unnoticed in one key. Counts live in Redis when REDIS_URL is set, so every gunicorn worker
sees the same count; without Redis (development) they live in this process's memory.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from flask import current_app

log = logging.getLogger(__name__)

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60

_memory: dict[str, list[float]] = {}
_memory_lock = threading.Lock()


def _key(email: str, address: str | None) -> str:
    # Hashed: the key must not put a merchant's email in plain text into Redis.
    digest = hashlib.sha256(f"{email.strip().lower()}|{address or '-'}".encode()).hexdigest()
    return f"{current_app.config['REDIS_KEY_PREFIX']}login-failures:{digest[:32]}"


def _redis():
    return current_app.extensions.get("redis")


def is_locked(email: str, address: str | None) -> bool:
    """True when this email and address have used up their failed attempts."""
    key = _key(email, address)
    client = _redis()
    if client is not None:
        try:
            return int(client.get(key) or 0) >= MAX_FAILURES
        except Exception as exc:  # Redis down: fall back to this process's own count
            log.warning("login throttle: Redis unavailable (%s)", type(exc).__name__)
    return len(_recent(key)) >= MAX_FAILURES


def record_failure(email: str, address: str | None) -> None:
    key = _key(email, address)
    client = _redis()
    if client is not None:
        try:
            # A fixed window from the first failure: simple, and enough to stop guessing.
            count = client.incr(key)
            if count == 1:
                client.expire(key, WINDOW_SECONDS)
            return
        except Exception as exc:
            log.warning("login throttle: Redis unavailable (%s)", type(exc).__name__)
    with _memory_lock:
        _memory.setdefault(key, []).append(time.monotonic())


def clear(email: str, address: str | None) -> None:
    """Forget the failures after a successful log in."""
    key = _key(email, address)
    client = _redis()
    if client is not None:
        try:
            client.delete(key)
        except Exception as exc:
            log.warning("login throttle: Redis unavailable (%s)", type(exc).__name__)
    with _memory_lock:
        _memory.pop(key, None)


def _recent(key: str) -> list[float]:
    cutoff = time.monotonic() - WINDOW_SECONDS
    with _memory_lock:
        attempts = [t for t in _memory.get(key, []) if t > cutoff]
        if attempts:
            _memory[key] = attempts
        else:
            _memory.pop(key, None)
        return attempts
