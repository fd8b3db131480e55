"""The one place that commits or rolls back.

Public service functions are `@transactional`: the outermost call commits on success and
rolls back on any error; nested calls join the outer unit. Helpers only `flush()`.
Tasks queued with `background.enqueue` are published only once the commit succeeded.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import wraps
from typing import Callable, Iterator, ParamSpec, TypeVar

from loyalty import background
from loyalty.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

_DEPTH = "uow_depth"


@contextmanager
def unit_of_work() -> Iterator[None]:
    """Commit the block's changes as one transaction, or roll all of them back."""
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    session.info[_DEPTH] = depth + 1
    try:
        yield
        if depth == 0 and _has_work(session):
            session.commit()
    except BaseException:
        if depth == 0:
            session.rollback()
            # A rollback with no transaction begun fires no event: drop tasks explicitly.
            background.discard(session)
        raise
    finally:
        session.info[_DEPTH] = depth
    if depth == 0:
        # In-process (eager) tasks run only now, outside the committed transaction.
        background.run_deferred(session)


def _has_work(session) -> bool:
    """Anything to commit: a transaction begun, objects not flushed yet, tasks queued.
    A unit of work whose only statement ran on its own in autocommit (db.alone.execute_alone,
    the callback path) has none, and skips the commit's bookkeeping."""
    return bool(session.in_transaction() or session.new or session.dirty or session.deleted
                or background.has_pending(session))


def transactional(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate a service entry point so it runs in one unit of work."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with unit_of_work():
            return fn(*args, **kwargs)

    return wrapper
