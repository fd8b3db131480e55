"""`make run` (no Redis): a page that starts a Safaricom step answers before the step ends."""

from __future__ import annotations

import threading
from types import SimpleNamespace

from flask import Flask

from loyalty import background


def _app(in_thread: bool) -> Flask:
    app = Flask(__name__)
    app.config["TASKS_IN_THREAD"] = in_thread
    return app


def _blocking_task(monkeypatch):
    release, finished, ran_in = threading.Event(), threading.Event(), []

    def run_here(name, args=(), kwargs=None):
        ran_in.append((name, threading.current_thread().name))
        release.wait(5)
        finished.set()

    monkeypatch.setattr(background, "run_here", run_here)
    return release, finished, ran_in


def _session_with(name: str):
    return SimpleNamespace(info={"deferred_tasks": [(None, name, (1, 2), {}, None)]})


def test_a_page_answers_while_its_step_runs_in_the_background(monkeypatch):
    release, finished, ran_in = _blocking_task(monkeypatch)
    with _app(True).test_request_context("/channels/2/verify", method="POST"):
        background.run_deferred(_session_with("channels.verify"))  # returns at once
    assert not finished.is_set()  # the step is still talking to "Safaricom"
    release.set()
    assert finished.wait(5)
    assert ran_in == [("channels.verify", "in-process-tasks")]


def test_without_the_setting_or_outside_a_page_tasks_run_inline(monkeypatch):
    release, finished, ran_in = _blocking_task(monkeypatch)
    release.set()
    with _app(False).test_request_context("/"):
        background.run_deferred(_session_with("channels.verify"))
    with _app(True).app_context():  # a CLI command (demo-seed) waits for its tasks
        background.run_deferred(_session_with("channels.register_urls"))
    main = threading.current_thread().name
    assert ran_in == [("channels.verify", main), ("channels.register_urls", main)]
