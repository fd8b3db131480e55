"""Pausing an SMS account that has run out of credit (Africa's Talking's 405
InsufficientBalance, SMS.md 3.1).

Every text sent through an account without credit fails the same way, so the first such
answer pauses the account's sending for `SMS_PAUSE_SECONDS` instead of letting every text
spend its retries and end `failed`: the texts stay queued (their attempts unchanged), the
outbox sweep leaves them alone, the merchant's dashboard says why receipts are late, and
the operator gets an ERROR log line and the `loyalty_sms_account_pauses_total` metric (with
the `loyalty_sms_account_paused` gauge while it lasts). When the pause runs out the next
chunk tries again; an account still without credit is paused again by its first answer (a
few calls per pause, no text lost). `flask sms resume` ends a pause at once after a top-up.

The pause is per account: the platform's (`AT_USERNAME`), or a merchant's own once
merchants can bring theirs. It lives in Redis, so every worker process sees it; without
Redis (`make run`) in the process.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app

from loyalty import metrics

log = logging.getLogger(__name__)

_local: dict[str, dict] = {}  # without Redis: account -> pause
_local_lock = threading.Lock()


@dataclass(frozen=True)
class Pause:
    account: str
    since: datetime
    until: datetime
    reason: str


def pause(account: str, reason: str) -> Pause:
    """Pause `account`'s sending for SMS_PAUSE_SECONDS (from now; a pause already running
    is extended, and alerted once)."""
    seconds = float(current_app.config["SMS_PAUSE_SECONDS"])
    now = time.time()
    record = {"account": account, "since": now, "until": now + seconds, "reason": reason}
    client = current_app.extensions.get("redis")
    new = True
    if client is not None:
        try:
            earlier = client.get(_key(account))
            if earlier:
                record["since"] = json.loads(earlier)["since"]
                new = False
            client.set(_key(account), json.dumps(record), px=max(1, int(seconds * 1000)))
        except Exception as exc:  # Redis down: each text is still released, never failed
            log.warning("could not record the SMS pause: %s", type(exc).__name__)
    else:
        with _local_lock:
            earlier = _local.get(account)
            if earlier and earlier["until"] > now:
                record["since"], new = earlier["since"], False
            _local[account] = record
    if new:
        metrics.SMS_PAUSES.labels(account=account).inc()
        log.error("SMS sending paused for account %r for %ds: %s. Texts stay queued and go "
                  "out once it has credit again (top it up, then `flask sms resume`).",
                  account, seconds, reason)
    return _as_pause(record)


def current(account: str) -> Pause | None:
    """The pause on `account`, or None when it may send."""
    client = current_app.extensions.get("redis")
    if client is None:
        with _local_lock:
            record = _local.get(account)
        return _as_pause(record) if record and record["until"] > time.time() else None
    try:
        raw = client.get(_key(account))
    except Exception as exc:  # Redis down: send; an empty account answers 405 again
        log.warning("could not read the SMS pause: %s", type(exc).__name__)
        return None
    return _as_pause(json.loads(raw)) if raw else None


def resume(account: str) -> bool:
    """End the pause on `account`; False when there was none."""
    client = current_app.extensions.get("redis")
    if client is None:
        with _local_lock:
            return _local.pop(account, None) is not None
    return bool(client.delete(_key(account)))


def paused_accounts() -> list[Pause]:
    """Every account paused now (the metrics and `flask sms status`)."""
    client = current_app.extensions.get("redis")
    if client is None:
        now = time.time()
        with _local_lock:
            return [_as_pause(r) for r in _local.values() if r["until"] > now]
    pauses = []
    for key in client.scan_iter(match=_key("*"), count=100):
        raw = client.get(key)
        if raw:
            pauses.append(_as_pause(json.loads(raw)))
    return pauses


def _key(account: str) -> str:
    return f"{current_app.config['REDIS_KEY_PREFIX']}sms:paused:{account}"


def _as_pause(record: dict) -> Pause:
    return Pause(record["account"], datetime.fromtimestamp(record["since"], UTC),
                 datetime.fromtimestamp(record["until"], UTC), record["reason"])
