"""The callback's INSERT, run on psycopg's connection itself (bench/README.md)."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

_drivers_lock = threading.Lock()


class DriverInsert:
    """A Core INSERT compiled once by SQLAlchemy — its SQL, the Python-side defaults it
    fills in (timestamps, status) and the conversions of its column types — and run on
    psycopg's connection itself, without SQLAlchemy's execution layer: ~0.1 ms of CPU less
    per confirmation, a fifth of the callback's own cost (bench/README.md). The statement
    is still defined once, by the model; tests compare its rows with SQLAlchemy's. The
    tenant is checked by its caller (inserts.insert_ignore_alone)."""

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


def driver_insert(statement: sa.Insert, keys: tuple[str, ...], dialect) -> DriverInsert:
    """The DriverInsert of a statement built once (inserts.insert_ignore_statement)."""
    key = (id(statement), keys)
    writer = _drivers.get(key)
    if writer is None:
        with _drivers_lock:
            writer = _drivers.setdefault(key, DriverInsert(statement, keys, dialect))
    return writer
