"""The one reviewed module for dialect-specific Core statements on tenant tables.

ORM events do not see Core INSERTs, so every statement here sets `merchant_id` from the
current merchant itself. PostgreSQL in production, SQLite for `make run`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from loyalty.extensions import db
from loyalty.tenancy import current_merchant_id


def _insert(model):
    dialect = db.session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


def insert_ignore(model, values: dict[str, Any], conflict: list[str], *,
                  where: sa.ColumnElement | None = None, merchant_id: int | None = None) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING; the new id, or None when the row already existed.

    The row belongs to the current merchant, or to `merchant_id` on the callback path,
    which resolves the merchant from the URL token before any tenant context exists.
    """
    owner = merchant_id if merchant_id is not None else current_merchant_id()
    statement = _insert(model).values(merchant_id=owner, **values)
    statement = statement.on_conflict_do_nothing(index_elements=conflict, index_where=where)
    return db.session.execute(statement.returning(model.id)).scalar()
