"""Africa's Talking's send paths at gateway speed: `flask emulator sms-gateway`.

Why a second server: a real gateway answers from someone else's machines, but the
emulator's Flask views run on the platform's own cores, and at a few hundred texts a
second each call through Flask, gunicorn's threads and four Redis round trips cost the
emulator about 2 ms of CPU (half a core at 250 texts/s on the benchmark's 2 cores,
bench/README.md). The benchmark of DESIGN.md section 14 would then measure the emulator,
not the platform's sender.

This server answers the same paths with the same answers (sms_logic.py decides them, as
for the views) from one asyncio loop: a waiting call costs no thread, the emulator's
settings (latency, error rate, statuses, the account's key) and fault rules are read from
the shared state a few times a second instead of on every call, and accepted messages are
written to the inbox in batches. It shares the emulator's state (`REDIS_URL` and
`REDIS_KEY_PREFIX`), so `/_emulator/control/settings` on the emulator steers it and the
emulator's inbox and page show its texts. It speaks just enough HTTP/1.1 for the
platform's client and AT's SDKs: keep-alive, Content-Length bodies, forms or JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from loyalty.emulator import sms_logic
from loyalty.emulator.core import Emulator
from loyalty.emulator.sms_reports import callback_base, schedule_report

log = logging.getLogger("loyalty.emulator.sms_gateway")

REFRESH_SECONDS = 0.25  # how stale a settings change may be when a call reads it
FLUSH_SECONDS = 0.1  # how long an accepted text may wait to appear in the inbox
MAX_BODY = 64 * 1024  # a text is at most a few hundred bytes; more is not a send
REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
           404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}
ROUTES = {("POST", "/version1/messaging"): sms_logic.messaging,
          ("POST", "/version1/messaging/bulk"): sms_logic.hashed,
          ("GET", "/version1/user"): sms_logic.user_data}


class Gateway:
    """One server's view of the emulator: settings refreshed, inbox writes batched."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.state = emulator.state
        self.settings: dict[str, Any] = {}
        self.sms_settings: dict[str, Any] = {}
        self.has_rules = False
        self.reports = False
        self.pending: list[sms_logic.Kept] = []
        self.connections: set[asyncio.Task] = set()  # ended with the server

    def refresh(self) -> None:
        """Blocking reads of the shared state (run on the loop's executor)."""
        self.settings = self.state.settings()
        self.sms_settings = self.state.sms_settings()
        self.has_rules = any(rule["target"] == "sms" for rule in self.state.faults())
        self.reports = (self.settings["sms_delivery"] != "off"
                        and callback_base(self.emulator) is not None)

    def flush(self, batch: list[sms_logic.Kept]) -> None:
        """Blocking: accepted texts into the inbox, each with its delivery report."""
        for kept in batch:
            self.state.record_sms(kept.record)
            if self.reports:
                schedule_report(self.emulator, kept.record["message_id"], kept.number)

    async def answer(self, method: str, target: str, headers: dict[str, str],
                     body: bytes) -> tuple[int, dict[str, Any] | str]:
        url = urlsplit(target)
        if url.path == "/healthz":
            return 200, {"status": "ok", "emulator": "sms-gateway"}
        decide = ROUTES.get((method, url.path))
        if decide is None:
            return 404, "Not Found"
        if self.has_rules:  # rare: only while a test has armed an SMS fault
            rules = await asyncio.get_running_loop().run_in_executor(
                None, self.state.due_faults, "sms", url.path)
        else:
            rules = []
        delay, error = sms_logic.faults(self.settings, lambda: rules)
        if delay:
            await asyncio.sleep(delay)
        if error is not None:
            return error.status, error.body
        reply = decide(_fields(url.query, headers, body), headers.get("apikey", ""),
                       self.sms_settings)
        self.pending += reply.kept
        return reply.status, reply.body


def _fields(query: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A form, a JSON object (hand-written clients) or the query string (the user-data GET)."""
    if not body:
        return dict(parse_qsl(query))
    text = body.decode("utf-8", "replace")
    if headers.get("content-type", "").startswith("application/json"):
        try:
            loaded = json.loads(text)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return dict(parse_qsl(text, keep_blank_values=True))


def _response(status: int, body: dict[str, Any] | str, keep_alive: bool) -> bytes:
    if isinstance(body, str):
        payload, kind = body.encode(), "text/plain; charset=utf-8"
    else:
        payload, kind = json.dumps(body).encode(), "application/json"
    head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(payload)}\r\n"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n")
    return head.encode("latin-1") + payload


async def _connection(gateway: Gateway, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
    task = asyncio.current_task()
    gateway.connections.add(task)
    try:
        while True:
            line = await reader.readline()
            if not line.strip():
                break
            method, target, *version = line.decode("latin-1").split()
            headers: dict[str, str] = {}
            while True:
                raw = await reader.readline()
                if raw in (b"\r\n", b"\n", b""):
                    break
                name, _, value = raw.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            keep_alive = headers.get("connection", "").lower() != "close" and \
                version[:1] == ["HTTP/1.1"]
            if length > MAX_BODY:
                writer.write(_response(413, "Payload Too Large", False))
                break
            body = await reader.readexactly(length) if length else b""
            status, answer = await gateway.answer(method, target, headers, body)
            writer.write(_response(status, answer, keep_alive))
            await writer.drain()
            if not keep_alive:
                break
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass  # a client gone or a request we cannot read: the connection ends
    finally:
        gateway.connections.discard(task)
        writer.close()


async def _every(seconds: float, work) -> None:
    loop = asyncio.get_running_loop()
    while True:
        try:
            await work(loop)
        except Exception:  # Redis blinked: keep serving on what was last read
            log.exception("SMS gateway: state not read or written")
        await asyncio.sleep(seconds)


async def serve(emulator: Emulator, host: str, port: int, *,
                started: asyncio.Event | None = None) -> None:
    """Serve until cancelled."""
    gateway = Gateway(emulator)
    gateway.refresh()

    async def refresh(loop):
        await loop.run_in_executor(None, gateway.refresh)

    async def flush(loop):
        batch, gateway.pending = gateway.pending, []
        if batch:
            await loop.run_in_executor(None, gateway.flush, batch)

    server = await asyncio.start_server(lambda r, w: _connection(gateway, r, w), host, port,
                                        backlog=1024)
    tasks = [asyncio.create_task(_every(REFRESH_SECONDS, refresh)),
             asyncio.create_task(_every(FLUSH_SECONDS, flush))]
    if started is not None:
        started.set()
    try:
        async with server:
            await server.serve_forever()
    finally:
        for task in [*tasks, *gateway.connections]:
            task.cancel()
        await asyncio.gather(*tasks, *gateway.connections, return_exceptions=True)
        await flush(asyncio.get_running_loop())  # nothing accepted is left out of the inbox
