"""Queue Celery tasks by name, published only after the database commit.

`enqueue(TaskName.X, merchant_id, ...)` records the task on the session. When the
transaction commits, the tasks are sent to Redis; when it (or the savepoint they were
queued in) rolls back, they are dropped, so a worker never sees rows that do not exist.
`loyalty/` never imports `tasks/`: tasks are sent by name.

Without Redis (development), tasks run in-process right after the commit. `after_commit`
queues a callback the same way (the crediting nudge, nudge.py).
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from typing import Any, Callable

from flask import current_app, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from loyalty.extensions import db

log = logging.getLogger(__name__)

_PENDING = "pending_tasks"
_DEFERRED = "deferred_tasks"


class TaskName(StrEnum):
    """Every task's explicit name; the prefix picks its queue."""

    VERIFY_CHANNEL = "channels.verify"
    REGISTER_URLS = "channels.register_urls"
    CHECK_ALL_CHANNELS = "channels.check_all"
    CHECK_HEALTH_BATCH = "channels.check_health_batch"
    REGISTER_PULL = "channels.register_pull"
    RECONCILE_CHANNEL = "daraja.reconcile"
    RECONCILE_ALL = "payments.reconcile_all"
    CREDIT_WAITING = "payments.credit_waiting"
    STK_PUSH = "daraja.stk_push"
    STK_QUERY = "daraja.stk_query"
    STK_FIND_RECEIPT = "daraja.stk_find_receipt"
    SWEEP_STK_REQUESTS = "stk.sweep_requests"
    REVERSE_PAYMENT = "daraja.reverse"
    GIVE_UP_UNANSWERED = "daraja.give_up_unanswered"
    SEND_SMS_BATCH = "sms.send_batch"
    SWEEP_SMS_OUTBOX = "sms.sweep_outbox"
    EXPIRE_ALL_POINTS = "ledger.expire_all"
    EXPIRE_POINTS = "ledger.expire_points"
    PURGE_CALLBACK_LOG = "callback_log.purge"
    SEND_PASSWORD_RESET = "accounts.send_password_reset"
    DELIVER_WEBHOOKS = "webhooks.deliver"
    SWEEP_WEBHOOKS = "webhooks.sweep"


# `webhooks` is a queue of its own: a slow merchant server never delays crediting.
QUEUES = ("callbacks", "daraja", "sms", "webhooks", "default")
_QUEUE_BY_PREFIX = {
    "channels.": "daraja",
    "daraja.": "daraja",
    "payments.": "callbacks",
    "sms.": "sms",
    "webhooks.": "webhooks",
}


def queue_for(name: str) -> str:
    """The queue a task is routed to, by its name's prefix."""
    for prefix, queue in _QUEUE_BY_PREFIX.items():
        if name.startswith(prefix):
            return queue
    return "default"


def route_task(name: str, args, kwargs, options, task=None, **kw) -> dict[str, str]:
    """Celery router: the same routing for the worker's own retries and beat."""
    return {"queue": queue_for(name)}


# unit_of_work.py counts how deep the session is in units of work under this key; enqueue
# reads it (this module sits below unit_of_work.py, which imports it, so it cannot ask it).
UNIT_DEPTH = "uow_depth"


