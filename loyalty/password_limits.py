"""Rate limits of the password reset: codes texted per email, and reset requests and code
tries per client address (DESIGN.md section 10). Over a limit: 429 with `Retry-After`.

| Limit (setting, default)                          | Counted per      | Where                       |
|---------------------------------------------------|------------------|-----------------------------|
| RATE_LIMIT_PASSWORD_RESET, 3 per hour             | email            | asking for a code           |
| RATE_LIMIT_PASSWORD_RESET_ADDRESS, 20 per hour    | client address   | asking for a code, a try    |

Per email, whether or not it is registered, so a refusal tells nothing either; it is what
stops anyone from texting a merchant's phone over and over. A code allows five tries of
its own (services/passwords.py); the per-address limit stops one address from spreading
its guesses over many accounts. The API's door and the web UI's count together.

Interim: the platform's rate limits are moving to Flask-Limiter (issue 12, the rate-limits
branch, `ratelimits.py`). These two are written the way its limits are — a RATE_LIMIT_*
setting in its notation, a key, one scope shared by both doors — so each moves there as a
declaration. Until then: fixed windows counted in Redis under the app's prefix (the email
only as a hash), in this process's memory without Redis or while it is down.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from flask import Flask, current_app, request

from loyalty import metrics
from loyalty.config import parse_rate
from loyalty.errors import TooManyRequests

log = logging.getLogger(__name__)

_memory: dict[str, tuple[int, float]] = {}
_memory_lock = threading.Lock()


def code_asked(email: str) -> None:
    """Asking for a code for `email`: counted per email and per client address."""
    _hit("RATE_LIMIT_PASSWORD_RESET", "password-reset", email.strip().lower(),
         "Too many codes were asked for this email.")
    code_tried()


def code_tried() -> None:
    """Asking for a code, or trying one: counted per client address."""
    _hit("RATE_LIMIT_PASSWORD_RESET_ADDRESS", "password-reset-address",
         request.remote_addr or "unknown", "Too many password resets from this address.")


def _hit(setting: str, scope: str, key: str, message: str) -> None:
    allowed, window = parse_rate(current_app.config[setting])
    now = time.time()
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    name = f"{current_app.config['REDIS_KEY_PREFIX']}rate:{scope}:{digest}:{int(now // window)}"
    if _count(name, window) > allowed:
        seconds = max(1, int(window - now % window))
        wait = f"{seconds} seconds" if seconds < 90 else f"{-(-seconds // 60)} minutes"
        metrics.RATE_LIMITED.labels(endpoint=scope).inc()
        raise TooManyRequests(f"{message} Try again in {wait}.", retry_after=seconds)


def _count(name: str, window: int) -> int:
    client = current_app.extensions.get("redis")
    if client is not None:
        try:
            with client.pipeline() as pipe:
                count, _ = pipe.incr(name).expire(name, window).execute()
            return int(count)
        except Exception as exc:  # Redis down: count in this process meanwhile
            log.warning("password-reset limits: Redis unavailable (%s)", type(exc).__name__)
    now = time.monotonic()
    with _memory_lock:
        count, expires = _memory.get(name, (0, now + window))
        if expires <= now:
            count, expires = 0, now + window
        _memory[name] = (count + 1, expires)
        return count + 1


def reset(app: Flask) -> None:
    """Forget every count of this app (tests start each from zero)."""
    prefix = app.config["REDIS_KEY_PREFIX"] + "rate:"
    client = app.extensions.get("redis")
    if client is not None:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
    with _memory_lock:
        for name in [n for n in _memory if n.startswith(prefix)]:
            del _memory[name]
