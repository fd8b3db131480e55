"""The one reviewed module for dialect-specific Core statements on tenant tables.

ORM events do not see Core INSERTs, so every statement here sets `merchant_id` from the
current merchant itself. PostgreSQL in production, SQLite for `make run`.

Statements are built once per shape (table, columns, conflict target, dialect) with bind
parameters and run on the session's connection, inside its unit of work: the hot paths
(every callback, every credited payment) pay neither for building an INSERT from literal
values nor for the ORM's bulk-insert layer on each call (bench/README.md, "what changed").
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite

from loyalty.extensions import db
from loyalty.tenancy import current_merchant_id

log = logging.getLogger(__name__)

_statements: dict[tuple, sa.Insert] = {}
_statements_lock = threading.Lock()


def _insert(model, dialect: str):
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model.__table__)


def _where_key(where: sa.ColumnElement | None) -> str | None:
    # Callers build `where` afresh on each call: key the cache by its SQL, not its identity.
    return None if where is None else str(where.compile(compile_kwargs={"literal_binds": True}))


def insert_ignore_statement(model, columns: tuple[str, ...], conflict: tuple[str, ...],
                            where: sa.ColumnElement | None, dialect: str) -> sa.Insert:
    """INSERT (columns) … ON CONFLICT (conflict) DO NOTHING RETURNING id, built once."""
    key = (model, columns, conflict, _where_key(where), dialect)
    statement = _statements.get(key)
    if statement is None:
        statement = (_insert(model, dialect)
                     .values({name: sa.bindparam(name) for name in columns})
                     .on_conflict_do_nothing(index_elements=list(conflict), index_where=where)
                     .returning(model.__table__.c.id))
        with _statements_lock:
            statement = _statements.setdefault(key, statement)
    return statement


def insert_ignore(model, values: dict[str, Any], conflict: list[str], *,
                  where: sa.ColumnElement | None = None, merchant_id: int | None = None) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING; the new id, or None when the row already existed.

    The row belongs to the current merchant, or to `merchant_id` on the callback path,
    which resolves the merchant from the URL token before any tenant context exists.
    """
    owner = merchant_id if merchant_id is not None else current_merchant_id()
    params = {"merchant_id": owner, **values}
    session = db.session()
    if session.autoflush:  # as the ORM would before a statement: pending changes go first
        session.flush()
    connection = session.connection()
    statement = insert_ignore_statement(model, tuple(params), tuple(conflict), where,
                                        connection.dialect.name)
    return connection.execute(statement, params).scalar()


def insert_ignore_alone(model, values: dict[str, Any], conflict: list[str], *,
                        merchant_id: int) -> int | None:
    """insert_ignore for a unit of work that is this one statement (the callback path):
    see execute_alone. The insert is idempotent, so retrying it is safe.

    On PostgreSQL the statement runs on the driver's connection (DriverInsert): this is
    the one statement of every confirmation."""
    params = {"merchant_id": merchant_id, **values}
    session = db.session()
    bind = session.get_bind()
    statement = insert_ignore_statement(model, tuple(params), tuple(conflict), None,
                                        bind.dialect.name)
    if bind.dialect.name != "postgresql":
        return execute_alone(statement, params)
    writer = _driver_insert(statement, tuple(params), bind.dialect)
    if session.in_transaction() or not isinstance(bind, sa.Engine):
        if session.autoflush:
            session.flush()  # joins the transaction begun (a test's, an outer unit of work)
        return writer.execute(session.connection().connection.driver_connection, params)
    engine = _alone_engine(bind)
    for attempt in (1, 2):
        connection = engine.raw_connection()
        try:
            return writer.execute(connection.driver_connection, params)
        except psycopg.Error:
            # Only a dropped connection (the database restarted) is retried, on a fresh
            # one, as execute_alone does; any other error is the caller's.
            if attempt == 2 or not connection.driver_connection.broken:
                raise
            connection.invalidate()
            log.warning("the database connection was lost; retrying the statement once")
        finally:
            connection.close()
    raise AssertionError("unreachable")


