"""The crediting nudge: how a stored payment asks a worker to credit it.

A callback stores its payment and answers Safaricom; crediting happens in the worker's
`payments.credit_waiting`, in batches. Between the two sits one Redis message, and under a
burst one message per `NUDGE_WINDOW_MS` (a setting, 250 ms) is enough: the key
`nudge:credit` (SET NX, expiring after the window) lets one through, and the worker deletes
the key before it reads waiting payments, so a payment committed before its own nudge was
suppressed is always seen by that read. If Redis is down, the beat sweep (`SWEEP_INTERVAL`) finds the payment later.

Each process also skips Redis while it nudged less than a window ago, and then nudges
once more when that window ends (see _NudgeThrottle): a burst costs each web process a
few Redis calls a second instead of one per confirmation, and the last payment of a
burst is still handed over within a window.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from flask import current_app

from loyalty import background
from loyalty.background import TaskName
from loyalty.extensions import db

log = logging.getLogger(__name__)

def nudge_crediting() -> None:
    """Ask a worker to credit waiting payments, after this commit (at once when the
    payment was stored by a statement that committed on its own)."""
    throttle = _throttle()
    if throttle.eager:  # in-process tasks: credit once this unit of work is over
        background.after_commit(_credit_here)
    elif db.session().in_transaction():  # once per commit, however many payments it held
        background.after_commit(throttle.nudge)
    else:  # stored by a statement that committed on its own (db.alone.execute_alone): now
        throttle.nudge()


def clear_nudge() -> None:
    """Worker: called before reading waiting payments (see the module's docstring)."""
    client = current_app.extensions.get("redis")
    if client is not None:
        try:
            client.delete(_nudge_key())
        except Exception as exc:  # Redis down: the sweep covers it
            log.warning("could not clear the crediting nudge: %s", type(exc).__name__)


def _credit_here() -> None:
    background.run_here(TaskName.CREDIT_WAITING)


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
        self._window = app.config["NUDGE_WINDOW_MS"] / 1000
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._quiet_until = 0.0
        self._armed = False
        self.timer: threading.Timer | None = None  # the trailing nudge, joinable in tests

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
                    self.timer = timer
                return
            self._quiet_until = now + self._window
        _nudge_now()

    def _trailing(self) -> None:
        with self._lock:
            self._armed = False
            self._quiet_until = time.monotonic() + self._window
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
    if _first_in_window():
        background.publish(TaskName.CREDIT_WAITING)


def _nudge_key() -> str:
    return current_app.config["REDIS_KEY_PREFIX"] + "nudge:credit"


def _first_in_window() -> bool:
    """The Redis SET NX: True for the one nudge of a window (and when there is no Redis)."""
    client = current_app.extensions.get("redis")
    if client is None:
        return True
    try:
        window = current_app.config["NUDGE_WINDOW_MS"]
        return bool(client.set(_nudge_key(), "1", nx=True, px=window))
    except Exception as exc:
        log.warning("could not coalesce the crediting nudge: %s", type(exc).__name__)
        return False