def enqueue(name: TaskName | str, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Queue a task to be published after the current unit of work commits.

    Outside any unit of work nothing would ever commit the session, so the task would
    silently never be published: that is refused. Web and API requests enqueue through
    `@transactional` services; a task's run is a unit of work of its own (AppTask)."""
    _queue(str(name), args, kwargs, countdown)


def after_commit(callback: Callable[[], None]) -> None:
    """Call `callback` once the current transaction commits, exactly like a queued task:
    dropped on rollback (of the savepoint it was queued in too), called once per commit
    however often it was queued, and with in-process tasks run with them, in order,
    after the unit of work (the crediting nudge, loyalty/nudge.py, uses it)."""
    _queue(callback, (), {}, None)


def _queue(item: str | Callable[[], None], args: tuple, kwargs: dict,
           countdown: float | None) -> None:
    session = db.session()
    if not session.info.get(UNIT_DEPTH):
        what = item if isinstance(item, str) else getattr(item, "__qualname__", repr(item))
        raise RuntimeError(
            f"{what!r} queued outside a unit of work: nothing would commit and run or publish "
            "it. Queue it from a @transactional service, inside `with unit_of_work():`, or "
            "from a task that owns its transaction.")
    owner = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((owner, item, args, kwargs, countdown))


def discard(session: Session) -> None:
    """Forget every queued task (the unit of work failed)."""
    session.info.pop(_PENDING, None)
    session.info.pop(_DEFERRED, None)


def has_pending(session: Session) -> bool:
    return bool(session.info.get(_PENDING))


def pending(session: Session) -> list[tuple[str, tuple, dict]]:
    """The tasks that would be published if the session committed now (for tests and logs)."""
    return [(name, args, kwargs) for _, name, args, kwargs, _ in session.info.get(_PENDING, [])
            if not callable(name)]


def _is_within(transaction: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    queued = session.info.get(_PENDING)
    if queued and previous_transaction.parent is None:
        # The whole transaction rolled back (tasks queued before autobegin have no owner).
        session.info.pop(_PENDING, None)
    elif queued:
        session.info[_PENDING] = [
            item for item in queued if not _is_within(item[0], previous_transaction)
        ]


@event.listens_for(Session, "after_commit")
def _publish_committed(session: Session) -> None:
    queued = session.info.pop(_PENDING, [])
    if not queued:
        return
    celery = current_app.extensions["celery"]
    if celery.conf.task_always_eager:
        session.info.setdefault(_DEFERRED, []).extend(queued)
        return
    called: list[Callable[[], None]] = []
    for _, item, args, kwargs, countdown in queued:
        if callable(item):
            _call_once(item, called)
        else:
            publish(item, args, kwargs, countdown=countdown)


def _call_once(callback: Callable[[], None], called: list[Callable[[], None]]) -> None:
    if callback not in called:  # equal, not identical: a bound method is new at every access
        called.append(callback)
        callback()


def publish(name: str, args: tuple = (), kwargs: dict | None = None, *,
            countdown: float | None = None) -> bool:
    """Send one task now; False (logged) when the broker cannot be reached.

    A failed publish never fails the caller: what matters is already committed, and the
    beat sweepers pick up work whose task was lost.
    """
    celery = current_app.extensions["celery"]
    try:
        celery.send_task(name, args=list(args), kwargs=kwargs or {}, queue=queue_for(name),
                         countdown=countdown, retry=False)
        return True
    except Exception as exc:  # broker down: kombu raises several unrelated types
        log.warning("could not publish task %s: %s", name, type(exc).__name__)
        return False


def run_deferred(session: Session) -> None:
    """Run in-process (eager) tasks queued by the last commit, in order."""
    deferred = session.info.pop(_DEFERRED, None)
    if not deferred:
        return
    if current_app.config.get("TASKS_IN_THREAD") and has_request_context():
        # `make run`: the page that started a Safaricom step answers at once and polls its
        # status, as it does with a worker; CLI runs and tests keep running them inline.
        app = current_app._get_current_object()
        threading.Thread(target=_run_in_thread, args=(app, deferred), daemon=True,
                         name="in-process-tasks").start()
        return
    _run_items(deferred)


def _run_in_thread(app, deferred: list) -> None:
    try:
        with app.app_context():
            _run_items(deferred)
    except Exception:  # a thread's exception would vanish: log it like a worker would
        log.exception("in-process tasks failed")


def _run_items(deferred: list) -> None:
    called: list[Callable[[], None]] = []
    for _, item, args, kwargs, _countdown in deferred:
        if callable(item):
            _call_once(item, called)
        else:
            run_here(item, args, kwargs)


def run_here(name: str, args: tuple = (), kwargs: dict | None = None) -> None:
    """Run a task in this process now (in-process tasks, without REDIS_URL)."""
    celery = current_app.extensions["celery"]
    celery.loader.import_default_modules()
    celery.tasks[name].apply(args=args, kwargs=kwargs or {})
