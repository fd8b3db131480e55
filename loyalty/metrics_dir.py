"""`python -m loyalty.metrics_dir <group> <command> [args…]`: run one Procfile process with
its own metrics folder, then become the command (exec: same pid, same signals).

prometheus-client's multiprocess mode keeps each process's values in files under
`PROMETHEUS_MULTIPROC_DIR`, which must be set before Python starts (the library reads it on
import) and emptied before the processes that write there start, or a new process could
take over a dead one's file by its pid. With `METRICS_DIR` set this sets
`PROMETHEUS_MULTIPROC_DIR=$METRICS_DIR/<group>`, empties that folder (only this group's:
the other groups keep running and counting), and runs the command. Without `METRICS_DIR`
it only runs the command. `/metrics` (api/metrics.py) reads every group's folder.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

_GROUP = re.compile(r"^[a-z][a-z0-9_-]{0,30}$")


def main(argv: list[str]) -> None:
    if len(argv) < 2 or not _GROUP.match(argv[0]):
        sys.exit("usage: python -m loyalty.metrics_dir <group: web, hooks, worker, beat> "
                 "<command> [args…]")
    group, command = argv[0], argv[1:]
    base = os.environ.get("METRICS_DIR", "").strip()
    if base:
        folder = Path(base) / group
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    # The command from this virtualenv when it has it (gunicorn, celery), else from PATH.
    local = Path(sys.executable).parent / command[0]
    os.execvp(str(local) if local.exists() else command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
