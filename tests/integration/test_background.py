"""Tasks are published to Redis only after the database commit, never after a rollback."""

import pytest

from loyalty import background
from loyalty.background import TaskName
from loyalty.extensions import db
from loyalty.unit_of_work import transactional, unit_of_work


class Boom(Exception):
    pass


def _task_names(messages):
    return [m["headers"]["task"] for m in messages]


def test_task_is_published_after_commit_on_its_queue(db_session, broker):
    @transactional
    def work():
        background.enqueue(TaskName.VERIFY_CHANNEL, 7, 42)
        assert broker("daraja") == []  # not before the commit

    work()
    messages = broker("daraja")
    assert _task_names(messages) == ["channels.verify"]
    assert messages[0]["headers"]["argsrepr"] == "[7, 42]"
    assert broker("default") == []


def test_task_queued_in_a_rolled_back_transaction_is_never_published(db_session, broker):
    @transactional
    def work():
        background.enqueue(TaskName.VERIFY_CHANNEL, 7, 42)
        raise Boom()

    with pytest.raises(Boom):
        work()
    assert broker("daraja") == []
    # A later successful unit of work does not resurrect it.
    with unit_of_work():
        background.enqueue(TaskName.REGISTER_URLS, 7, 43)
    assert _task_names(broker("daraja")) == ["channels.register_urls"]


def test_rolled_back_savepoint_drops_only_its_own_tasks(db_session, broker):
    with unit_of_work():
        background.enqueue(TaskName.VERIFY_CHANNEL, 7, 1)
        savepoint = db.session.begin_nested()
        background.enqueue(TaskName.VERIFY_CHANNEL, 7, 2)
        savepoint.rollback()
        background.enqueue(TaskName.VERIFY_CHANNEL, 7, 3)
    assert [m["headers"]["argsrepr"] for m in broker("daraja")] == ["[7, 1]", "[7, 3]"]


def test_nested_units_of_work_commit_once_at_the_outside(db_session, broker):
    @transactional
    def inner():
        background.enqueue(TaskName.VERIFY_CHANNEL, 7, 1)

    with pytest.raises(Boom):
        with unit_of_work():
            inner()
            assert broker("daraja") == []  # the inner unit did not commit
            raise Boom()
    assert broker("daraja") == []


def test_enqueue_outside_any_unit_of_work_is_refused(db_session, broker):
    # Nothing would ever commit it, so it would silently never reach a worker.
    with pytest.raises(RuntimeError, match="outside a unit of work"):
        background.enqueue(TaskName.VERIFY_CHANNEL, 7, 42)
    with unit_of_work():
        pass
    assert broker("daraja") == []


def test_broker_down_does_not_fail_the_commit(database_url, redis_prefix, caplog):
    from tests.conftest import make_test_app

    app = make_test_app(database_url, redis_prefix, REDIS_URL="redis://127.0.0.1:1/0")
    with app.app_context():
        assert background.publish("channels.verify", (1, 2)) is False
    assert "could not publish task channels.verify" in caplog.text


def test_queue_routing_by_task_name():
    assert background.queue_for("channels.verify") == "daraja"
    assert background.queue_for("payments.credit") == "callbacks"
    assert background.queue_for("sms.send") == "sms"
    assert background.queue_for("ledger.expire_points") == "default"
