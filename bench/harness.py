"""What every benchmark needs: scratch databases, Redis prefixes, processes, wrk, CPU and
memory accounting, and the machine's description.

Rules kept here so no benchmark can forget them:
* loopback only: every server binds 127.0.0.1 and every request goes there;
* every run is bounded: wrk runs for a fixed duration with a timeout, every wait has a
  deadline, and the whole `bench.run` has a time budget;
* everything started is stopped (process groups, also on failure or Ctrl-C), every
  scratch database is dropped, every Redis key under the run's prefix is deleted.
"""

from __future__ import annotations

import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import psycopg

from tests.processes import Process, free_port
from tests.services import delete_redis_prefix

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the machine ---------------------------------------------------------------------------


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem_kb = int(line.split()[1])

    def version(args: list[str]) -> str:
        try:
            out = subprocess.run(args, capture_output=True, text=True, timeout=10)
            return (out.stdout or out.stderr).strip().splitlines()[0]
        except Exception:
            return "not found"

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('shared_buffers','synchronous_commit','fsync','max_connections')").fetchall())
    return {
        "cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(), "python": platform.python_version(),
        "postgresql": pg, "postgresql_settings": settings,
        "redis": version(["redis-server", "--version"]),
        "wrk": version(["wrk", "--version"]),
        "loadavg_at_start": os.getloadavg(),
        "python_loop_ms": python_loop_ms(),
    }


def python_loop_ms() -> float:
    """The best of five timings of a fixed pure-Python loop: how fast this machine's cores
    are today. The host is shared and its speed varies from day to day (the same tree's
    rates halved between two days), so runs on different days compare by their ratios,
    and this says how far their absolute figures can."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


# --- what the platform wrote ------------------------------------------------------------------

# Payments with more than one earn entry: exactly-once crediting says 0. Not ledger rows
# minus payments: a payment below its program's minimum earns no entry at all.
CREDITED_TWICE_SQL = ("SELECT count(*) FROM (SELECT payment_id FROM ledger_entries "
                      "WHERE kind = 'earn' AND payment_id IS NOT NULL GROUP BY payment_id "
                      "HAVING count(*) > 1) twice")


# --- CPU and memory ------------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int, float] | None:
    """(pgid, ppid, cpu seconds) of a process, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[2]), int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by the live processes of a process group."""
    total = 0.0
    for pid in _pids():
        st = _stat(pid)
        if st and st[0] == pgid:
            total += st[2]
    return total


def pids_cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        st = _stat(pid)
        if st:
            total += st[2]
    return total


def system_busy() -> float:
    """CPU seconds the whole machine spent busy since boot (all cores)."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in parts]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the peak resident set of a process over its life, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def group_members(pgid: int) -> list[tuple[int, int]]:
    """(pid, ppid) of each live process of a group."""
    out = []
    for pid in _pids():
        st = _stat(pid)
        if st and st[0] == pgid:
            out.append((pid, st[1]))
    return out


def redis_pids() -> list[int]:
    out = []
    for pid in _pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip().startswith("redis-server"):
                out.append(pid)
        except OSError:
            pass
    return out


# --- Procfile ------------------------------------------------------------------------------


