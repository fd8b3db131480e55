"""A merchant's webhook receiver for tests: a real HTTP server on a loopback port that
records what it is sent and answers as the test scripts it (statuses, a delay)."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    arrived: float
    answered: float | None = None


@dataclass
class Receiver:
    url: str
    statuses: list[int] = field(default_factory=list)  # answered in order, then 200
    delay: float = 0.0
    # When set, an answer also waits (at most 30 s) until the test releases it: an
    # ordering the test asserts then holds however loaded the machine is.
    hold: threading.Event | None = None
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of_type(self, event_type: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.headers.get("Loyalty-Event-Type") == event_type]

    def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"the receiver got {len(self.received)} requests, not {count}")


@contextmanager
def receiving(statuses: list[int] | None = None, delay: float = 0.0,
              hold: bool = False) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 for the duration of the block."""
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            receiver = state["receiver"]
            length = int(self.headers.get("Content-Length") or 0)
            record = Received({k: v for k, v in self.headers.items()},
                              self.rfile.read(length).decode("utf-8"), time.monotonic())
            with receiver.lock:
                receiver.received.append(record)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            time.sleep(receiver.delay)
            if receiver.hold is not None:
                receiver.hold.wait(30)
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"receiver is down")
            record.answered = time.monotonic()

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks/loyalty",
                        statuses=list(statuses or []), delay=delay,
                        hold=threading.Event() if hold else None)
    state["receiver"] = receiver
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        server.shutdown()
        server.server_close()
