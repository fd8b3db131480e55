"""Test fixtures: a throwaway PostgreSQL database with the migrations applied, real Redis,
and a savepoint per test so every test starts from the migrated, empty schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import NamedTuple

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy.session import Session as FlaskSession

from tests import services

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEST_ENCRYPTION_KEY = "pfPqkRVBW9Lp8ng8y1AtT2ov4m_MsVQXGh1HVW9gZ2g="


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    services.require_postgres(PG_ADMIN_URL)
    name = f"loyalty_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
        ), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    """A key prefix owned by this run; every key under it is deleted at the end."""
    services.require_redis(REDIS_URL)
    prefix = f"loyalty-test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    services.delete_redis_prefix(REDIS_URL, prefix)


def make_test_app(database_url: str, redis_prefix: str, **overrides) -> Flask:
    from loyalty import create_app

    settings = {
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_KEY_PREFIX": redis_prefix,
        "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": "https://loyalty.example.com",
        "DARAJA_SANDBOX_URL": "https://sandbox.daraja.test",
        "DARAJA_PRODUCTION_URL": "https://api.daraja.test",
        "AT_BASE_URL": "https://sms.gateway.test",
        "WTF_CSRF_ENABLED": False,
        # The route table reads on a thread of its own, which the test's one connection
        # must not meet; tests/integration/test_route_table.py loads it in the test.
        "ROUTE_TABLE_MAX": 0,
    }
    settings.update(overrides)
    app = create_app(settings)

    @app.teardown_request
    def _close_request_session(exc):
        # Tests keep an app context open, which Flask reuses for requests; see db_session.
        from loyalty.extensions import db

        db.session.remove()

    _built_apps.append(app)
    return app


_built_apps: list[Flask] = []


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Every test starts with no rate limit used up (the apps share Redis under the run's
    prefix, and many tests sign up from one address)."""
    yield
    from loyalty import ratelimits

    shared: set[tuple[str, str]] = set()  # one reset per Redis prefix, not per app
    for built in _built_apps:
        where = (built.config["REDIS_URL"], built.config["REDIS_KEY_PREFIX"])
        if where[0] is None or where not in shared:
            shared.add(where)
            ratelimits.reset(built)


@pytest.fixture(scope="session", autouse=True)
def _dispose_engines():
    """Close every pooled connection of the apps tests built, before the database drops."""
    yield
    from loyalty.extensions import db

    for built in _built_apps:
        with built.app_context():
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture(scope="session")
def app(database_url: str, redis_prefix: str) -> Flask:
    """The app on the test database, schema built by running the migrations."""
    from flask_migrate import upgrade

    app = make_test_app(database_url, redis_prefix)
    with app.app_context():
        upgrade()
    return app


class BoundSession(FlaskSession):
    """A Flask-SQLAlchemy session that uses the test's connection when given one."""

    def get_bind(self, *args, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(*args, **kwargs)


def _request_or_app_scope():
    """Flask reuses the test's app context for test-client requests; without this, every
    request would share (and roll back) the test's own session."""
    from flask.globals import _cv_app, _cv_request

    request_ctx = _cv_request.get(None)
    if request_ctx is not None:
        return ("request", id(request_ctx))
    return ("app", id(_cv_app.get(None)))


@pytest.fixture
def db_session(app: Flask):
    """Each test runs inside one outer transaction that is rolled back at the end;
    the code under test commits savepoints, so its commits and listeners are real."""
    from loyalty.extensions import db

    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session({
            "scopefunc": _request_or_app_scope,
            "class_": BoundSession,
            "bind": connection,
            "join_transaction_mode": "create_savepoint",
            "expire_on_commit": False,
        })
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def run_task(app: Flask, db_session):
    """Run a registered task in-process as a worker runs it (Celery's eager apply), through
    the task base class: in its merchant's context and, unless it opts out, its own unit
    of work. Returns what the task returned; raises what it raised."""
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()

    def run(name: str, *args):
        return celery.tasks[str(name)].apply(args=args).get()

    return run


@pytest.fixture
def client(app: Flask, db_session):
    return app.test_client()


class RecordedTask(NamedTuple):
    name: str
    args: tuple
    countdown: float | None


class RecordedTasks(list):
    """The tasks published after their commit, in order, as `RecordedTask`s."""

    def names(self) -> list[str]:
        return [task.name for task in self]

    def args_of(self, name: str) -> list[tuple]:
        """The arguments of each task of that name."""
        return [task.args for task in self if task.name == name]


@pytest.fixture
def recorded_tasks(monkeypatch) -> RecordedTasks:
    """Tasks are recorded instead of being sent to Redis, so no worker ever runs what a
    test queued: the test runs the worker's part itself, when it wants to. Recorded at
    `background.publish`, i.e. only once their unit of work committed (a rolled-back one
    publishes nothing, as in production)."""
    recorded = RecordedTasks()

    def publish(name, args=(), kwargs=None, *, countdown=None) -> bool:
        recorded.append(RecordedTask(str(name), tuple(args), countdown))
        return True

    monkeypatch.setattr("loyalty.background.publish", publish)
    return recorded


def register_merchant(client, **overrides) -> tuple[dict, str]:
    """Register a merchant over the API; returns (merchant JSON, API key)."""
    body = {
        "business_name": "Acme Electronics",
        "owner_name": "John Doe",
        "email": f"owner-{uuid.uuid4().hex[:8]}@acme.example",
        "phone": "0712345678",
        "business_type": "RETAIL",
        "password": "correct horse battery",
    }
    body.update(overrides)
    response = client.post("/api/v1/merchants", json=body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    return data["merchant"], data["api_key"]


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def merchant_a(client) -> tuple[dict, str]:
    return register_merchant(client, business_name="Acme Electronics")


@pytest.fixture
def merchant_b(client) -> tuple[dict, str]:
    return register_merchant(client, business_name="Taste Restaurants", business_type="RESTAURANT")


@pytest.fixture
def scratch_database(redis_prefix) -> Iterator[str]:
    """An empty PostgreSQL database of its own, for tests that must commit or migrate."""
    services.require_postgres(PG_ADMIN_URL)
    name = f"loyalty_scratch_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    from loyalty.extensions import db

    for built in list(_built_apps):
        with built.app_context():
            if name in str(db.engine.url):
                db.engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()
