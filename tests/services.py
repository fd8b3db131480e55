"""Reaching PostgreSQL and Redis from tests: under CI a missing service fails the run."""

from __future__ import annotations

import os

import pytest
import redis
import sqlalchemy as sa

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing(what: str, error: Exception) -> None:
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true, so the run fails instead of skipping", pytrace=False)
    pytest.skip(message)


def require_postgres(url: str) -> None:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        _missing("PostgreSQL", exc)
    finally:
        engine.dispose()


def require_redis(url: str) -> None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as exc:
        _missing("Redis", exc)


def delete_redis_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=prefix + "*", count=500):
        client.delete(key)