def procfile_command(role: str, env: dict[str, str]) -> list[str]:
    """A Procfile line as argv: ${VAR:-default} expanded from `env`, the executable taken
    from this virtualenv, and any 0.0.0.0 bind turned into 127.0.0.1 (loopback only)."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(role + ":"):
            text = line.split(":", 1)[1].strip()
            break
    else:
        raise RuntimeError(f"no {role} line in the Procfile")

    def expand(match: re.Match) -> str:
        name, default = match.group(1), match.group(3) or ""
        return env.get(name) or default

    text = re.sub(r"\$\{(\w+)(:-([^}]*))?\}", expand, text)
    args = shlex.split(text.replace("0.0.0.0", "127.0.0.1"))
    if (BIN / args[0]).exists():
        args[0] = str(BIN / args[0])
    return args


# --- HTTP helpers (loopback only) ----------------------------------------------------------


def _loopback(url: str) -> str:
    if not url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"the bench only talks to loopback, not {url}")
    return url


def http_json(url: str, body: dict | None = None, timeout: float = 10) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(_loopback(url), data=data, method="POST" if data else "GET",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


def wait_http(url: str, process: Process, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log()[-3000:]}")
        try:
            with urllib.request.urlopen(_loopback(url), timeout=1):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not answer {url} within {timeout}s")


def wait_log(process: Process, needle: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log()[-3000:]}")
        if needle in process.log():
            return
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} did not log {needle!r} within {timeout}s")


# --- the run: owns every resource ------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    errors: dict
    cpu_seconds: float  # the load generator's own CPU

    def as_dict(self) -> dict:
        return self.__dict__.copy()


@dataclass
class Run:
    """One `bench.run` invocation: a log directory, a Redis prefix, and cleanup."""

    out_dir: Path
    prefix: str = field(default_factory=lambda: f"loyalty-bench-{uuid.uuid4().hex[:8]}:")
    stack: ExitStack = field(default_factory=ExitStack)
    encryption_key: str = ""
    processes: list[Process] = field(default_factory=list)
    # The platform's processes connect as this ordinary role, as in production: PostgreSQL
    # exempts superusers from row-level security. `row_security` True measures with it
    # turned on (DB_ROW_SECURITY=on, the policies enabled), not the default.
    app_role: str = ""
    row_security: bool = False
    _wrk_runs: int = 0

    def __post_init__(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        from cryptography.fernet import Fernet

        self.encryption_key = Fernet.generate_key().decode()
        self.stack.callback(delete_redis_prefix, REDIS_URL, self.prefix)

    def close(self) -> None:
        self.stack.close()

    def create_app_role(self) -> None:
        """The platform's role; dropped after every database (the stack unwinds in reverse)."""
        self.app_role = f"loyalty_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE ROLE "{self.app_role}" LOGIN NOSUPERUSER NOBYPASSRLS')
        self.stack.callback(drop_role, self.app_role)

    def as_app(self, database_url: str) -> str:
        """The URL the platform's processes use: the same database, as the app's role."""
        if not self.app_role:
            return database_url
        return database_url.replace("//postgres@", f"//{self.app_role}@", 1)

    # databases
    def scratch_database(self, tag: str) -> str:
        """An empty database (dropped when the run ends, whatever happens) with the
        migrations applied; returns its postgresql:// URL."""
        name = f"loyalty_bench_{tag}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.stack.callback(drop_database, name)
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        env = dict(os.environ, **self.app_env(url))
        subprocess.run([str(BIN / "python"), "-c",
                        "from flask_migrate import upgrade; from loyalty import create_app\n"
                        "with create_app().app_context(): upgrade()"],
                       cwd=ROOT, env=env, check=True, timeout=180,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if self.app_role:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA '
                             f'public TO "{self.app_role}"')
                conn.execute(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public '
                             f'TO "{self.app_role}"')
            if self.row_security:
                set_row_security(url, True)
        return url

    def app_env(self, database_url: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "APP_"))}
        env.update({
            "APP_ENV": "production",
            "DATABASE_URL": database_url,
            "REDIS_URL": REDIS_URL,
            "REDIS_KEY_PREFIX": self.prefix,
            "ENCRYPTION_KEY": self.encryption_key,
            "SECRET_KEY": "bench-" + secrets.token_hex(8),
            # Production needs one (loopback may be plain HTTP); the stacks set their port's.
            "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
            "SMS_BACKEND": "console",
            "CALLBACK_IP_POLICY": "off",
            "PYTHONUNBUFFERED": "1",
            # Beat's sweeps and health checks only run in the runs that start beat.
            "SWEEP_INTERVAL": "15",
            # The bench's merchants are sandbox ones texting thousands of payers: the
            # texts are part of the work measured, so no relay rule or quota skips them.
            "SANDBOX_SMS_POLICY": "open",
            "SMS_DAILY_QUOTA_SANDBOX": "100000000",
        })
        env.update(extra)
        return env

    # processes
    def start(self, name: str, args: list[str], env: dict[str, str]) -> Process:
        process = Process(name, args, env, self.out_dir)
        self.processes.append(process)
        self.stack.callback(process.stop)
        return process

    @contextmanager
    def running(self, name: str, args: list[str], env: dict[str, str]) -> Iterator[Process]:
        process = self.start(name, args, env)
        try:
            yield process
        finally:
            process.stop()

    # load generation
    def wrk(self, url: str, *, tokens_file: Path, payers_file: Path, seconds: float,
            connections: int = 64, threads: int = 2, rate: float = 0,
            kind: str = "confirmation") -> WrkResult:
        """One bounded wrk run on loopback; TransIDs are unique across the whole run."""
        _loopback(url)
        self._wrk_runs += 1
        run_prefix = "Q" + _base36(self._wrk_runs).rjust(2, "0")
        env = dict(os.environ, BENCH_TOKENS=str(tokens_file), BENCH_PAYERS=str(payers_file),
                   BENCH_RUN=run_prefix, BENCH_KIND=kind, BENCH_RATE=str(rate),
                   BENCH_THREADS=str(threads))
        args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                "--timeout", "5s", "-s", str(ROOT / "bench" / "c2b.lua"), url]
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
        deadline = time.monotonic() + seconds + 30
        output = b""
        try:
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    raise RuntimeError("wrk did not finish in time")
                time.sleep(0.1)
        finally:
            if proc.poll() is None and proc.returncode is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        output = proc.stdout.read() if proc.stdout else b""
        text = output.decode(errors="replace")
        (self.out_dir / f"wrk-{self._wrk_runs:02d}.txt").write_text(" ".join(args) + "\n" + text)
        line = next((ln for ln in text.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{text[-2000:]}")
        data = json.loads(line.split(" ", 1)[1])
        secs = data["duration_us"] / 1e6
        errors = {k: data[k] for k in ("connect_errors", "read_errors", "write_errors",
                                       "status_errors", "timeouts") if data[k]}
        return WrkResult(
            requests=data["requests"], seconds=secs, rps=data["requests"] / secs,
            p50_ms=data["p50_us"] / 1000, p90_ms=data["p90_us"] / 1000,
            p99_ms=data["p99_us"] / 1000, p999_ms=data["p999_us"] / 1000,
            max_ms=data["max_us"] / 1000, errors=errors,
            cpu_seconds=usage.ru_utime + usage.ru_stime)


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def set_row_security(url: str, on: bool) -> None:
    """Row-level security on or off on every table with the tenant policy (what `flask
    row-security on|off` does)."""
    verb = "ENABLE" if on else "DISABLE"
    with psycopg.connect(url, autocommit=True) as conn:
        for (table,) in conn.execute("SELECT tablename FROM pg_policies "
                                     "WHERE policyname = 'tenant_isolation'").fetchall():
            conn.execute(f'ALTER TABLE "{table}" {verb} ROW LEVEL SECURITY')


def drop_role(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{name}"')


def drop_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                     (name,))
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


class Db:
    """A small autocommit connection to a scratch database for counting and loading."""

    def __init__(self, url: str):
        self.url = url
        self.conn = psycopg.connect(url, autocommit=True)

    def one(self, sql: str, params=None):
        return self.conn.execute(sql, params).fetchone()

    def all(self, sql: str, params=None):
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params=None) -> None:
        self.conn.execute(sql, params)

    def backend_pids(self) -> list[int]:
        name = self.url.rsplit("/", 1)[1]
        return [r[0] for r in self.all(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,))]

    def close(self) -> None:
        self.conn.close()


