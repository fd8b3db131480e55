"""Celery wired the Flask way: one app, a task base class that gives each run the app's
context, its merchant and its unit of work."""

from __future__ import annotations

import logging
import os
from contextlib import ExitStack
from pathlib import Path

from celery import Celery, Task
from celery.signals import worker_init
from flask import Flask

from loyalty import background
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import unit_of_work

log = logging.getLogger(__name__)


def celery_init_app(app: Flask) -> Celery:
    """Create the Celery app from app.config['CELERY'] and store it on the Flask app."""

    class AppTask(Task):
        """Runs inside the Flask app context; unless `tenant_bound = False`, as the merchant
        whose id is the task's first argument; and unless `owns_transaction = False`, as one
        unit of work: the services it calls join it, it commits when the run returns and
        rolls back when it raises (a retry too), and what they enqueued is published then.

        `owns_transaction = False` is for a task whose service commits in steps of its own
        (see unit_of_work.py); each such task says why on its decorator."""

        tenant_bound = True
        owns_transaction = True

        def __call__(self, *args, **kwargs):
            with app.app_context(), ExitStack() as scope:
                if self.tenant_bound:
                    if not args:
                        raise TypeError(f"{self.name} needs the merchant id as first argument")
                    scope.enter_context(tenant_context(args[0]))
                if self.owns_transaction:
                    scope.enter_context(unit_of_work())
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=AppTask)
    celery.config_from_object(app.config["CELERY"])
    celery.conf.task_routes = (background.route_task,)
    celery.conf.task_queues = None  # declared from the names below
    celery.conf.task_create_missing_queues = True
    # The worker imports the task modules by name, so loyalty/ never imports tasks/.
    celery.conf.imports = ("tasks",)
    celery.set_default()
    app.extensions["celery"] = celery

    @worker_init.connect(weak=False)
    def _yield_to_web(sender=None, **kwargs) -> None:
        yield_to_web(app.config["WORKER_NICE"])

    return celery


def yield_to_web(nice: int) -> None:
    """Lower this worker's CPU priority by `nice` (its pool processes inherit it): on a
    machine shared with the web tier, answering Safaricom comes first and crediting can
    lag by a moment (bench/README.md: the callback p99 while the worker credits). Linux
    schedules each session as one autogroup where that is enabled, and a process's nice
    then only weighs against its own session: the session's autogroup is lowered too."""
    if nice <= 0:
        return
    try:
        os.nice(nice)
        autogroup = Path("/proc/self/autogroup")
        if autogroup.exists():
            autogroup.write_text(str(nice))
    except OSError as exc:  # not Linux, or not allowed: run at normal priority
        log.info("could not lower the worker's CPU priority: %s", exc)
