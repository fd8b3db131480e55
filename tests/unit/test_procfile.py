"""The Procfile runs every queue the app routes tasks to: a queue no process consumes would
hold its tasks forever (texts never sent, payments never credited)."""

import re
from pathlib import Path

from loyalty.background import QUEUES, queue_for

PROCFILE = Path(__file__).resolve().parents[2] / "Procfile"


def _lines() -> dict[str, str]:
    return dict(line.split(":", 1) for line in PROCFILE.read_text().splitlines() if line.strip())


def _consumed() -> dict[str, list[str]]:
    """queue → the Procfile processes that consume it."""
    found: dict[str, list[str]] = {}
    for name, command in _lines().items():
        match = re.search(r"--queues (\S+)", command)
        for queue in (match.group(1).split(",") if match else []):
            found.setdefault(queue, []).append(name)
    return found


def test_every_queue_is_consumed_by_one_procfile_process():
    assert {queue: len(names) for queue, names in _consumed().items()} == \
        {queue: 1 for queue in QUEUES}


def test_texts_have_a_worker_of_their_own_so_a_slow_gateway_never_holds_up_crediting():
    consumed = _consumed()
    assert consumed[queue_for("sms.send_batch")] == ["sms"]
    assert consumed[queue_for("payments.credit_waiting")] == ["worker"]
    # Two Celery workers on one machine need distinct node names.
    assert "--hostname sms@%h" in _lines()["sms"]