class CpuMeter:
    """CPU used during a phase: by each of our process groups, by PostgreSQL backends on our
    databases, by Redis, by the load generator, and by everything else on the machine (the
    other engineers' tests: the noise)."""

    def __init__(self, groups: dict[str, Process], dbs: list[Db] = ()):
        self.groups = groups
        self.dbs = list(dbs)

    def __enter__(self) -> "CpuMeter":
        self.t0 = time.monotonic()
        self.sys0 = system_busy()
        self.g0 = {name: group_cpu(p.popen.pid) for name, p in self.groups.items()}
        self.pg_pids = sorted({pid for db in self.dbs for pid in db.backend_pids()})
        self.pg0 = pids_cpu(self.pg_pids)
        self.redis = redis_pids()
        self.r0 = pids_cpu(self.redis)
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.monotonic() - self.t0
        self.system = system_busy() - self.sys0
        self.by_group = {name: group_cpu(p.popen.pid) - self.g0[name]
                         for name, p in self.groups.items()}
        # Backends that appeared during the phase are counted from zero (new connections).
        pids = sorted({pid for db in self.dbs for pid in db.backend_pids()} | set(self.pg_pids))
        self.postgres = pids_cpu(pids) - self.pg0
        self.redis_cpu = pids_cpu(self.redis) - self.r0

    def report(self, extra: dict[str, float] | None = None) -> dict:
        """Cores used on average during the phase, by part."""
        parts = {name: cpu / self.seconds for name, cpu in self.by_group.items()}
        parts["postgres"] = self.postgres / self.seconds
        parts["redis"] = self.redis_cpu / self.seconds
        for name, cpu in (extra or {}).items():
            parts[name] = cpu / self.seconds
        ours = sum(parts.values())
        parts["machine_total"] = self.system / self.seconds
        parts["others"] = max(0.0, parts["machine_total"] - ours)
        return {k: round(v, 2) for k, v in parts.items()}


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.1,
             what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def ensure_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: `make bench` installs it (apt-get install wrk)")


__all__ = ["BIN", "CpuMeter", "Db", "REDIS_URL", "ROOT", "Run", "WrkResult", "ensure_wrk",
           "free_port", "group_members", "http_json", "log", "machine", "peak_rss_mb",
           "procfile_command", "wait_for", "wait_http", "wait_log"]
