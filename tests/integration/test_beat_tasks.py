"""Beat's periodic jobs, run as the worker runs them: the task itself, through Celery."""

import sqlalchemy as sa

from loyalty.background import TaskName
from tests.integration.conftest import c2b_body, published


def test_daily_expiry_fans_out_per_merchant_and_expires_old_points(acme, db_session, run_task,
                                                                   broker):
    acme.api("PATCH", "/programs/vip", json={"points_expiry_days": 30})
    acme.hook("c2b/confirmation", c2b_body(trans_id="OLD0000001", amount="5000"))   # 100 points
    assert run_task(TaskName.CREDIT_WAITING) == 1  # the beat sweep credits it
    db_session.execute(sa.text("UPDATE ledger_entries SET created_at = now() - interval '40 days'"))
    broker("default")
    assert run_task(TaskName.EXPIRE_ALL_POINTS) == 1
    assert published(broker("default")) == [("ledger.expire_points", [acme.merchant_id])]
    assert run_task(TaskName.EXPIRE_POINTS, acme.merchant_id) == 100
    assert run_task(TaskName.EXPIRE_POINTS, acme.merchant_id) == 0
    assert db_session.execute(sa.text("SELECT points FROM balances")).scalar() == 0


def test_the_crediting_sweep_drains_a_backlog_in_batches_and_calls_for_help(
        acme, app, db_session, run_task, broker, monkeypatch):
    monkeypatch.setitem(app.config, "CREDIT_BATCH_SIZE", 2)
    for n in range(5):
        acme.hook("c2b/confirmation", c2b_body(trans_id=f"BACKLOG{n:03d}"))
    # The payments' own nudges, the throttle's trailing one included (it fires a window
    # after the first, from a timer: a slow run would otherwise publish it mid-test).
    throttle = app.extensions.get("crediting_nudge")
    if throttle is not None and throttle.timer is not None:
        throttle.timer.join(5)
    broker("callbacks")
    assert run_task(TaskName.CREDIT_WAITING) == 5
    credited = db_session.execute(sa.text(
        "SELECT count(*) FROM payments WHERE status = 'credited'")).scalar()
    assert credited == 5
    # A full batch means a backlog: one more worker is asked to share it, once per run.
    assert published(broker("callbacks")) == [("payments.credit_waiting", [])]
