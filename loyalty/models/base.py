"""Column types and mixins shared by every model."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from enum import Enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC values only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def render_migration_type(type_: str, obj, autogen_context):
    """Alembic autogenerate: write project column types as their plain SQL type."""
    if type_ == "type" and isinstance(obj, sa.types.TypeDecorator):
        return "sa." + repr(obj.impl)
    return False


def money() -> sa.Numeric:
    """KES amounts: Decimal, never float."""
    return sa.Numeric(14, 2, asdecimal=True)


def enum_column(enum_cls: type[Enum], length: int = 20, name: str | None = None) -> sa.Enum:
    """Enums stored by value, as plain strings with a CHECK (no native PG enum to migrate).

    `name` names the CHECK constraint; give one when a table has two columns of one enum.
    """
    return sa.Enum(
        enum_cls,
        values_callable=lambda e: [m.value for m in e],
        native_enum=False,
        length=length,
        validate_strings=True,
        create_constraint=True,
        name=name or enum_cls.__name__.lower(),
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow, nullable=False
    )


__all__ = ["Decimal", "TimestampMixin", "UTCDateTime", "enum_column", "money", "utcnow"]
