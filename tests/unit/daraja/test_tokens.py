"""OAuth tokens: one per credential (environment, consumer key, secret), shared, fetched
single-flight."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time

import pytest
import redis
import requests
import responses
from responses import matchers

from loyalty.daraja.client import DarajaClient
from loyalty.daraja.errors import BadCredentials, DarajaUnavailable
from loyalty.daraja.tokens import MemoryTokenCache, RedisTokenCache, token_key

from .conftest import (
    BASE,
    BASIC,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    OAUTH_URL,
    TOKEN,
    TOKEN_2,
    oauth_body,
)

THREADS = 16


def test_token_key_hashes_the_consumer_key_and_the_secret():
    key = token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET)
    digests = [hashlib.sha256(value.encode()).hexdigest()[:32]
               for value in (CONSUMER_KEY, CONSUMER_SECRET)]
    assert key == f"daraja:token:sandbox:{digests[0]}:{digests[1]}"
    assert CONSUMER_KEY not in key and CONSUMER_SECRET not in key
    assert token_key("production", CONSUMER_KEY, CONSUMER_SECRET) != key
    assert token_key("sandbox", CONSUMER_KEY + "x", CONSUMER_SECRET) != key
    assert token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET + "x") != key


def test_oauth_request_is_a_basic_auth_get(client, rsps, with_token):
    assert client.access_token() == TOKEN
    (call,) = rsps.calls
    assert call.request.method == "GET"
    assert call.request.url == f"{OAUTH_URL}?grant_type=client_credentials"
    assert call.request.headers["Authorization"] == f"Basic {BASIC}"
    assert call.request.body is None
    assert call.request.req_kwargs["timeout"] == 7.5


def test_token_is_cached_until_a_minute_before_it_expires(client, rsps, cache, with_token):
    assert client.access_token() == TOKEN
    assert client.access_token() == TOKEN
    assert len(rsps.calls) == 1
    key = token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET)
    _, expires_at = cache._tokens[key]
    assert 3538 <= expires_at - time.monotonic() <= 3539


@pytest.mark.parametrize("expires_in", ["3599", 3599, " 3599 "])
def test_expires_in_as_string_or_number(make_client, rsps, expires_in, redis_target):
    url, prefix = redis_target
    connection = redis.Redis.from_url(url)
    try:
        rsps.add(responses.GET, OAUTH_URL, json=oauth_body(expires_in=expires_in))
        make_client(token_cache=RedisTokenCache(connection, prefix)).access_token()
        assert connection.ttl(prefix + token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET)) in (3538, 3539)
    finally:
        connection.close()


def test_a_token_about_to_expire_is_used_but_not_cached(client, rsps, cache):
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN, "30"))
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN_2, "3599"))
    assert client.access_token() == TOKEN
    assert client.access_token() == TOKEN_2
    assert len(rsps.calls) == 2


def test_force_refresh_mints_a_new_token(client, rsps, cache):
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN))
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN_2))
    assert client.access_token() == TOKEN
    assert client.access_token(force_refresh=True) == TOKEN_2
    assert client.access_token() == TOKEN_2
    assert len(rsps.calls) == 2


def test_environments_and_apps_get_separate_tokens(make_client, session, rsps, cache):
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN))
    rsps.add(responses.GET, "https://api.daraja.test/oauth/v1/generate", json=oauth_body(TOKEN_2))
    assert make_client().access_token() == TOKEN
    production = make_client(environment="production", base_url="https://api.daraja.test")
    assert production.access_token() == TOKEN_2
    assert make_client().access_token() == TOKEN


def _tenant(session, cache, secret: str) -> DarajaClient:
    return DarajaClient(session=session, base_url=BASE, environment="sandbox",
                        consumer_key=CONSUMER_KEY, consumer_secret=secret, token_cache=cache)


def _basic(secret: str) -> str:
    return "Basic " + base64.b64encode(f"{CONSUMER_KEY}:{secret}".encode()).decode()


def test_two_tenants_with_one_consumer_key_cannot_disturb_each_others_token(
        rsps, session, redis_target):
    """Tenant B types tenant A's consumer key with another secret (a typo, or on purpose):
    B's refused mint, B's forced re-mint and B's refused token leave A's token alone."""
    url, prefix = redis_target
    connection = redis.Redis.from_url(url)
    try:
        cache = RedisTokenCache(connection, prefix)
        alice, bob = _tenant(session, cache, CONSUMER_SECRET), _tenant(session, cache, "bob-typo")
        oauth = {secret: rsps.add(responses.GET, OAUTH_URL, json=oauth_body(token), match=[
            matchers.header_matcher({"Authorization": _basic(secret)})])
            for secret, token in ((CONSUMER_SECRET, TOKEN), ("bob-typo", TOKEN_2))}
        assert alice.access_token() == TOKEN
        # Bob's secret is refused: his failed mint must not delete Alice's token.
        rsps.replace(responses.GET, OAUTH_URL, status=400, body="", match=[
            matchers.header_matcher({"Authorization": _basic("bob-typo")})])
        with pytest.raises(BadCredentials):
            bob.access_token(force_refresh=True)
        assert alice.access_token() == TOKEN
        assert oauth[CONSUMER_SECRET].call_count == 1  # from the cache, not minted again
        # Bob's secret works after all: his token lives beside Alice's, not over it.
        rsps.replace(responses.GET, OAUTH_URL, json=oauth_body(TOKEN_2), match=[
            matchers.header_matcher({"Authorization": _basic("bob-typo")})])
        assert bob.access_token(force_refresh=True) == TOKEN_2
        assert alice.access_token() == TOKEN and bob.access_token() == TOKEN_2
        keys = {key.decode() for key in connection.scan_iter(match=prefix + "*")}
        assert keys == {prefix + token_key("sandbox", CONSUMER_KEY, secret)
                        for secret in (CONSUMER_SECRET, "bob-typo")}
        assert connection.get(prefix + token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET)) \
            == TOKEN.encode()
    finally:
        connection.close()


def test_a_failed_forced_mint_keeps_the_good_token(client, rsps, cache):
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body(TOKEN))
    rsps.add(responses.GET, OAUTH_URL, status=503, body="")
    assert client.access_token() == TOKEN
    with pytest.raises(DarajaUnavailable):
        client.access_token(force_refresh=True)
    assert client.access_token() == TOKEN
    assert len(rsps.calls) == 2


def test_memory_cache_expires_and_deletes():
    cache = MemoryTokenCache()
    cache.set("k", "v", 1)
    assert cache.get("k") == "v"
    cache.delete("k")
    assert cache.get("k") is None
    cache.set("k", "v", 0)
    assert cache.get("k") is None
    cache._tokens["k"] = ("v", time.monotonic() - 1)
    assert cache.get("k") is None


def _run_concurrently(make_one_client) -> list[str]:
    """THREADS threads start together and each asks its own client for a token."""
    barrier = threading.Barrier(THREADS)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with make_one_client() as client:
                barrier.wait()
                tokens.append(client.access_token())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return tokens


def _slow_oauth(calls: list[float]):
    def reply(request):
        calls.append(time.monotonic())
        time.sleep(0.3)  # hold the lock long enough for every other thread to queue
        return 200, {}, json.dumps(oauth_body())
    return reply


class _Worker:
    """A client with its own HTTP session and Redis connection, like a separate process."""

    def __init__(self, url: str, prefix: str) -> None:
        self.session = requests.Session()
        self.redis = redis.Redis.from_url(url)
        self.client = DarajaClient(session=self.session, base_url=BASE, environment="sandbox",
                                   consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
                                   token_cache=RedisTokenCache(self.redis, prefix))

    def __enter__(self) -> DarajaClient:
        return self.client

    def __exit__(self, *exc) -> None:
        self.session.close()
        self.redis.close()


def test_sixteen_workers_share_one_oauth_call_through_redis(rsps, redis_target):
    url, prefix = redis_target
    calls: list[float] = []
    rsps.add_callback(responses.GET, OAUTH_URL, callback=_slow_oauth(calls))
    tokens = _run_concurrently(lambda: _Worker(url, prefix))
    assert len(calls) == 1
    assert tokens == [TOKEN] * THREADS
    connection = redis.Redis.from_url(url)
    try:
        keys = [key.decode() for key in connection.scan_iter(match=prefix + "*")]
        assert keys == [prefix + token_key("sandbox", CONSUMER_KEY, CONSUMER_SECRET)]  # the lock is gone
        assert not any(CONSUMER_KEY in key for key in keys)
        assert connection.get(keys[0]) == TOKEN.encode()
    finally:
        connection.close()


def test_sixteen_threads_share_one_oauth_call_in_memory(rsps, session):
    cache = MemoryTokenCache()
    calls: list[float] = []
    rsps.add_callback(responses.GET, OAUTH_URL, callback=_slow_oauth(calls))

    class _Shared:
        def __enter__(self) -> DarajaClient:
            return DarajaClient(session=session, base_url=BASE, environment="sandbox",
                                consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
                                token_cache=cache)

        def __exit__(self, *exc) -> None:
            pass

    assert _run_concurrently(_Shared) == [TOKEN] * THREADS
    assert len(calls) == 1


def test_redis_lock_is_released_when_the_oauth_call_fails(make_client, rsps, redis_target):
    url, prefix = redis_target
    connection = redis.Redis.from_url(url)
    try:
        rsps.add(responses.GET, OAUTH_URL, status=503, body="")
        rsps.add(responses.GET, OAUTH_URL, json=oauth_body())
        client = make_client(token_cache=RedisTokenCache(connection, prefix))
        with pytest.raises(DarajaUnavailable):
            client.access_token()
        assert not list(connection.scan_iter(match=prefix + "*"))
        assert client.access_token() == TOKEN  # not stuck behind a leftover lock
    finally:
        connection.close()


def test_redis_down_is_reported_as_unavailable_without_the_url_password(make_client):
    dead = redis.Redis.from_url("redis://:hunter2-redis-password@127.0.0.1:1/0",
                                socket_connect_timeout=0.2)
    try:
        client = make_client(token_cache=RedisTokenCache(dead, "p:"))
        with pytest.raises(DarajaUnavailable) as caught:
            client.access_token()
        assert "Redis" in str(caught.value)
        assert "hunter2" not in str(caught.value)
    finally:
        dead.close()
