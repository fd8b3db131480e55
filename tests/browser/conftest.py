"""Chromium tests over the real processes: gunicorn serving the app with the Daraja and SMS
emulator mounted, and a Celery worker, on loopback ports against a scratch PostgreSQL
database and this run's Redis prefix.

Debian's /usr/bin/chromium is driven by Python Playwright (never `playwright install`: the
browser comes from apt, see .ci/run). Screenshots and process logs go to
test-output/browser-<run>/, which is kept after the run.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask_migrate import upgrade

from tests import processes, services
from tests.conftest import REDIS_URL, make_test_app

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing(what: str) -> None:
    if services.IN_CI:
        pytest.fail(f"{what}; CI=true, so the run fails instead of skipping", pytrace=False)
    pytest.skip(what)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item so fixtures can see a failure."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    run = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    path = processes.ROOT / "test-output" / f"browser-{run}"
    (path / "screenshots").mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Stack:
    base: str
    web: processes.Process
    worker: processes.Process
    output: Path

    def logs(self) -> str:
        return (f"\n--- gunicorn ---\n{self.web.log()[-4000:]}"
                f"\n--- worker ---\n{self.worker.log()[-4000:]}")

    def get_json(self, path: str):
        with urllib.request.urlopen(self.base + path, timeout=5) as answer:
            return json.loads(answer.read())


def _ready(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=1) as answer:
            return answer.status == 200
    except OSError:
        return False


@pytest.fixture
def stack(scratch_database, redis_prefix, output_dir) -> Stack:
    """gunicorn (app + emulator) and a Celery worker; both stopped at the end, also on failure."""
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    prefix = f"{redis_prefix}browser-{uuid.uuid4().hex[:6]}:"  # its own emulator and queues
    settings = {"PUBLIC_BASE_URL": base, "DARAJA_EMULATOR": "1",
                "DARAJA_SANDBOX_URL": f"{base}/_emulator/daraja",
                "AT_BASE_URL": f"{base}/_emulator/sms", "SMS_BACKEND": "africastalking",
                "AT_API_KEY": "emulator-accepts-any-key",
                # As `make run`: the sandbox PayBill texts the payer's hashed number.
                "SANDBOX_SMS_POLICY": "open"}
    migrator = make_test_app(scratch_database, prefix)
    with migrator.app_context():
        upgrade()
    env = processes.app_environment(scratch_database, REDIS_URL, prefix, **settings)
    # Threads: the emulator delivers Safaricom's callbacks to this same server while the
    # request that triggered them may still be running.
    gunicorn = [str(processes.BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
                "--threads", "4", "--timeout", "60", "--access-logfile", "-", "wsgi:app"]
    with processes.running("gunicorn", gunicorn, env, output_dir) as web, \
            processes.running("worker", processes.celery_worker_args(), env, output_dir) as worker:
        processes.wait_until(lambda: _ready(base) or not web.alive(), timeout=30,
                             message="gunicorn to answer /healthz")
        assert web.alive(), web.log()
        yield Stack(base=base, web=web, worker=worker, output=output_dir)


def _console_error(errors: list, message) -> None:
    # The emulator's own page has no icon, so Chromium's /favicon.ico probe 404s there.
    if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
        errors.append(f"{message.text} ({message.location.get('url')})")


@pytest.fixture
def page(stack, request):
    """A Chromium page on the stack; JavaScript errors (CSP violations included) fail the test."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    playwright = sync_api.sync_playwright().start()
    browser = context = None
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=stack.base, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.js_errors = []
        page.on("pageerror", lambda error: page.js_errors.append(str(error)))
        page.on("console", lambda msg: _console_error(page.js_errors, msg))
        yield page
        failed = getattr(request.node, "report_call", None)
        if failed is not None and failed.failed:
            page.screenshot(path=str(stack.output / "screenshots" / "FAILED.png"), full_page=True)
    finally:
        if context is not None:
            context.close()
        if browser is not None:
            browser.close()
        playwright.stop()
