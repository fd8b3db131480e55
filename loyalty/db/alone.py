"""Statements that are a whole unit of work, run alone in autocommit.

The callback's INSERT, the SMS claim and its outcomes are each one statement that is safe
to repeat. On PostgreSQL, outside a transaction, they run on an autocommit engine of
their own: one round trip, with no BEGIN, COMMIT or pre-ping.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event

from loyalty.db import row_security
from loyalty.db.statements import Statement
from loyalty.extensions import db

log = logging.getLogger(__name__)

_engines_lock = threading.Lock()


def execute_alone(statement: Statement, params: dict[str, Any] | list[dict[str, Any]], *,
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
    with statement.running_as(statement.check(params)):
        return run_alone(statement.sql, params, rows=rows)


def run_alone(executable: sa.Executable, params: dict[str, Any] | list[dict[str, Any]], *,
              rows: bool = False) -> Any:
    """execute_alone for a statement whose tenant the caller has checked itself
    (inserts.insert_ignore_alone)."""
    session = db.session()
    bind = session.get_bind()
    if (session.in_transaction() or not isinstance(bind, sa.Engine)
            or bind.dialect.name != "postgresql"):
        if session.autoflush:
            session.flush()
        return _fetch(session.connection().execute(executable, params), rows)
    engine = alone_engine(bind)
    for attempt in (1, 2):
        try:
            with engine.connect() as connection:
                return _fetch(connection.execute(executable, params), rows)
        except sa.exc.DBAPIError as exc:
            if attempt == 2 or not exc.connection_invalidated:
                raise
            log.warning("the database connection was lost; retrying the statement once")
    raise AssertionError("unreachable")


def _fetch(result: sa.CursorResult, rows: bool) -> Any:
    if rows:
        return result.all()
    return result.scalar() if result.returns_rows else None


def alone_engine(main: sa.Engine) -> sa.Engine:
    """The app's autocommit engine for single-statement units of work: same database,
    its own small pool, no pre-ping; disposed together with the main engine."""
    app = current_app._get_current_object()
    engines = app.extensions.setdefault("sql_alone_engines", {})
    engine = engines.get(main)
    if engine is None:
        with _engines_lock:
            engine = engines.get(main)
            if engine is None:
                size = getattr(main.pool, "size", lambda: 5)()  # as many as the main pool
                engine = sa.create_engine(main.url, isolation_level="AUTOCOMMIT",
                                          pool_pre_ping=False, pool_size=size, max_overflow=10)
                row_security.install(engine, enforce=row_security.enforcing(main),
                                     autocommit=True)
                event.listen(main, "engine_disposed", lambda *_: engine.dispose())
                engines[main] = engine
    return engine
