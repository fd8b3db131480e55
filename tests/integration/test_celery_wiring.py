"""Celery is wired the Flask way: named tasks, queues, JSON only, app and merchant context."""

import sqlalchemy as sa

from loyalty.background import QUEUES, TaskName, queue_for
from loyalty.tenancy import get_current_merchant_id


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
