"""Where the emulator keeps its state: Redis when the app has it, else process memory.

Gunicorn runs several worker processes and a token minted by one worker must be valid on the
next request, which may land on another; so with `REDIS_URL` set every value lives in Redis
(as JSON) under `<REDIS_KEY_PREFIX>emulator:`. Without Redis (`make run` on one process) a
locked dict does the same job. Both classes expose the same few primitives: plain keys with an
optional lifetime, hashes of JSON values, capped newest-first lists, integer counters and a
"take one" counter for fault injection.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from abc import ABC, abstractmethod
from typing import Any

import redis


class Store(ABC):
    @abstractmethod
    def get(self, key: str) -> Any | None: ...

    @abstractmethod
    def put(self, key: str, value: Any, ttl: float | None = None) -> None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    @abstractmethod
    def hget(self, name: str, field: str) -> Any | None: ...

    @abstractmethod
    def hset(self, name: str, field: str, value: Any) -> None: ...

    @abstractmethod
    def hdel(self, name: str, field: str) -> None: ...

    @abstractmethod
    def hgetall(self, name: str) -> dict[str, Any]: ...

    @abstractmethod
    def hincr(self, name: str, field: str, amount: int = 1) -> int: ...

    @abstractmethod
    def push(self, name: str, value: Any, limit: int = 500) -> None:
        """Prepend `value` and keep only the newest `limit` items."""

    @abstractmethod
    def recent(self, name: str, limit: int | None = None) -> list[Any]:
        """Newest first."""

    @abstractmethod
    def take(self, key: str) -> bool:
        """Decrement the counter at `key` if it is above zero; True when one was taken."""

    @abstractmethod
    def zadd(self, name: str, scored: dict[str, float]) -> None:
        """Add members (strings, unique in the set) with their scores to a sorted set; a
        member already there keeps its score."""

    @abstractmethod
    def zrange(self, name: str, low: float, high: float, offset: int, count: int) -> list[str]:
        """Members scored within [low, high], lowest score first, from `offset`."""

    @abstractmethod
    def zcount(self, name: str) -> int: ...

    @abstractmethod
    def zprune(self, name: str, below: float) -> None:
        """Drop the members scored below `below`."""

    @abstractmethod
    def clear(self) -> None: ...

    def close(self) -> None:  # noqa: B027 (optional hook: memory has nothing to release)
        """Release connections."""


class MemoryStore(Store):
    """One process, many threads (the callback threads write deliveries)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._keys: dict[str, tuple[Any, float | None]] = {}
        self._hashes: dict[str, dict[str, Any]] = {}
        self._lists: dict[str, list[Any]] = {}
        self._sorted: dict[str, list[tuple[float, str]]] = {}
        self._members: dict[str, set[str]] = {}

    @staticmethod
    def _copy(value: Any) -> Any:
        # A JSON round trip gives callers the same detached values Redis would.
        return None if value is None else json.loads(json.dumps(value))

    def get(self, key: str) -> Any | None:
        with self._lock:
            value, expires = self._keys.get(key, (None, None))
            if expires is not None and expires <= time.monotonic():
                self._keys.pop(key, None)
                return None
            return self._copy(value)

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        with self._lock:
            expires = time.monotonic() + ttl if ttl is not None else None
            self._keys[key] = (self._copy(value), expires)

    def delete(self, key: str) -> None:
        with self._lock:
            self._keys.pop(key, None)
            self._hashes.pop(key, None)
            self._lists.pop(key, None)
            self._sorted.pop(key, None)
            self._members.pop(key, None)

    def hget(self, name: str, field: str) -> Any | None:
        with self._lock:
            return self._copy(self._hashes.get(name, {}).get(field))

    def hset(self, name: str, field: str, value: Any) -> None:
        with self._lock:
            self._hashes.setdefault(name, {})[field] = self._copy(value)

    def hdel(self, name: str, field: str) -> None:
        with self._lock:
            self._hashes.get(name, {}).pop(field, None)

    def hgetall(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._copy(self._hashes.get(name, {}))

    def hincr(self, name: str, field: str, amount: int = 1) -> int:
        with self._lock:
            bucket = self._hashes.setdefault(name, {})
            bucket[field] = int(bucket.get(field, 0)) + amount
            return bucket[field]

    def push(self, name: str, value: Any, limit: int = 500) -> None:
        with self._lock:
            items = self._lists.setdefault(name, [])
            items.insert(0, self._copy(value))
            del items[limit:]

    def recent(self, name: str, limit: int | None = None) -> list[Any]:
        with self._lock:
            items = self._lists.get(name, [])
            return self._copy(items if limit is None else items[:limit])

    def take(self, key: str) -> bool:
        with self._lock:
            value, expires = self._keys.get(key, (0, None))
            if int(value or 0) <= 0:
                return False
            self._keys[key] = (int(value) - 1, expires)
            return True

    def zadd(self, name: str, scored: dict[str, float]) -> None:
        with self._lock:
            members = self._members.setdefault(name, set())
            items = self._sorted.setdefault(name, [])
            for member, score in scored.items():
                if member not in members:
                    members.add(member)
                    bisect.insort(items, (float(score), member))

    def zrange(self, name: str, low: float, high: float, offset: int, count: int) -> list[str]:
        with self._lock:
            items = self._sorted.get(name, [])
            start = bisect.bisect_left(items, (float(low), ""))
            inside = [m for s, m in items[start:start + offset + count] if s <= high]
            return inside[offset:offset + count]

    def zcount(self, name: str) -> int:
        with self._lock:
            return len(self._sorted.get(name, []))

    def zprune(self, name: str, below: float) -> None:
        with self._lock:
            items = self._sorted.get(name, [])
            cut = bisect.bisect_left(items, (float(below), ""))
            self._members.get(name, set()).difference_update(m for _, m in items[:cut])
            del items[:cut]

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self._hashes.clear()
            self._lists.clear()
            self._sorted.clear()
            self._members.clear()


# GET-check-DECR in one step, so two workers never both consume the last injected fault.
_TAKE = """
local v = tonumber(redis.call('GET', KEYS[1]) or '0')
if v > 0 then redis.call('DECR', KEYS[1]) return 1 end
return 0
"""


class RedisStore(Store):
    """Shared by every gunicorn worker and Celery process pointed at the same Redis."""

    def __init__(self, url: str, prefix: str) -> None:
        self._client = redis.Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._take = self._client.register_script(_TAKE)

    def _k(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> Any | None:
        raw = self._client.get(self._k(key))
        return None if raw is None else json.loads(raw)

    def put(self, key: str, value: Any, ttl: float | None = None) -> None:
        px = max(1, int(ttl * 1000)) if ttl is not None else None
        self._client.set(self._k(key), json.dumps(value), px=px)

    def delete(self, key: str) -> None:
        self._client.delete(self._k(key))

    def hget(self, name: str, field: str) -> Any | None:
        raw = self._client.hget(self._k(name), field)
        return None if raw is None else json.loads(raw)

    def hset(self, name: str, field: str, value: Any) -> None:
        self._client.hset(self._k(name), field, json.dumps(value))

    def hdel(self, name: str, field: str) -> None:
        self._client.hdel(self._k(name), field)

    def hgetall(self, name: str) -> dict[str, Any]:
        return {f: json.loads(v) for f, v in self._client.hgetall(self._k(name)).items()}

    def hincr(self, name: str, field: str, amount: int = 1) -> int:
        return int(self._client.hincrby(self._k(name), field, amount))

    def push(self, name: str, value: Any, limit: int = 500) -> None:
        with self._client.pipeline() as pipe:
            pipe.lpush(self._k(name), json.dumps(value))
            pipe.ltrim(self._k(name), 0, limit - 1)
            pipe.execute()

    def recent(self, name: str, limit: int | None = None) -> list[Any]:
        if limit is not None and limit <= 0:
            return []
        end = -1 if limit is None else limit - 1
        return [json.loads(v) for v in self._client.lrange(self._k(name), 0, end)]

    def take(self, key: str) -> bool:
        return bool(self._take(keys=[self._k(key)]))

    def zadd(self, name: str, scored: dict[str, float]) -> None:
        if scored:
            self._client.zadd(self._k(name), {m: float(s) for m, s in scored.items()}, nx=True)

    def zrange(self, name: str, low: float, high: float, offset: int, count: int) -> list[str]:
        return list(self._client.zrangebyscore(self._k(name), low, high, start=offset, num=count))

    def zcount(self, name: str) -> int:
        return int(self._client.zcard(self._k(name)))

    def zprune(self, name: str, below: float) -> None:
        self._client.zremrangebyscore(self._k(name), "-inf", f"({float(below)}")

    def clear(self) -> None:
        keys = list(self._client.scan_iter(match=self._prefix + "*", count=500))
        for start in range(0, len(keys), 500):
            self._client.delete(*keys[start:start + 500])

    def close(self) -> None:
        self._client.close()


def make_store(redis_url: str | None, key_prefix: str) -> Store:
    if redis_url:
        return RedisStore(redis_url, key_prefix + "emulator:")
    return MemoryStore()
