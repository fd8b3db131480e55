"""The gateway-speed SMS server (`flask emulator sms-gateway`): the platform's own Africa's
Talking client talks to it over real HTTP, and it answers, records and is steered exactly
as the emulator's views are, through the emulator's shared state."""

from __future__ import annotations

import asyncio
import hashlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from loyalty.emulator.sms_gateway import REFRESH_SECONDS, serve
from loyalty.sms.africastalking import AfricasTalkingBackend
from loyalty.sms.base import SmsUnavailable

PHONE = "254712345678"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gateway_url(emu) -> Iterator[str]:
    """The server on its own loop and thread, on the emulator's state (fresh Redis keys)."""
    port, loop, started = _free_port(), asyncio.new_event_loop(), threading.Event()
    ready = asyncio.Event()

    async def run():
        task = asyncio.ensure_future(serve(emu, "127.0.0.1", port, started=ready))
        await ready.wait()
        started.set()
        try:
            await task
        except asyncio.CancelledError:
            pass

    def main():
        loop.run_until_complete(run())
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert started.wait(10), "the SMS gateway did not start"
    yield f"http://127.0.0.1:{port}"
    # Cancelled on the loop's own thread (its task set is not safe to read from this one).
    loop.call_soon_threadsafe(lambda: [task.cancel() for task in asyncio.all_tasks(loop)])
    thread.join(10)


def _backend(url: str, key: str = "sandbox-key") -> AfricasTalkingBackend:
    return AfricasTalkingBackend(username="sandbox", api_key=key, sender_id=None, base_url=url)


def _inbox(emu_client, count: int) -> list[dict]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        inbox = emu_client.get("/_emulator/sms/inbox").get_json()
        if len(inbox) >= count:
            return inbox
        time.sleep(0.05)
    raise AssertionError(f"the inbox has {len(inbox)} texts, not {count}")


def test_plain_and_hashed_sends_are_answered_and_reach_the_emulator_inbox(gateway_url, emu_client):
    backend = _backend(gateway_url)
    plain = backend.send(PHONE, "Hi John! You earned 100 VIP points.", sender_id="ACME")
    digest = hashlib.sha256(PHONE.encode()).hexdigest()
    hashed = backend.send_hashed(digest, "Hi! You earned 10 points.")

    assert plain.ok and plain.provider_message_id.startswith("ATXid_")
    assert plain.cost == "KES 0.8000" and plain.code == "101"
    assert hashed.ok and hashed.provider_message_id != plain.provider_message_id
    inbox = _inbox(emu_client, 2)  # the emulator's own page and tests read the same inbox
    assert [m["kind"] for m in inbox] == ["hashed", "plain"]
    assert inbox[1]["to"] == "+" + PHONE and inbox[1]["sender"] == "ACME"
    assert inbox[0]["hash"] == digest and inbox[0]["message"] == "Hi! You earned 10 points."


def test_the_account_key_and_per_number_statuses_set_on_the_emulator_apply(gateway_url, emu_client):
    emu_client.post("/_emulator/control/sms", json={
        "api_key": "the-real-key", "statuses": {PHONE: 406}})
    time.sleep(REFRESH_SECONDS * 2)  # read from the shared state a few times a second

    refused = _backend(gateway_url, key="a-wrong-key").send(PHONE, "Hi")
    blocked = _backend(gateway_url, key="the-real-key").send(PHONE, "Hi")

    assert not refused.ok and refused.code == "http_401" and "check AT_USERNAME" in refused.error
    assert not blocked.ok and blocked.code == "406" and "UserInBlacklist" in blocked.error
    assert emu_client.get("/_emulator/sms/inbox").get_json() == []  # neither reached a phone


def test_latency_and_error_rate_from_the_emulator_settings(gateway_url, emu_client):
    emu_client.post("/_emulator/control/settings", json={"sms_latency_ms": 300})
    time.sleep(REFRESH_SECONDS * 2)
    started = time.monotonic()
    assert _backend(gateway_url).send(PHONE, "Hi").ok
    assert time.monotonic() - started >= 0.3  # the gateway waited before answering

    emu_client.post("/_emulator/control/settings", json={"sms_latency_ms": 0,
                                                         "sms_error_rate": 1})
    time.sleep(REFRESH_SECONDS * 2)
    with pytest.raises(SmsUnavailable) as raised:
        _backend(gateway_url).send(PHONE, "Hi")
    assert raised.value.code == "http_503"


def test_an_armed_fault_fires_once_then_sends_go_through(gateway_url, emu_client):
    emu_client.post("/_emulator/control/faults", json={
        "target": "sms", "path": "/version1/messaging", "mode": "error", "status": 500})
    time.sleep(REFRESH_SECONDS * 2)
    backend = _backend(gateway_url)

    with pytest.raises(SmsUnavailable) as raised:
        backend.send(PHONE, "Hi")
    assert raised.value.code == "http_500"
    assert backend.send(PHONE, "Hi").ok


def test_a_body_too_large_for_a_text_is_refused(gateway_url):
    import requests

    response = requests.post(gateway_url + "/version1/messaging", data=b"x" * 100_000,
                             headers={"apiKey": "k"}, timeout=5)
    assert response.status_code == 413
    assert requests.get(gateway_url + "/nothing", timeout=5).status_code == 404
