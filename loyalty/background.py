"""Queue Celery tasks by name, published only after the database commit.

`enqueue(TaskName.X, merchant_id, ...)` records the task on the session. When the
transaction commits, the tasks are sent to Redis; when it (or the savepoint they were
queued in) rolls back, they are dropped, so a worker never sees rows that do not exist.
`loyalty/` never imports `tasks/`: tasks are sent by name.

Without Redis (development), tasks run in-process right after the commit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from enum import StrEnum
from typing import Any

from flask import current_app
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
    CHECK_CHANNEL_HEALTH = "channels.check_health"
    CHECK_ALL_CHANNELS = "channels.check_all"
    CHECK_HEALTH_BATCH = "channels.check_health_batch"
    REFRESH_TOKEN = "channels.refresh_token"
    CREDIT_WAITING = "payments.credit_waiting"
    STK_PUSH = "daraja.stk_push"
    STK_QUERY = "daraja.stk_query"
    SEND_SMS_BATCH = "sms.send_batch"
    SWEEP_SMS_OUTBOX = "sms.sweep_outbox"
    EXPIRE_ALL_POINTS = "ledger.expire_all"
    EXPIRE_POINTS = "ledger.expire_points"


QUEUES = ("callbacks", "daraja", "sms", "default")
_QUEUE_BY_PREFIX = {
    "channels.": "daraja",
    "daraja.": "daraja",
    "payments.": "callbacks",
    "sms.": "sms",
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


def enqueue(name: TaskName | str, *args: Any, countdown: float | None = None, **kwargs: Any) -> None:
    """Queue a task to be published after the current transaction commits."""
    session = db.session()
    owner = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_PENDING, []).append((owner, str(name), args, kwargs, countdown))


NUDGE_WINDOW_MS = 250


def nudge_crediting() -> None:
    """Ask a worker to credit waiting payments, after this commit (at once when the
    payment was stored by a statement that committed on its own).

    Under a burst, one message per NUDGE_WINDOW_MS is enough: the worker clears the nudge
    key before it reads, so a payment committed before its own nudge was suppressed is
    always seen by that read. If Redis is down, the beat sweep finds the payment later.

    Each process also skips Redis while it nudged less than a window ago, and then nudges
    once more when that window ends (see _NudgeThrottle): a burst costs each web process a
    few Redis calls a second instead of one per confirmation, and the last payment of a
    burst is still handed over within a window.
    """
    throttle = _throttle()
    if db.session().in_transaction() or throttle.eager:
        enqueue(TaskName.CREDIT_WAITING, coalesce=True)
    else:  # what was stored committed on its own already (db.alone.execute_alone): nudge now
        throttle.nudge()


class _NudgeThrottle:
    """The per-process filter in front of the Redis SET NX, one per app.

    A commit inside the quiet window does not touch Redis; the first such commit arms a
    timer that nudges at the end of the window, from a daemon thread with the app context.
    Every payment committed inside the window committed before that trailing nudge's
    SET NX, so the worker's read that follows sees it (the argument above, unchanged).
    """

    def __init__(self, app) -> None:
        self._app = app
        # In-process tasks (make run, tests) wait for the commit: read once, not per call.
        self.eager = bool(app.extensions["celery"].conf.task_always_eager)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._quiet_until = 0.0
        self._armed = False

    def nudge(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self._pid != os.getpid():  # forked after use: no timer came along
                self._pid, self._quiet_until, self._armed = os.getpid(), 0.0, False
            if now < self._quiet_until:
                if not self._armed:
                    self._armed = True
                    timer = threading.Timer(self._quiet_until - now, self._trailing)
                    timer.daemon = True
                    timer.start()
                return
            self._quiet_until = now + NUDGE_WINDOW_MS / 1000
        _nudge_now()

    def _trailing(self) -> None:
        with self._lock:
            self._armed = False
            self._quiet_until = time.monotonic() + NUDGE_WINDOW_MS / 1000
        try:
            with self._app.app_context():
                _nudge_now()
        except Exception as exc:  # never let the timer thread die loudly: the sweep covers it
            log.warning("could not nudge crediting: %s", type(exc).__name__)


def _throttle() -> _NudgeThrottle:
    app = current_app._get_current_object()
    throttle = app.extensions.get("crediting_nudge")
    if throttle is None:
        throttle = app.extensions.setdefault("crediting_nudge", _NudgeThrottle(app))
    return throttle


def _nudge_now() -> None:
    if _should_publish({"coalesce": True}):
        publish(TaskName.CREDIT_WAITING)


def clear_nudge() -> None:
    """Worker: called before reading waiting payments (see nudge_crediting)."""
    client = current_app.extensions.get("redis")
    if client is not None:
        try:
            client.delete(_nudge_key())
        except Exception as exc:  # Redis down: the sweep covers it
            log.warning("could not clear the crediting nudge: %s", type(exc).__name__)


def _nudge_key() -> str:
    return current_app.config["REDIS_KEY_PREFIX"] + "nudge:credit"


def _should_publish(kwargs: dict) -> bool:
    if not kwargs.pop("coalesce", False):
        return True
    client = current_app.extensions.get("redis")
    if client is None:
        return True
    try:
        return bool(client.set(_nudge_key(), "1", nx=True, px=NUDGE_WINDOW_MS))
    except Exception as exc:
        log.warning("could not coalesce the crediting nudge: %s", type(exc).__name__)
        return False


def discard(session: Session) -> None:
    """Forget every queued task (the unit of work failed)."""
    session.info.pop(_PENDING, None)
    session.info.pop(_DEFERRED, None)


def has_pending(session: Session) -> bool:
    return bool(session.info.get(_PENDING))


def pending(session: Session) -> list[tuple[str, tuple, dict]]:
    """What would be published if the session committed now (for tests and logs)."""
    return [(name, args, kwargs) for _, name, args, kwargs, _ in session.info.get(_PENDING, [])]


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
    nudged = False
    for _, name, args, kwargs, countdown in queued:
        if kwargs.get("coalesce"):  # the crediting nudge: at most one per commit, throttled
            if not nudged:
                nudged = True
                _throttle().nudge()
            continue
        publish(name, args, kwargs, countdown=countdown)


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
    celery = current_app.extensions["celery"]
    celery.loader.import_default_modules()
    seen: set[str] = set()
    for _, name, args, kwargs, _countdown in deferred:
        if kwargs.pop("coalesce", False):
            if name in seen:
                continue
            seen.add(name)
        celery.tasks[name].apply(args=args, kwargs=kwargs)
