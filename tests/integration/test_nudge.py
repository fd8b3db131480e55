"""The crediting nudge (loyalty/nudge.py) on real Redis: one message to the workers per
window however many payments a burst stores, none for a payment rolled back, and the last
payment of a burst still handed over once the window ends."""

from __future__ import annotations

import time
import uuid

import pytest
import redis
import sqlalchemy as sa
from flask import current_app

from loyalty import nudge
from loyalty.extensions import db
from loyalty.unit_of_work import unit_of_work
from tests.conftest import REDIS_URL, make_test_app


class Boom(Exception):
    pass


@pytest.fixture
def nudges(database_url, redis_prefix):
    """An app of its own (its own nudge key, queues and throttle); returns a function that
    counts, and takes, the messages published to the crediting queue since it last ran."""
    app = make_test_app(database_url, f"{redis_prefix}nudge-{uuid.uuid4().hex[:8]}:")
    client = redis.Redis.from_url(REDIS_URL)
    queue = app.config["REDIS_KEY_PREFIX"] + "celery:callbacks"

    def taken() -> int:
        count = 0
        while client.rpop(queue) is not None:
            count += 1
        return count

    with app.app_context():
        yield taken
        db.session.remove()


def _store_payments(count: int) -> None:
    """A unit of work that stored `count` payments, each nudging crediting."""
    with unit_of_work():
        db.session.execute(sa.select(1))  # the transaction the payments' INSERTs run in
        for _ in range(count):
            nudge.nudge_crediting()


def test_a_burst_sends_one_message_per_window_and_hands_the_last_payment_over(nudges):
    _store_payments(3)
    assert nudges() == 1  # three payments, one commit: one message
    _store_payments(1)
    assert nudges() == 0  # inside the window: not even Redis is asked
    nudge.clear_nudge()  # a worker takes the first message and reads what is waiting
    # The window's end nudges once more, for the payment it held back (from a timer thread:
    # waited for, with room for a loaded machine).
    window = current_app.config["NUDGE_WINDOW_MS"] / 1000
    time.sleep(window)
    handed_over, deadline = 0, time.monotonic() + 5
    while not handed_over and time.monotonic() < deadline:
        time.sleep(0.05)
        handed_over = nudges()
    assert handed_over == 1


def test_a_payment_rolled_back_nudges_nobody(nudges):
    with pytest.raises(Boom), unit_of_work():
        db.session.execute(sa.select(1))
        nudge.nudge_crediting()
        raise Boom()
    assert nudges() == 0
    _store_payments(1)
    assert nudges() == 1


def test_a_payment_that_committed_on_its_own_is_nudged_at_once(nudges):
    nudge.nudge_crediting()  # no transaction: the INSERT ran alone in autocommit
    assert nudges() == 1
