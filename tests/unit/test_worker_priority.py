"""The Celery worker yields the CPU to the web tier on a shared machine (WORKER_NICE)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import os
from pathlib import Path
from loyalty.celery_app import yield_to_web
before = os.nice(0)
yield_to_web({nice})
group = Path("/proc/self/autogroup")
print(os.nice(0) - before, group.read_text().split()[-1] if group.exists() else "-")
"""


@pytest.mark.parametrize("nice", [5, 0])
def test_the_worker_lowers_its_own_and_its_sessions_priority(nice):
    # A process of its own session: the change must not touch the test run's priority.
    out = subprocess.run([sys.executable, "-c", PROBE.format(nice=nice)], cwd=ROOT,
                         capture_output=True, text=True, check=True, start_new_session=True)
    raised, group = out.stdout.split()
    assert int(raised) == nice
    if group != "-" and nice:
        assert int(group) == nice
