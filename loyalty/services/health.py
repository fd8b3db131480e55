"""Readiness of the process's dependencies."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from loyalty.extensions import db

log = logging.getLogger(__name__)


def readiness(redis_url: str | None = None) -> dict[str, str]:
    """'ok' or the reason, per dependency: the database and (when configured) Redis."""
    from flask import current_app  # config only; no request state

    checks = {"database": _check_database()}
    url = redis_url if redis_url is not None else current_app.config.get("REDIS_URL")
    if url:
        checks["redis"] = _check_redis(url)
    return checks


def _check_database() -> str:
    try:
        db.session.execute(sa.select(1))
        return "ok"
    except Exception as exc:  # any driver error means "not ready"
        log.warning("readiness: database unreachable: %s", type(exc).__name__)
        return "unreachable"


def _check_redis(url: str) -> str:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
        return "ok"
    except Exception as exc:
        log.warning("readiness: redis unreachable: %s", type(exc).__name__)
        return "unreachable"
