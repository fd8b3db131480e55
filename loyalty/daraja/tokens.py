"""Where OAuth tokens live between calls: Redis in every real deployment, memory in dev.

One token per credential (environment, consumer key, consumer secret), shared by every web
and worker process, because Safaricom's FAQ says minting a token may revoke the previous one
(DARAJA.md 2): workers that each minted their own would keep logging each other out. The
lock makes the refresh single-flight. Keys carry hashes of the key and the secret, never
either itself. The secret is part of the key because two merchants may type the same
consumer key with different secrets (one of them wrong, or a typo): each gets its own
token and lock, so a failed mint by one never deletes or blocks the other's token.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import redis
from redis.exceptions import LockError, RedisError

from loyalty.daraja.errors import DarajaUnavailable

log = logging.getLogger(__name__)

LOCK_TIMEOUT = 20.0  # a worker that dies holding the lock frees it after this long
LOCK_WAIT = 30.0  # longer than one OAuth call (10 s timeout) plus the holder's queueing


def token_key(environment: str, consumer_key: str, consumer_secret: str) -> str:
    """The cache key suffix for one credential: environment, SHA-256 of the consumer key,
    SHA-256 of the consumer secret."""
    key, secret = (hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]
                   for value in (consumer_key, consumer_secret))
    return f"daraja:token:{environment}:{key}:{secret}"


class TokenCache(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, token: str, ttl_seconds: int) -> None: ...

    def delete(self, key: str) -> None: ...

    def lock(self, key: str) -> AbstractContextManager[object]:
        """Held while one caller fetches a token, so N callers make one OAuth call."""
        ...


class RedisTokenCache:
    """Tokens in Redis under `prefix`, locked with a redis-py Lock across processes."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._redis = client
        self._prefix = prefix

    def __repr__(self) -> str:
        return f"RedisTokenCache(prefix={self._prefix!r})"

    def close(self) -> None:
        self._redis.close()

    def get(self, key: str) -> str | None:
        try:
            value = self._redis.get(self._prefix + key)
        except RedisError as exc:
            raise _cache_down(exc) from None
        if value is None:
            return None
        return value.decode("utf-8") if isinstance(value, bytes) else str(value)

    def set(self, key: str, token: str, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            return  # a token about to expire is used once, not shared
        try:
            self._redis.set(self._prefix + key, token, ex=ttl_seconds)
        except RedisError as exc:
            raise _cache_down(exc) from None

    def delete(self, key: str) -> None:
        try:
            self._redis.delete(self._prefix + key)
        except RedisError as exc:
            raise _cache_down(exc) from None

    @contextmanager
    def lock(self, key: str) -> Iterator[object]:
        lock = self._redis.lock(self._prefix + key + ":lock", timeout=LOCK_TIMEOUT,
                                blocking=True, blocking_timeout=LOCK_WAIT)
        try:
            acquired = lock.acquire()
        except RedisError as exc:
            raise _cache_down(exc) from None
        if not acquired:
            raise DarajaUnavailable("Timed out waiting for another worker to fetch a Daraja token.")
        try:
            yield lock
        finally:
            try:
                lock.release()
            except LockError:
                # Held past LOCK_TIMEOUT: someone else may own it now, and the token we
                # stored is still good, so this is worth a warning, not a failure.
                log.warning("Daraja token lock expired before it was released")
            except RedisError as exc:
                log.warning("Could not release the Daraja token lock: %s", type(exc).__name__)


class MemoryTokenCache:
    """In-process cache for development without Redis; safe across threads."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"MemoryTokenCache({len(self._tokens)} tokens)"

    def get(self, key: str) -> str | None:
        with self._guard:
            entry = self._tokens.get(key)
            if entry is None:
                return None
            token, expires_at = entry
            if time.monotonic() >= expires_at:
                del self._tokens[key]
                return None
            return token

    def set(self, key: str, token: str, ttl_seconds: int) -> None:
        if ttl_seconds <= 0:
            return
        with self._guard:
            self._tokens[key] = (token, time.monotonic() + ttl_seconds)

    def delete(self, key: str) -> None:
        with self._guard:
            self._tokens.pop(key, None)

    def lock(self, key: str) -> AbstractContextManager[object]:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


def _cache_down(exc: RedisError) -> DarajaUnavailable:
    # The class name only: redis error texts can carry the URL, and with it a password.
    return DarajaUnavailable(f"The Daraja token cache (Redis) is unavailable ({type(exc).__name__}).")
