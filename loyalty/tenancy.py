"""The current merchant, and scoping of every ORM query on tenant data.

The merchant is set at the edges only (API key, callback token, a task's first argument)
with `tenant_context(merchant_id)`. Every ORM SELECT, UPDATE and DELETE that touches a
`TenantScoped` model gets `merchant_id = current` added; with no merchant set it raises
`TenantNotSet` instead of quietly returning everybody's rows. `all_merchants()` is the one
bypass, for fan-out tasks, the CLI and authentication lookups; grep for it.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Callable, Iterator

from sqlalchemy import ForeignKey, event
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql import util as sql_util

_current_merchant: ContextVar[int | None] = ContextVar("current_merchant", default=None)
_bypass: ContextVar[bool] = ContextVar("tenancy_bypass", default=False)


class TenantNotSet(RuntimeError):
    """Tenant data was queried or written with no current merchant."""


class TenantMismatch(RuntimeError):
    """A row of one merchant was written while another merchant is current."""


class TenantScoped:
    """Mixin for every merchant-owned model: `merchant_id` NOT NULL, indexed.

    A model whose unique constraint starts with merchant_id sets `merchant_index = False`:
    that index already serves lookups by merchant, and a second one on the same column
    would only cost every insert and update (bench/README.md)."""

    merchant_index = True

    @declared_attr
    def merchant_id(cls) -> Mapped[int]:
        return mapped_column(
            ForeignKey("merchants.id", ondelete="CASCADE"), nullable=False,
            index=cls.merchant_index
        )


def current_merchant_id() -> int:
    """The current merchant's id; raises TenantNotSet when there is none."""
    merchant_id = _current_merchant.get()
    if merchant_id is None:
        raise TenantNotSet("no current merchant: resolve the tenant at the edge first")
    return merchant_id


def get_current_merchant_id() -> int | None:
    return _current_merchant.get()


@contextmanager
def tenant_context(merchant_id: int) -> Iterator[int]:
    """Run the block as `merchant_id`; nests and restores the previous merchant."""
    token = _current_merchant.set(int(merchant_id))
    try:
        yield int(merchant_id)
        _left()
    finally:
        _current_merchant.reset(token)


# Called as a tenant context (or all_merchants) ends normally, while it still holds:
# row-level security (db/row_security.py) flushes what the block changed here, so those
# rows are written as the merchant that changed them, not as whoever commits later. An
# all_merchants() block inside a merchant's context (a cross-merchant check, such as
# "is this production number free?") hands what is pending to that merchant instead:
# those are the merchant's own changes, and flushing them as the block ends would write
# them before the check could refuse them.
_on_leaving: list[Callable[[], None]] = []


def on_leaving_context(callback: Callable[[], None]) -> None:
    if callback not in _on_leaving:
        _on_leaving.append(callback)


def _left() -> None:
    for callback in _on_leaving:
        callback()


def set_current_merchant(merchant_id: int | None):
    """Set the merchant for the rest of a request; returns a token for `reset`."""
    return _current_merchant.set(merchant_id)


def reset_current_merchant(token) -> None:
    _current_merchant.reset(token)


@contextmanager
def all_merchants() -> Iterator[None]:
    """The only bypass of tenant scoping: fan-out tasks, CLI, authentication lookups."""
    token = _bypass.set(True)
    try:
        yield
        if _current_merchant.get() is None:
            _left()
    finally:
        _bypass.reset(token)


def bypassing() -> bool:
    """Whether the block runs inside `all_merchants()` (loyalty/db checks it before a
    statement that reads every merchant's rows)."""
    return _bypass.get()


def _tenant_tables() -> set:
    tables, pending = set(), list(TenantScoped.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if getattr(cls, "__table__", None) is not None:
            tables.add(cls.__table__)
    return tables


def _touches_tenant_data(state: ORMExecuteState) -> bool:
    # all_mappers misses entities that appear only in FROM, joins or subqueries
    # (`select(func.count()).select_from(Model)`), so look at every table instead.
    if any(issubclass(m.class_, TenantScoped) for m in state.all_mappers):
        return True
    found = sql_util.find_tables(state.statement, include_crud=True, include_joins=True,
                                 include_selects=True, check_columns=True)
    return not _tenant_tables().isdisjoint(found)


@event.listens_for(Session, "do_orm_execute")
def _scope_to_current_merchant(state: ORMExecuteState) -> None:
    # Lazy and column loads start from an object that was itself loaded under this
    # criteria (propagate_to_loaders), so they need no second check.
    if state.is_column_load or state.is_relationship_load:
        return
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if _bypass.get() or not _touches_tenant_data(state):
        return
    merchant_id = _current_merchant.get()
    if merchant_id is None:
        raise TenantNotSet(
            "tenant data queried with no current merchant; use tenant_context() "
            "or, for fan-out jobs only, all_merchants()"
        )
    state.statement = state.statement.options(
        with_loader_criteria(
            TenantScoped, lambda cls: cls.merchant_id == merchant_id, include_aliases=True
        )
    )


@event.listens_for(Session, "before_flush")
def _stamp_and_check_tenant(session: Session, flush_context, instances) -> None:
    if _bypass.get():
        return
    merchant_id = _current_merchant.get()
    for obj in session.new:
        if not isinstance(obj, TenantScoped):
            continue
        if obj.merchant_id is None:
            if merchant_id is None:
                raise TenantNotSet(f"cannot save a new {type(obj).__name__} with no current merchant")
            obj.merchant_id = merchant_id
        elif merchant_id is not None and obj.merchant_id != merchant_id:
            raise TenantMismatch(f"a {type(obj).__name__} of another merchant cannot be saved here")
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, TenantScoped) and merchant_id is not None and obj.merchant_id != merchant_id:
            raise TenantMismatch(f"a {type(obj).__name__} of another merchant cannot be changed here")
