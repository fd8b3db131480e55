"""One list shape for every collection of the API: `{"items": [...], "next_cursor": …}`.

Keyset pagination on the primary key: a page is `limit` rows after the cursor (the last id
of the previous page) in the collection's order, and `next_cursor` is null on the last
page. A cursor stays valid while rows are added, unlike an offset.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from loyalty.extensions import db


def keyset_page(query: sa.Select, key, *, limit: int, cursor: int | None = None,
                newest_first: bool = True) -> dict[str, Any]:
    """One page of `query` (ORM entities, no ORDER BY or LIMIT of its own) ordered by the
    column `key`, newest first unless told otherwise."""
    if cursor is not None:
        query = query.where(key < cursor if newest_first else key > cursor)
    query = query.order_by(key.desc() if newest_first else key.asc()).limit(limit + 1)
    rows = list(db.session.scalars(query).unique())
    return page_of(rows, limit, lambda row: getattr(row, key.key))


def page_of(rows: list, limit: int, key_of) -> dict[str, Any]:
    """The page of `rows` (fetched with limit + 1 to see whether more follow)."""
    items = rows[:limit]
    return {"items": items, "next_cursor": key_of(items[-1]) if len(rows) > limit else None}


def whole(items: list) -> dict[str, Any]:
    """A collection that is always one page (a report over a bounded window, an export)."""
    return {"items": list(items), "next_cursor": None}
