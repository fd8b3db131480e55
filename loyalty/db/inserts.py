"""`INSERT … ON CONFLICT DO NOTHING` of a model, for rows ORM events do not see.

ORM events do not see Core INSERTs, so every insert here sets `merchant_id` itself: the
current merchant's, or one given explicitly (the callback path, which finds the merchant
from the URL token before any tenant context exists); with neither it raises
`TenantNotSet`. PostgreSQL in production, SQLite for `make run`.

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
from sqlalchemy.dialects import postgresql, sqlite

from loyalty.db import row_security
from loyalty.db.alone import alone_engine, run_alone
from loyalty.db.driver import driver_insert
from loyalty.extensions import db
from loyalty.tenancy import TenantNotSet, current_merchant_id

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
    see alone.execute_alone. The insert is idempotent, so retrying it is safe.

    On PostgreSQL the statement runs on the driver's connection (DriverInsert): this is
    the one statement of every confirmation."""
    if merchant_id is None:
        raise TenantNotSet(f"a {model.__name__} needs the merchant it belongs to")
    params = {"merchant_id": merchant_id, **values}
    session = db.session()
    bind = session.get_bind()
    statement = insert_ignore_statement(model, tuple(params), tuple(conflict), None,
                                        bind.dialect.name)
    if bind.dialect.name != "postgresql":
        return run_alone(statement, params)
    writer = driver_insert(statement, tuple(params), bind.dialect)
    if session.in_transaction() or not isinstance(bind, sa.Engine):
        if session.autoflush:
            session.flush()  # joins the transaction begun (a test's, an outer unit of work)
        connection = session.connection()
        driver = connection.connection.driver_connection
        _as_lookup(connection.engine, connection.info, driver, local=True)
        return writer.execute(driver, params)
    engine = alone_engine(bind)
    for attempt in (1, 2):
        connection = engine.raw_connection()
        try:
            _as_lookup(engine, connection.info, connection.driver_connection, local=False)
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


def _as_lookup(engine: sa.Engine, info: dict, driver_connection, *, local: bool) -> None:
    """Row security for the callback's INSERT (db/row_security.py): it runs as the
    cross-tenant lookup of the callback token that gave it its merchant. Binding the
    connection to that same merchant would only compare the row's merchant with itself,
    for one more statement on most confirmations (bench/README.md, row-level security)."""
    if row_security.enforcing(engine):
        row_security.bind_driver(driver_connection, info, row_security.EVERYONE, local=local)
