"""The database's errors as the callback path tells them apart.

The callback's INSERT runs on psycopg itself (driver.DriverInsert), so its errors arrive
unwrapped; everything else comes through SQLAlchemy.
"""

from __future__ import annotations

import psycopg
import sqlalchemy as sa

# The database refused a value (out of range, too long, not encodable).
VALUE_REFUSED = (sa.exc.DataError, psycopg.DataError)
# Anything the database (or the way to it) failed with.
DATABASE_ERRORS = (sa.exc.SQLAlchemyError, psycopg.Error)