class DriverInsert:
    """A Core INSERT compiled once by SQLAlchemy — its SQL, the Python-side defaults it
    fills in (timestamps, status) and the conversions of its column types — and run on
    psycopg's connection itself, without SQLAlchemy's execution layer: ~0.1 ms of CPU less
    per confirmation, a fifth of the callback's own cost (bench/README.md). The statement
    is still defined once, by the model; tests compare its rows with SQLAlchemy's."""

    def __init__(self, statement: sa.Insert, keys: tuple[str, ...], dialect) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        self.sql = compiled.string
        self.defaults = [(column.key, column.default) for column in compiled.insert_prefetch]
        # The conversions SQLAlchemy itself applies to these parameters (enums, UTC, JSON).
        self.processors = dict(compiled._bind_processors)

    def parameters(self, values: dict[str, Any]) -> dict[str, Any]:
        params = dict(values)
        for key, default in self.defaults:
            if key not in params:
                params[key] = default.arg(None) if default.is_callable else default.arg
        for key, process in self.processors.items():
            if key in params:
                params[key] = process(params[key])
        return params

    def execute(self, connection, values: dict[str, Any]) -> Any:
        """The first column of the returned row (the new id), or None."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.parameters(values), prepare=True)
            row = cursor.fetchone()
        return row[0] if row else None


_drivers: dict[tuple, DriverInsert] = {}


def _driver_insert(statement: sa.Insert, keys: tuple[str, ...], dialect) -> DriverInsert:
    key = (id(statement), keys)
    writer = _drivers.get(key)
    if writer is None:
        with _statements_lock:
            writer = _drivers.setdefault(key, DriverInsert(statement, keys, dialect))
    return writer


def execute_alone(statement: sa.Executable, params: dict[str, Any] | list[dict[str, Any]], *,
                  rows: bool = False) -> Any:
    """Run one statement that is a whole unit of work and safe to repeat; its scalar
    result (None for a statement that returns no rows), or with `rows=True` all its rows.
    A list of parameter sets runs the statement once per set, in one round trip.

    On PostgreSQL, when the session has not begun a transaction, the statement runs on
    its own in autocommit, on a pool kept for such statements: one round trip, with no
    BEGIN, COMMIT or pre-ping. Instead of pinging, a statement that finds its connection
    dropped (the database restarted) is retried once on a fresh one, which is why it must
    be safe to repeat. Inside a transaction already begun (an outer unit of work, a test's
    connection) it simply joins it. Either way the caller's unit of work commits as
    usual, so tasks queued with background.enqueue are published then.
    """
    session = db.session()
    bind = session.get_bind()
    if (session.in_transaction() or not isinstance(bind, sa.Engine)
            or bind.dialect.name != "postgresql"):
        if session.autoflush:
            session.flush()
        return _fetch(session.connection().execute(statement, params), rows)
    engine = _alone_engine(bind)
    for attempt in (1, 2):
        try:
            with engine.connect() as connection:
                return _fetch(connection.execute(statement, params), rows)
        except sa.exc.DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            log.warning("the database connection was lost; retrying the statement once")
    raise AssertionError("unreachable")


def _fetch(result: sa.CursorResult, rows: bool) -> Any:
    if rows:
        return result.all()
    return result.scalar() if result.returns_rows else None


def _alone_engine(main: sa.Engine) -> sa.Engine:
    """The app's autocommit engine for single-statement units of work: same database,
    its own small pool, no pre-ping; disposed together with the main engine."""
    app = current_app._get_current_object()
    engines = app.extensions.setdefault("sql_alone_engines", {})
    engine = engines.get(main)
    if engine is None:
        with _statements_lock:
            engine = engines.get(main)
            if engine is None:
                size = getattr(main.pool, "size", lambda: 5)()  # as many as the main pool
                engine = sa.create_engine(main.url, isolation_level="AUTOCOMMIT",
                                          pool_pre_ping=False, pool_size=size, max_overflow=10)
                event.listen(main, "engine_disposed", lambda *_: engine.dispose())
                engines[main] = engine
    return engine
