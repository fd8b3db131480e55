"""Schema conditions the models declare as SQL (no statement runs here)."""

from __future__ import annotations

import sqlalchemy as sa


def partial(condition: str) -> dict[str, sa.TextClause]:
    """The `postgresql_where` and `sqlite_where` of a partial index: one condition, the
    same on both databases (PostgreSQL in production, SQLite for `make run`)."""
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def exclusion_where(condition: str) -> sa.TextClause:
    """The WHERE of an exclusion constraint (PostgreSQL only: migration 0006)."""
    return sa.text(condition)
