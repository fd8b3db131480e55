"""Start and stop the real processes (gunicorn, Celery worker, beat) for tests.

Every process gets its own process group so it is killed with its children, also when the
test fails; only loopback ports are used.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_environment(database_url: str, redis_url: str, redis_prefix: str, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "APP_"))}
    env.update({
        "APP_ENV": "testing",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": redis_prefix,
        "ENCRYPTION_KEY": extra.pop("ENCRYPTION_KEY", "pfPqkRVBW9Lp8ng8y1AtT2ov4m_MsVQXGh1HVW9gZ2g="),
        "SECRET_KEY": "test-secret-key",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class Process:
    def __init__(self, name: str, args: list[str], env: dict, log_dir: Path):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.alive():
            try:
                os.killpg(self.popen.pid, sig)
                self.popen.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                self.kill()
        self._log.close()

    def kill(self) -> None:
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.popen.wait(10)


@contextmanager
def running(name: str, args: list[str], env: dict, log_dir: Path) -> Iterator[Process]:
    process = Process(name, args, env, log_dir)
    try:
        yield process
    finally:
        process.stop()


def celery_worker_args(queues: str = "callbacks,daraja,sms,webhooks,default", concurrency: int = 2) -> list[str]:
    return [str(BIN / "celery"), "-A", "celery_worker.celery_app", "worker", "--queues", queues,
            "--concurrency", str(concurrency), "--loglevel", "INFO", "--without-gossip",
            "--without-mingle", "--without-heartbeat", "--pool", "prefork"]


def wait_until(predicate, timeout: float = 30, interval: float = 0.2, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


# --- helpers for the end-to-end tests (tests/e2e) ----------------------------------------


def gunicorn_args(port: int, workers: int = 2, threads: int = 4, app: str = "wsgi:app") -> list[str]:
    """The Procfile's `web` (or, with HOOKS_APP, its `hooks`), bound to loopback only."""
    return [str(BIN / "gunicorn"), "--workers", str(workers), "--threads", str(threads),
            "--bind", f"127.0.0.1:{port}", "--access-logfile", "-", "--graceful-timeout", "5",
            app]


HOOKS_APP = "loyalty:create_app(hooks_only=True)"  # the Procfile's `hooks` process


def celery_beat_args(schedule_file: Path) -> list[str]:
    """The Procfile's `beat`, with its schedule database where the test says (tmp_path)."""
    return [str(BIN / "celery"), "-A", "celery_worker.celery_app", "beat", "--schedule",
            str(schedule_file), "--loglevel", "INFO"]


def redis_server_args(port: int) -> list[str]:
    """A Redis of the test's own on a loopback port, nothing persisted."""
    import shutil

    return [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
            "127.0.0.1", "--save", "", "--appendonly", "no"]


def read_log(process: Process) -> str:
    """The process's output so far; unlike `Process.log()` also after it was stopped."""
    if not process._log.closed:
        process._log.flush()
    return process.log_path.read_text(errors="replace")


def wait_for_log(process: Process, text: str, timeout: float = 30) -> None:
    """Wait until `text` appears in the output; fail at once (with the log) if it died."""
    def seen() -> bool:
        if text in read_log(process):
            return True
        if not process.alive():
            raise AssertionError(f"{process.name} exited ({process.popen.returncode}) before "
                                 f"printing {text!r}:\n{read_log(process)[-4000:]}")
        return False

    wait_until(seen, timeout=timeout, interval=0.1,
               message=f"{process.name} to print {text!r}")


def wait_for_http(url: str, process: Process, timeout: float = 30) -> None:
    """Wait until GET `url` answers 200, failing at once (with the log) if `process` died."""
    import requests

    def up() -> bool:
        if not process.alive():
            raise AssertionError(f"{process.name} exited ({process.popen.returncode}):\n"
                                 f"{read_log(process)[-4000:]}")
        try:
            return requests.get(url, timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, timeout=timeout, interval=0.1, message=f"{url} to answer")
