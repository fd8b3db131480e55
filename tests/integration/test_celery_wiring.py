"""Celery is wired the Flask way: named tasks, queues, JSON only, app and merchant context."""

import sqlalchemy as sa

from loyalty.background import QUEUES, TaskName, queue_for
from loyalty.tenancy import get_current_merchant_id
from tests.integration.conftest import published


def test_every_task_name_is_registered_on_the_worker_app(app):
    import tasks  # noqa: F401  (what the worker imports)

    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    missing = [name.value for name in TaskName if name.value not in celery.tasks]
    assert missing == []
    assert {queue_for(name) for name in TaskName} <= set(QUEUES)


def test_worker_settings_are_json_only_and_late_acks(app):
    conf = app.extensions["celery"].conf
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.task_acks_late is True and conf.task_ignore_result is True
    assert conf.broker_url.startswith("redis://")
    assert conf.task_always_eager is False


def test_tasks_run_in_the_app_context_as_their_merchant(app, db_session, merchant_a):
    celery = app.extensions["celery"]
    seen = {}

    @celery.task(name="tests.whoami")
    def whoami(merchant_id):
        from loyalty.extensions import db

        seen["merchant"] = get_current_merchant_id()
        seen["db"] = db.session.execute(sa.text("SELECT 1")).scalar()

    whoami.apply(args=(merchant_a[0]["id"],))
    assert seen == {"merchant": merchant_a[0]["id"], "db": 1}
    assert get_current_merchant_id() is None


class Boom(Exception):
    pass


def _rename_and_enqueue(merchant_id, name, fail=False):
    from loyalty import background
    from loyalty.extensions import db

    db.session.execute(sa.text("UPDATE merchants SET business_name = :n WHERE id = :i"),
                       {"n": name, "i": merchant_id})
    background.enqueue(TaskName.VERIFY_CHANNEL, merchant_id, 1)
    if fail:
        raise Boom()


def _business_name(db_session, merchant_id):
    return db_session.execute(sa.text("SELECT business_name FROM merchants WHERE id = :i"),
                              {"i": merchant_id}).scalar()


def test_a_task_run_is_one_unit_of_work(app, db_session, merchant_a, broker):
    celery = app.extensions["celery"]
    merchant_id = merchant_a[0]["id"]

    @celery.task(name="tests.rename")
    def rename(merchant_id, name, fail=False):
        _rename_and_enqueue(merchant_id, name, fail)

    rename.apply(args=(merchant_id, "Renamed"))
    assert _business_name(db_session, merchant_id) == "Renamed"
    assert published(broker("daraja")) == [("channels.verify", [merchant_id, 1])]
    # A run that fails rolls back what it wrote and publishes nothing it queued.
    assert isinstance(rename.apply(args=(merchant_id, "Half done", True)).result, Boom)
    assert _business_name(db_session, merchant_id) == "Renamed"
    assert broker("daraja") == []


def test_a_task_that_commits_in_steps_opts_out_by_name(app, db_session, merchant_a, broker):
    celery = app.extensions["celery"]

    @celery.task(name="tests.steps", owns_transaction=False)
    def steps(merchant_id):
        _rename_and_enqueue(merchant_id, "Stepped")

    # Without a unit of work of its own, queueing a task is refused instead of lost.
    assert isinstance(steps.apply(args=(merchant_a[0]["id"],)).result, RuntimeError)
    assert broker("daraja") == []


def test_only_tasks_that_commit_in_steps_opt_out_of_the_task_transaction(app):
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    opted_out = {name for name in TaskName if not celery.tasks[name].owns_transaction}
    # Each calls a gateway between reading and recording, or commits per batch or claim.
    assert opted_out == {TaskName.VERIFY_CHANNEL, TaskName.REGISTER_URLS,
                         TaskName.CHECK_HEALTH_BATCH, TaskName.STK_PUSH, TaskName.STK_QUERY,
                         TaskName.STK_FIND_RECEIPT, TaskName.CREDIT_WAITING,
                         TaskName.SEND_SMS_BATCH, TaskName.PURGE_CALLBACK_LOG,
                         TaskName.REGISTER_PULL, TaskName.RECONCILE_CHANNEL,
                         TaskName.REVERSE_PAYMENT, TaskName.DELIVER_WEBHOOKS,
                         TaskName.GIVE_UP_UNANSWERED}
