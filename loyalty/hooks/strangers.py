"""Callbacks to tokens no channel has: counted and briefly logged, never stored.

Anyone can post to /hooks/<anything>/…; keeping those bodies (or caching the miss) let a
stranger fill the database and every web process's memory. What is left of them is a
per-process count and one short log line each — at most LOG_LINES_PER_MINUTE a minute, so
a flood cannot fill the logs either; the next line says how many were not logged.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)

LOG_LINES_PER_MINUTE = 10

_lock = threading.Lock()
_state = {"count": 0, "window": 0.0, "logged": 0, "unlogged": 0}


def note(kind: str, token: str, remote_addr: str | None, size: int | None) -> None:
    """Count a callback to an unknown token and log it (token shown by its last 4)."""
    now = time.monotonic()
    with _lock:
        _state["count"] += 1
        if now - _state["window"] >= 60:
            _state["window"], _state["logged"] = now, 0
        if _state["logged"] >= LOG_LINES_PER_MINUTE:
            _state["unlogged"] += 1
            return
        _state["logged"] += 1
        total, unlogged, _state["unlogged"] = _state["count"], _state["unlogged"], 0
    log.warning("callback to an unknown token …%s: %s from %s, %s bytes, not stored "
                "(%d in this process%s)", _printable(token[-4:]), _printable(kind[:40]),
                remote_addr, size if size is not None else "?", total,
                f"; {unlogged} more not logged" if unlogged else "")


def count() -> int:
    """Callbacks to unknown tokens this process has answered 404 since it started."""
    return _state["count"]


def _printable(text: str) -> str:
    return text.encode("unicode_escape").decode("ascii")
