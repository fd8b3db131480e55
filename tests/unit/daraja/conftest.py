"""Fixtures for the Daraja client: a mocked HTTP edge (`responses`), fixed credentials that
are easy to search for in logs and messages, and real Redis for the token cache."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import redis
import requests
import responses

from loyalty.daraja.client import DarajaClient
from loyalty.daraja.tokens import MemoryTokenCache, TokenCache
from tests import services

BASE = "https://sandbox.daraja.test"
OAUTH_URL = f"{BASE}/oauth/v1/generate"
CONSUMER_KEY = "CK-AbCdEf0123456789-consumer-key-value"
CONSUMER_SECRET = "CS-ZyXwVu9876543210-consumer-secret"
BASIC = base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
TOKEN = "tok-c9SQxWWhmdVRlyh0zh8gZmHgbqX1"
TOKEN_2 = "tok-second-Qm9uZ2FyaW5nZXI2"
# The public sandbox passkey for 174379 (DARAJA.md 13).
PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
SECURITY_CREDENTIAL = "U2VjdXJpdHlDcmVkZW50aWFsLWJhc2U2NC12YWx1ZS1mb3ItdGVzdHM="
# 2024-07-10 09:15:26 in Nairobi.
FIXED_NOW = datetime(2024, 7, 10, 6, 15, 26, tzinfo=UTC)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def oauth_body(token: str = TOKEN, expires_in: object = "3599") -> dict:
    return {"access_token": token, "expires_in": expires_in}


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Every HTTP call must be registered, and every registered one must be made."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.fixture
def cache() -> MemoryTokenCache:
    return MemoryTokenCache()


@pytest.fixture
def make_client(session: requests.Session, cache: MemoryTokenCache) -> Callable[..., DarajaClient]:
    def build(*, environment: str = "sandbox", base_url: str = BASE,
              token_cache: TokenCache | None = None, timeout: float = 7.5) -> DarajaClient:
        return DarajaClient(session=session, base_url=base_url, environment=environment,
                            consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
                            token_cache=token_cache or cache, timeout=timeout,
                            clock=lambda: FIXED_NOW)
    return build


@pytest.fixture
def client(make_client) -> DarajaClient:
    return make_client()


@pytest.fixture
def with_token(rsps: responses.RequestsMock) -> None:
    """One successful OAuth call, to be used by the call under test."""
    rsps.add(responses.GET, OAUTH_URL, json=oauth_body())


@pytest.fixture
def redis_target() -> Iterator[tuple[str, str]]:
    """(Redis URL, a key prefix owned by this test); the keys are deleted afterwards.
    Unreachable Redis skips, except under CI=true where it fails the run."""
    services.require_redis(REDIS_URL)
    prefix = f"loyalty-test-daraja-{uuid.uuid4().hex[:10]}:"
    yield REDIS_URL, prefix
    connection = redis.Redis.from_url(REDIS_URL)
    try:
        for key in connection.scan_iter(match=prefix + "*", count=500):
            connection.delete(key)
        assert not list(connection.scan_iter(match=prefix + "*")), "test keys left behind"
    finally:
        connection.close()
