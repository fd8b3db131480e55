"""Fixtures for the emulator: an app with it mounted (fresh Redis keys per test) and a real
HTTP receiver on 127.0.0.1 standing in for the platform's callback endpoints."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

import loyalty.emulator
from loyalty.emulator import Emulator
from loyalty.emulator.state import SANDBOX_PASSKEY
from tests.conftest import make_test_app

DEMO_KEY, DEMO_SECRET = "demo-consumer-key", "demo-consumer-secret"
TEST_PHONE = "254708374149"


class Receiver:
    """Records every POST; answers from `replies[path]` or with a plain acceptance."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.replies: dict[str, tuple[int, Any]] = {}
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    receiver.calls.append((self.path, json.loads(raw or b"null")))
                    receiver._cond.notify_all()
                status, body = receiver.replies.get(
                    self.path, (200, {"ResultCode": 0, "ResultDesc": "Accepted"})
                )
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def bodies(self, path: str) -> list[Any]:
        with self._cond:
            return [body for p, body in self.calls if p == path]

    def wait(self, path: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len([p for p, _ in self.calls if p == path]) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{path}: expected {count} call(s), got {self.calls}")
                self._cond.wait(remaining)
        return self.bodies(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def make_emulator_app(database_url: str, redis_prefix: str) -> Iterator[Callable[..., Flask]]:
    """Build apps with the emulator mounted; each test gets its own Redis key prefix."""
    built: list[Flask] = []
    prefix = f"{redis_prefix}emu-{uuid.uuid4().hex[:8]}:"

    def build(**overrides: Any) -> Flask:
        settings = {"DARAJA_EMULATOR": True, "REDIS_KEY_PREFIX": prefix, **overrides}
        app = make_test_app(database_url, redis_prefix, **settings)
        loyalty.emulator.init_app(app)
        built.append(app)
        return app

    yield build
    for app in built:
        app.extensions["emulator"].close()


@pytest.fixture
def emu_app(make_emulator_app) -> Flask:
    return make_emulator_app()


@pytest.fixture
def emu(emu_app: Flask) -> Emulator:
    return emu_app.extensions["emulator"]


@pytest.fixture
def emu_client(emu_app: Flask) -> FlaskClient:
    return emu_app.test_client()


def basic(key: str = DEMO_KEY, secret: str = DEMO_SECRET) -> dict[str, str]:
    encoded = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def token(client: FlaskClient, key: str = DEMO_KEY, secret: str = DEMO_SECRET) -> str:
    response = client.get("/_emulator/daraja/oauth/v1/generate?grant_type=client_credentials",
                          headers=basic(key, secret))
    assert response.status_code == 200, response.data
    return response.get_json()["access_token"]


def bearer(client: FlaskClient, **kwargs: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(client, **kwargs)}"}


def stk_password(shortcode: str, stamp: str, passkey: str = SANDBOX_PASSKEY) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{stamp}".encode()).decode()


def register(client: FlaskClient, headers: dict[str, str], shortcode: str, base: str,
             version: str = "v2", response_type: str = "Completed"):
    return client.post(f"/_emulator/daraja/mpesa/c2b/{version}/registerurl", headers=headers,
                       json={"ShortCode": shortcode, "ResponseType": response_type,
                             "ConfirmationURL": f"{base}/confirm",
                             "ValidationURL": f"{base}/validate"})


def add_app(client: FlaskClient, **fields: Any) -> None:
    body = {"consumer_key": "key-" + uuid.uuid4().hex[:6], "consumer_secret": "secret",
            "products": ["c2b_v2"], "shortcodes": ["600111"], "environment": "sandbox", **fields}
    response = client.post("/_emulator/control/apps", json=body)
    assert response.status_code == 201, response.get_json()


def pay(client: FlaskClient, emu: Emulator, amount: int, trans_id: str) -> None:
    """A customer pays 600000 through the control API; waits for its callbacks."""
    response = client.post("/_emulator/control/c2b-payment", json={
        "ShortCode": "600000", "Amount": amount, "Msisdn": "0708374149",
        "BillRefNumber": "VIP001", "TransID": trans_id})
    assert response.status_code == 202 and response.get_json()["TransID"] == trans_id
    assert emu.dispatcher.join(5)
