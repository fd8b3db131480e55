"""A development backend: texts go to the log and an in-memory outbox, never to a phone."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from loyalty.sms.base import (
    SendResult,
    check_message,
    check_phone_hash,
    check_recipient,
    mask_msisdn,
)

log = logging.getLogger("loyalty.sms")

OUTBOX_SIZE = 100


class ConsoleBackend:
    """Log each SMS (recipient masked) and keep the latest ones in `.outbox`, oldest first.

    Validates recipients like the real backend, so a bad number fails in development too.
    """

    account = "console"
    networked = False  # nothing to wait for: the outbox calls it inline (services/sms_calls.py)

    def __init__(self, outbox_size: int = OUTBOX_SIZE) -> None:
        self.outbox: list[dict[str, Any]] = []
        self._outbox_size = outbox_size
        # Eager Celery and the dev server's threads may send at the same time.
        self._lock = threading.Lock()

    def send(self, to: str, message: str, *, timeout: float | None = None,
             sender_id: str | None = None) -> SendResult:
        """Record a text to a 12-digit Kenyan number."""
        problem = check_recipient(to) or check_message(message)
        if problem:
            log.warning("SMS to %s not sent: %s", mask_msisdn(to), problem)
            return SendResult.failed(problem)
        return self._record(message, to=to, phone_hash=None, sender_id=sender_id)

    def send_hashed(self, phone_hash: str, message: str, *, timeout: float | None = None,
                    sender_id: str | None = None) -> SendResult:
        """Record a text to a payer known only by their phone hash."""
        problem = check_phone_hash(phone_hash) or check_message(message)
        if problem:
            log.warning("SMS to %s not sent: %s", mask_msisdn(phone_hash), problem)
            return SendResult.failed(problem)
        return self._record(message, to=None, phone_hash=phone_hash, sender_id=sender_id)

    def clear(self) -> None:
        """Forget every recorded message."""
        with self._lock:
            self.outbox.clear()

    def _record(self, message: str, *, to: str | None, phone_hash: str | None,
                sender_id: str | None = None) -> SendResult:
        message_id = f"console-{uuid.uuid4().hex[:16]}"
        entry = {
            "id": message_id,
            "to": to,
            "phone_hash": phone_hash,
            "message": message,
            "from": sender_id,  # None: the platform's own sender
            "sent_at": datetime.now(UTC),
        }
        with self._lock:
            self.outbox.append(entry)
            del self.outbox[: -self._outbox_size]
        log.info("SMS %s to %s: %s", message_id, mask_msisdn(to or phone_hash), message)
        return SendResult.sent(message_id)
