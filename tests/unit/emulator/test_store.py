"""The two stores behave the same; the Redis one stays inside its prefix."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from loyalty.emulator.store import MemoryStore, RedisStore, Store
from tests.conftest import REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def store(request, redis_prefix: str) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    made = RedisStore(REDIS_URL, f"{redis_prefix}store-{uuid.uuid4().hex[:8]}:emulator:")
    yield made
    made.clear()
    made.close()


def test_values_hashes_and_lists(store: Store):
    store.put("k", {"a": [1, 2]})
    assert store.get("k") == {"a": [1, 2]} and store.get("missing") is None
    store.hset("h", "x", {"n": 1})
    store.hset("h", "y", "two")
    assert store.hgetall("h") == {"x": {"n": 1}, "y": "two"}
    store.hdel("h", "x")
    assert store.hget("h", "x") is None and store.hget("h", "y") == "two"
    assert store.hincr("c", "a") == 1 and store.hincr("c", "a", 5) == 6
    for n in range(5):
        store.push("l", n, limit=3)
    assert store.recent("l") == [4, 3, 2] and store.recent("l", 2) == [4, 3]
    assert store.recent("l", 0) == []


def test_values_expire(store: Store):
    store.put("short", 1, ttl=0.05)
    store.put("long", 1, ttl=60)
    time.sleep(0.1)
    assert store.get("short") is None and store.get("long") == 1


def test_take_hands_out_exactly_the_counter_across_threads(store: Store):
    store.put("fault", 5)
    taken: list[bool] = []
    lock = threading.Lock()

    def worker():
        for _ in range(4):
            result = store.take("fault")
            with lock:
                taken.append(result)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken.count(True) == 5 and store.take("never-set") is False


def test_clear_removes_only_the_emulators_keys(redis_prefix: str):
    prefix = f"{redis_prefix}clear-{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(REDIS_URL)
    client.set(prefix + "tokens:other", "keep")
    emulator = RedisStore(REDIS_URL, prefix + "emulator:")
    try:
        emulator.put("a", 1)
        emulator.hset("b", "f", 2)
        emulator.clear()
        assert emulator.get("a") is None and emulator.hgetall("b") == {}
        assert client.get(prefix + "tokens:other") == b"keep"
    finally:
        client.delete(prefix + "tokens:other")
        client.close()
        emulator.close()


def test_sorted_sets_page_by_score_and_prune(store: Store):
    store.zadd("z", {f"m{n:02d}": float(n) for n in (5, 1, 3, 2, 4)})
    store.zadd("z", {"m01": 99.0})  # a member keeps its first score
    assert store.zcount("z") == 5
    assert store.zrange("z", 2, 4, 0, 10) == ["m02", "m03", "m04"]
    assert store.zrange("z", 0, 100, 1, 2) == ["m02", "m03"]
    assert store.zrange("z", 0, 100, 5, 2) == []
    store.zprune("z", 3)
    assert store.zrange("z", 0, 100, 0, 10) == ["m03", "m04", "m05"]
