"""What the one-query rows (backtest, experiments) share: a step run as a separate process
in the app's environment (the app's own code, connected as the app's role), the bench's
program made through the service, and a median time after a warm-up."""

from __future__ import annotations

import statistics
import subprocess
import time
from typing import Callable

from bench.harness import BIN, ROOT

REPEAT = 3


def run_step(module: str, env: dict, *args: str) -> str:
    """`python -m <module> <args>` in `env`; the last line it printed."""
    done = subprocess.run([str(BIN / "python"), "-m", module, *args], cwd=ROOT, env=env,
                          check=True, timeout=600, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def create_program(program: dict) -> None:
    """Inside a step: the bench's program, made through the service (as a merchant would);
    prints its id."""
    import os

    from loyalty import create_app
    from loyalty.services import programs
    from loyalty.tenancy import tenant_context

    app = create_app()
    with app.app_context(), tenant_context(int(os.environ["BENCH_MERCHANT"])):
        print(programs.create_program(dict(program)).id)


def timed(run: Callable[[], object]) -> tuple[float, object]:
    """The median of REPEAT runs after one that warms the cache (not counted), and the
    last result."""
    times, result = [], None
    for _ in range(REPEAT + 1):
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    return statistics.median(times[1:]), result
