"""ConsoleBackend: what a developer sees instead of a real SMS."""

from __future__ import annotations

import logging

from loyalty.sms.console import ConsoleBackend

PHONE = "254712345678"
PHONE_HASH = "0123456789abcdef" * 4


def test_send_logs_masked_recipient_and_message_and_keeps_it(caplog):
    caplog.set_level(logging.INFO, logger="loyalty.sms")
    backend = ConsoleBackend()

    result = backend.send(PHONE, "Hi John! You earned 100 VIP points.")

    assert result.status == "sent"
    assert result.provider_message_id.startswith("console-")
    assert "2547****5678" in caplog.text
    assert "Hi John! You earned 100 VIP points." in caplog.text
    assert PHONE not in caplog.text
    [entry] = backend.outbox
    assert entry["id"] == result.provider_message_id
    assert entry["to"] == PHONE
    assert entry["phone_hash"] is None
    assert entry["message"] == "Hi John! You earned 100 VIP points."


def test_each_message_gets_its_own_id():
    backend = ConsoleBackend()

    first = backend.send(PHONE, "one")
    second = backend.send(PHONE, "two")

    assert first.provider_message_id != second.provider_message_id


def test_outbox_keeps_only_the_latest_hundred():
    backend = ConsoleBackend()

    for n in range(105):
        backend.send(PHONE, f"message {n}")

    assert len(backend.outbox) == 100
    assert backend.outbox[0]["message"] == "message 5"
    assert backend.outbox[-1]["message"] == "message 104"


def test_hashed_send_records_the_hash_and_logs_it_masked(caplog):
    caplog.set_level(logging.INFO, logger="loyalty.sms")
    backend = ConsoleBackend()

    result = backend.send_hashed(PHONE_HASH, "Thanks! 4 more orders for free delivery.")

    assert result.status == "sent"
    assert backend.outbox[0]["phone_hash"] == PHONE_HASH
    assert backend.outbox[0]["to"] is None
    assert PHONE_HASH not in caplog.text
    assert "hash:012345..." in caplog.text


def test_bad_recipient_fails_like_the_real_backend_and_is_not_recorded(caplog):
    caplog.set_level(logging.INFO, logger="loyalty.sms")
    backend = ConsoleBackend()

    result = backend.send("0712345678", "hello")

    assert result.status == "failed"
    assert "not a 12-digit" in result.error
    assert backend.outbox == []
    assert "0712345678" not in caplog.text


def test_clear_empties_the_outbox():
    backend = ConsoleBackend()
    backend.send(PHONE, "hello")

    backend.clear()

    assert backend.outbox == []
