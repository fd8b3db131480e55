"""Outgoing callbacks: how the emulator calls the platform back, as Safaricom would.

Safaricom answers the API call first and calls back later, so by default every callback runs
in a daemon thread after the response has gone. `EMULATOR_SYNC_CALLBACKS=True` runs them
inline instead (only for tests whose receiver is not the server answering the request, or the
single-threaded server would wait on itself). Every attempt is recorded, and no failure of
the platform's endpoint can crash the emulator: a dead callback URL is a normal test case.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from loyalty.emulator.payloads import eat_now
from loyalty.emulator.state import EmulatorState

log = logging.getLogger(__name__)

# (url, json body, timeout seconds) -> (HTTP status, response text)
Transport = Callable[[str, dict[str, Any], float], tuple[int, str]]


def requests_transport(url: str, body: dict[str, Any], timeout: float) -> tuple[int, str]:
    # A session per call, closed at once: threads share nothing and leak no sockets.
    with requests.Session() as session:
        response = session.post(url, json=body, timeout=timeout)
        try:
            return response.status_code, response.text
        finally:
            response.close()


def requests_form_transport(url: str, body: dict[str, Any], timeout: float) -> tuple[int, str]:
    """Africa's Talking posts forms (application/x-www-form-urlencoded), not JSON."""
    with requests.Session() as session:
        response = session.post(url, data=body, timeout=timeout)
        try:
            return response.status_code, response.text
        finally:
            response.close()


class Dispatcher:
    """Runs a job now or in a daemon thread after an optional delay."""

    def __init__(self, sync: bool = False) -> None:
        self.sync = sync
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None], delay: float = 0.0) -> None:
        if self.sync:
            self._run(job, delay)
            return
        thread = threading.Thread(target=self._run, args=(job, delay), daemon=True,
                                  name="emulator-callback")
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, job: Callable[[], None], delay: float) -> None:
        try:
            if delay > 0:
                time.sleep(delay)
            job()
        except Exception:  # never let a callback thread die with a traceback
            log.exception("emulator: callback job failed")
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def join(self, timeout: float = 10.0) -> bool:
        """Wait for pending callbacks (tests and shutdown); True when none is left."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [t for t in self._threads if t.is_alive()]
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pending[0].join(remaining)


class Deliverer:
    """POSTs one callback and records the attempt in the shared state."""

    def __init__(self, state: EmulatorState, transport: Transport = requests_transport,
                 form_transport: Transport = requests_form_transport) -> None:
        self.state = state
        self.transport = transport
        self.form_transport = form_transport

    def deliver(self, kind: str, url: str | None, body: dict[str, Any] | None,
                ref: str = "", *, form: bool = False,
                shown_url: str | None = None) -> dict[str, Any]:
        """Returns the recorded delivery: url, payload, status, response, error. `form`
        posts the body as a form (Africa's Talking); `shown_url` is recorded instead of a
        URL whose path holds a secret."""
        record: dict[str, Any] = {
            "kind": kind, "ref": ref, "url": shown_url or url, "payload": body, "status": None,
            "response": None, "error": None, "at": eat_now().isoformat(timespec="seconds"),
        }
        if not url:
            record["error"] = "no callback URL"
        else:
            timeout = float(self.state.settings()["callback_timeout"])
            try:
                send = self.form_transport if form else self.transport
                status, text = send(url, body or {}, timeout)
                record["status"], record["response"] = status, text[:2000]
            except (requests.RequestException, OSError, ValueError) as exc:
                # Timeouts, refused connections, bad URLs: the platform being down is a
                # test case, not an emulator failure.
                record["error"] = f"{type(exc).__name__}: {exc}"[:500]
        self.state.record_delivery(record)
        return record

    def note(self, kind: str, ref: str, error: str, body: dict[str, Any] | None = None) -> None:
        """Record a callback Safaricom would not send (no URLs registered, rejected, ...)."""
        self.state.record_delivery({
            "kind": kind, "ref": ref, "url": None, "payload": body, "status": None,
            "response": None, "error": error, "at": eat_now().isoformat(timespec="seconds"),
        })
