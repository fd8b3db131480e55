"""Row-level security: PostgreSQL's own check of tenancy, behind tenancy.py's. Opt-in.

Every tenant table has one policy (migrations/versions/0011): a row is seen, changed or
written only when

    current_setting('app.all_merchants') = 'on'                    -- all_merchants()
    OR merchant_id = current_setting('app.merchant_id')::integer   -- the current merchant

so a statement that forgot its merchant — an ORM query that escaped tenancy.py, a
hand-written one in this package whose WHERE lost its `merchant_id` — would read nothing
of another merchant's and could not write a row for one. Each setting is read once per
statement (the `SELECT` around it), not once per row.

Not the default: it cost more than the 5% allowed on the crediting path (bench/README.md,
"Row-level security"). The policies ship inert (row security is not enabled on the
tables); turning it on is two steps, in this order: DB_ROW_SECURITY=on on every process
(each statement's connection then carries its tenant context), then `flask row-security
on` (enables and forces row security on every table with the policy). `off` undoes the
second step.

With DB_ROW_SECURITY=on, before each statement a connection whose settings differ from
the statement's context (tenancy.tenant_context, all_merchants) gets one
`SELECT set_config(…)` first. Inside a transaction the settings are local to it (begin and
savepoint rollbacks forget what was set); on an autocommit connection (db.alone) they stay
with the connection, so a pooled connection that keeps serving one context pays nothing
more. Leaving a tenant context flushes what it changed, so rows are written as the
merchant that changed them. PostgreSQL never applies row security to a superuser or a role
with BYPASSRLS: the app warns once when it connects as one.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Callable

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import event

from loyalty.extensions import db
from loyalty.tenancy import bypassing, get_current_merchant_id, on_leaving_context

log = logging.getLogger(__name__)

POLICY_NAME = "tenant_isolation"
# The policy's expression, the same on every tenant table (the migration writes it).
POLICY = ("(SELECT current_setting('app.all_merchants', true)) = 'on' "
          "OR merchant_id = (SELECT NULLIF(current_setting('app.merchant_id', true), '')::integer)")

_SET = ("SELECT set_config('app.merchant_id', %(merchant)s, %(local)s), "
        "set_config('app.all_merchants', %(everyone)s, %(local)s)")
_APPLIED = "row_security"  # Connection.info: the settings this connection has now
_TRANSACTION_CONTROL = ("SAVEPOINT", "RELEASE", "ROLLBACK")
EVERYONE = ("", "on")
NOBODY = ("", "off")


def wanted() -> tuple[str, str]:
    """The settings for a statement run now: (merchant id or '', 'on' inside all_merchants)."""
    if bypassing():
        return EVERYONE
    merchant = get_current_merchant_id()
    return NOBODY if merchant is None else (str(merchant), "off")


def bind(info: dict, execute: Callable[[str, dict[str, Any]], Any], settings: tuple[str, str],
         *, local: bool) -> None:
    """Give a connection these settings unless it has them already (`info` is its
    Connection.info, `execute` runs a statement on it)."""
    if info.get(_APPLIED) != settings:
        execute(_SET, {"merchant": settings[0], "everyone": settings[1], "local": local})
        info[_APPLIED] = settings


def bind_driver(connection, info: dict, settings: tuple[str, str], *, local: bool) -> None:
    """`bind` for a statement run on psycopg's connection itself (db.driver.DriverInsert)."""
    bind(info, connection.execute, settings, local=local)


_installed: weakref.WeakKeyDictionary[sa.Engine, bool] = weakref.WeakKeyDictionary()


def install(engine: sa.Engine, *, enforce: bool, autocommit: bool = False) -> None:
    """With `enforce` (DB_ROW_SECURITY=on), bind every statement on this engine to its
    tenant context; else leave the engine exactly as it is. PostgreSQL only."""
    if not enforce or engine.dialect.name != "postgresql" or engine in _installed:
        return
    _installed[engine] = True
    event.listen(engine, "connect", _check_role)
    on_leaving_context(_flush_changes)

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        if not statement.startswith(_TRANSACTION_CONTROL):  # reads and writes no rows
            bind(conn.info, conn.connection.dbapi_connection.execute, wanted(),
                 local=not autocommit)

    event.listen(engine, "before_cursor_execute", before)
    if not autocommit:
        # A transaction starts with no local settings; a savepoint rolled back may have
        # taken some with it. Forgetting costs at most one set_config more.
        for name in ("begin", "rollback", "commit", "rollback_savepoint"):
            event.listen(engine, name, _forget)


def _flush_changes() -> None:
    """As a tenant context ends: write what it changed while it still holds. An object
    changed as a merchant and flushed later, when the unit of work commits outside that
    context, would be updated as nobody, which the policies refuse."""
    if not has_app_context() or not current_app.config.get("DB_ROW_SECURITY"):
        return
    if db.session.registry.has():
        session = db.session()
        if session.new or session.dirty or session.deleted:
            session.flush()


def enforcing(engine: sa.Engine) -> bool:
    """Whether statements on this engine are bound to their tenant."""
    return _installed.get(engine, False)


def _forget(conn, *args) -> None:
    conn.info.pop(_APPLIED, None)


_warned = False


def _check_role(dbapi_connection, record) -> None:
    """Say once per process when PostgreSQL will not apply the policies to this role."""
    global _warned
    if _warned:
        return
    row = dbapi_connection.execute(
        "SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles "
        "WHERE rolname = current_user").fetchone()
    dbapi_connection.commit()
    _warned = True
    if row and row[1]:
        log.warning("row-level security does not apply to the database role %s (a superuser "
                    "or BYPASSRLS): only tenancy.py keeps merchants apart; connect as an "
                    "ordinary role for the second line (README: Security)", row[0])


# --- the tables' switch (`flask row-security on|off|status`) -------------------------------


def tables(connection: sa.Connection) -> dict[str, bool]:
    """Every table with the policy, and whether row security is on (enabled and forced)."""
    rows = connection.execute(sa.text(
        "SELECT c.relname, c.relrowsecurity AND c.relforcerowsecurity FROM pg_policies p "
        "JOIN pg_class c ON c.relname = p.tablename AND c.relnamespace = "
        "to_regnamespace(p.schemaname) WHERE p.policyname = :name ORDER BY c.relname"),
        {"name": POLICY_NAME})
    return {name: bool(on) for name, on in rows}


def switch(connection: sa.Connection, on: bool) -> list[str]:
    """Enable and force (or disable) row security on every table with the policy; the
    tables. FORCE: the tables' owner, usually the app's own role, is held to it too."""
    names = list(tables(connection))
    for name in names:
        if on:
            connection.execute(sa.text(f'ALTER TABLE "{name}" ENABLE ROW LEVEL SECURITY'))
            connection.execute(sa.text(f'ALTER TABLE "{name}" FORCE ROW LEVEL SECURITY'))
        else:
            connection.execute(sa.text(f'ALTER TABLE "{name}" NO FORCE ROW LEVEL SECURITY'))
            connection.execute(sa.text(f'ALTER TABLE "{name}" DISABLE ROW LEVEL SECURITY'))
    return names
