"""The one place that commits or rolls back, and the one rule for where a unit begins.

A web or API request calls a public service marked `@transactional`; a Celery task's run
is one unit of work, opened by the task base class (`celery_app.AppTask`). Services called
inside either join it: units nest, only the outermost commits (on success) or rolls back
(on any error), and helpers only `flush()`.

The named exception: a task declared with `owns_transaction=False` runs a service that
commits in steps of its own, because a gateway call (Safaricom, Africa's Talking) must not
hold a transaction open, or because each batch or claim must be committed before the next
one begins. Such a service marks each step with `with unit_of_work():`.

Tasks queued with `background.enqueue` are published only once the commit succeeded, and
`enqueue` outside any unit of work raises instead of never publishing.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import wraps
from typing import Callable, Iterator, ParamSpec, TypeVar

from loyalty import background
from loyalty.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

_DEPTH = background.UNIT_DEPTH


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
