"""`make run` as a newcomer runs it: one dev server on SQLite with in-process tasks and the
emulator, the demo seeded once it answers; then `make demo-pay` from a second process
prints the SMS, and Ctrl-C (SIGINT to the foreground group) stops everything."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests import processes
from tests.conftest import TEST_ENCRYPTION_KEY

pytestmark = pytest.mark.e2e

# Nothing of the test run's own configuration may leak into the newcomer's setup.
_DROPPED = ("FLASK_", "APP_", "DATABASE_URL", "REDIS_", "DARAJA_", "AT_", "SMS_",
            "PUBLIC_BASE_URL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PORT")


def _newcomer_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
    # A database of the test's own, and keys given so nothing is written to instance/.
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
               ENCRYPTION_KEY=TEST_ENCRYPTION_KEY, SECRET_KEY="demo-test", PYTHONUNBUFFERED="1")
    return env


def _default_sigint() -> None:
    # A terminal's foreground job: Ctrl-C reaches every process of the group.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def make_run(port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        make = subprocess.Popen(["make", "run", f"PORT={port}"], cwd=processes.ROOT, env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_default_sigint)
        try:
            yield make
        finally:
            if make.poll() is None:
                try:
                    os.killpg(make.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                make.wait(10)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_seeds_the_demo_and_demo_pay_prints_the_sms(tmp_path):
    port = processes.free_port()
    env = _newcomer_env(tmp_path)
    log = tmp_path / "make-run.log"
    with make_run(port, env, log) as make:
        def banner() -> bool:
            assert make.poll() is None, log.read_text(errors="replace")
            return "Ctrl-C stops the app." in log.read_text(errors="replace")

        processes.wait_until(banner, timeout=90, message="make run to seed and print its banner")
        output = log.read_text(errors="replace")
        assert "Demo merchant created: Acme Electronics" in output, output
        assert "sandbox PayBill 174379, active" in output, output
        assert "VIP* -> vip" in output and "DELIVERY -> delivery" in output, output
        first_key = re.search(r"export API_KEY=(\S+)", output).group(1)
        base = f"http://127.0.0.1:{port}"
        me = requests.get(f"{base}/api/v1/merchants/me",
                          headers={"Authorization": f"Bearer {first_key}"}, timeout=5)
        assert me.status_code == 200 and me.json()["business_name"] == "Acme Electronics"
        # The demo shows branding: its name, colours and logo, the logo served as a PNG.
        assert "branding: Acme Electronics, colours #0b3d91 / #ffd33d, logo " in output, output
        assert me.json()["branding"]["logo_url"] in output
        logo = requests.get(re.search(r"logo (http://\S+/logo\.png\?v=\d+)", output).group(1),
                            timeout=5)
        assert logo.status_code == 200 and logo.headers["Content-Type"] == "image/png"

        paid = subprocess.run(["make", "demo-pay", f"PORT={port}"], cwd=processes.ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert paid.returncode == 0, paid.stdout + paid.stderr
        assert "credited, 100 points via VIP*" in paid.stdout, paid.stdout + paid.stderr
        assert "SMS to +254712345678: Hi John! You earned 100 VIP points. Total: 100 points." \
            in paid.stdout, paid.stdout + paid.stderr

        # `flask demo pay` from a plain shell: only the base URL is needed to find the app.
        plain = subprocess.run(
            [str(processes.BIN / "flask"), "demo", "pay", "--amount", "300", "--account",
             "DELIVERY", "--phone", "0722000222"], cwd=processes.ROOT,
            env={**env, "PUBLIC_BASE_URL": base}, capture_output=True, text=True, timeout=60)
        assert plain.returncode == 0, plain.stdout + plain.stderr
        assert "credited, 1 stamp via DELIVERY" in plain.stdout, plain.stdout
        assert "Thanks John! 4 more orders for free delivery." in plain.stdout, plain.stdout

        # A confirmation lost on the way, recovered by reconciliation and texted.
        recovered = subprocess.run(["make", "demo-reconcile", f"PORT={port}"],
                                   cwd=processes.ROOT, env=env, capture_output=True, text=True,
                                   timeout=90)
        assert recovered.returncode == 0, recovered.stdout + recovered.stderr
        assert "the platform did not hold the payment" in recovered.stdout, recovered.stdout
        assert "1 recovered" in recovered.stdout, recovered.stdout
        assert "(source pull: recovered by reconciliation): credited, 100 points via VIP*" \
            in recovered.stdout, recovered.stdout
        assert "Hi John! You earned 100 VIP points. Total: 200 points." in recovered.stdout

        # Seeding again is harmless and issues a new key; the old one keeps working.
        again = subprocess.run(["make", "demo-seed", f"PORT={port}"], cwd=processes.ROOT,
                               env=env, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Demo merchant ready: Acme Electronics" in again.stdout
        second_key = re.search(r"export API_KEY=(\S+)", again.stdout).group(1)
        assert second_key != first_key
        inbox = requests.get(f"{base}/_emulator/sms/inbox", timeout=5).json()
        assert len(inbox) == 3

        os.killpg(make.pid, signal.SIGINT)  # Ctrl-C
        make.wait(20)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/healthz", timeout=2)
    with pytest.raises(ProcessLookupError):
        os.killpg(make.pid, 0)  # nothing of the group is left
