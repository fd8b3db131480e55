"""Safaricom's callbacks never wait behind the API: the Procfile's `hooks` process answers a
confirmation in well under 2 s while sixteen `?wait=10` calls hold every web thread. On the
way, a rotated token: the new URLs registered, the old token still honoured. And the logs
of the whole run (gunicorn's access lines included) hold no callback token."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import REDIS_URL
from tests.e2e.stack import Stack, c2b_confirmation, receipt, start_stack

WAITS = 16


def _saturate_the_api(stack: Stack, shop, pool: ThreadPoolExecutor) -> list:
    """Sixteen verifications with `?wait=10` whose worker step cannot finish: Safaricom's
    OAuth (the emulator) answers after 15 s, longer than the wait."""
    stack.control("faults", {"target": "daraja", "path": "/oauth/v1/generate", "mode": "delay",
                             "delay": 15, "forever": True})
    url = f"/mpesa-channels/{shop.channel_id}/verify?wait=10"
    calls = [pool.submit(shop.api, "POST", url, timeout=30) for _ in range(WAITS)]
    time.sleep(1.0)  # every call is in; each holds a web thread for 10 s
    return calls


def _rotate(stack: Stack, shop) -> str:
    """Rotate the channel's callback token; Safaricom (the emulator) then calls the new
    URLs, and a callback to the old token is still taken. Returns the old token."""
    old = shop.token
    rotated = shop.api("POST", f"/mpesa-channels/{shop.channel_id}/rotate-callback-token?wait=10")
    assert rotated.status_code == 200 and rotated.json()["registered"] is True, rotated.text
    shop.token = stack.scalar("SELECT callback_token FROM mpesa_channels WHERE id = :id",
                              id=shop.channel_id)
    registered = stack.emulator("GET", "/state").json()["registrations"]["174379"]
    assert registered["ConfirmationURL"] == \
        f"{stack.hooks_base}/hooks/{shop.token}/c2b/confirmation" and shop.token != old
    stack.simulate_c2b(amount=100, bill_ref="VIP001", phone="0712345678")
    stack.wait(lambda: stack.scalar("SELECT count(*) FROM payments"), message="the payment")
    late = stack.hook(old, "c2b/confirmation", c2b_confirmation(receipt(2)))
    assert late.status_code == 200, late.text
    return old


def _log_tokens(stack: Stack, tokens: list[str]) -> tuple[str, list[str]]:
    text = "".join(path.read_text(errors="replace") for path in sorted(stack.tmp.glob("*.log")))
    return text, [token for token in tokens if token in text]


@pytest.mark.timeout(60)
def test_a_confirmation_is_answered_while_sixteen_waits_hold_the_api(
        scratch_database, redis_prefix, tmp_path):
    # Sixteen verifications of one channel at once: more than its rate limit lets through.
    with start_stack(scratch_database, REDIS_URL, redis_prefix, tmp_path, beat=False,
                     hooks=True, RATE_LIMIT_CHANNEL_STEPS="100 per minute") as stack, \
            ThreadPoolExecutor(WAITS) as pool:
        shop = stack.onboard()
        assert shop.channel()["callback_urls"]["confirmation_url"].startswith(stack.hooks_base)
        # The hooks process serves nothing but callbacks and probes: no API call (no wait)
        # can ever take one of its threads.
        for path in (f"/api/v1/mpesa-channels/{shop.channel_id}/verify?wait=10", "/login",
                     "/_emulator/state", "/api/v1/openapi.json"):
            refused = requests.post(stack.hooks_base + path, timeout=5)
            assert refused.status_code in (404, 405), (path, refused.status_code)
        old_token = _rotate(stack, shop)
        calls = _saturate_the_api(stack, shop, pool)

        started = time.monotonic()
        answer = stack.hook(shop.token, "c2b/confirmation", c2b_confirmation(receipt(1)))
        elapsed = time.monotonic() - started
        assert answer.status_code == 200 and answer.json()["ResultCode"] == 0, answer.text
        assert elapsed < 2.0, f"answered in {elapsed:.2f} s"
        assert not any(call.done() for call in calls)  # all sixteen were still waiting
        assert stack.scalar("SELECT count(*) FROM payments WHERE trans_id = :t",
                            t=receipt(1)) == 1

        # The rest is not needed: stop at once instead of draining 16 waits and a worker
        # stuck in a 15 s OAuth call.
        for name in ("web", "worker"):
            stack.procs[name].kill()
        text, leaked = _log_tokens(stack, [shop.token, old_token])
        assert not leaked, "a callback token is in a log"
        masked = "/hooks/…" + shop.token[-4:] + "/c2b/confirmation"
        assert re.search(r'"POST ' + re.escape(masked) + r' HTTP/1\.1" 200', text), \
            "the hooks process's access line, masked"
