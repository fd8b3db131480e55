"""The Procfile's `python -m loyalty.metrics_dir <group> <command>`: each process group
starts with an empty metrics folder of its own, and leaves the other groups' alone."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHOW = "import os; print(os.environ.get('PROMETHEUS_MULTIPROC_DIR', 'unset'))"


def run(*args, **env):
    return subprocess.run([sys.executable, "-m", "loyalty.metrics_dir", *args], cwd=REPO,
                          env={**os.environ, **env}, capture_output=True, text=True)


def test_a_group_starts_with_an_empty_folder_of_its_own(tmp_path):
    (tmp_path / "worker").mkdir()
    (tmp_path / "worker" / "counter_4242.db").write_bytes(b"old")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "counter_77.db").write_bytes(b"live")
    done = run("worker", "python", "-c", SHOW, METRICS_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "worker")
    assert list((tmp_path / "worker").iterdir()) == []  # a dead process's file is gone
    assert (tmp_path / "web" / "counter_77.db").read_bytes() == b"live"  # others kept


def test_without_metrics_dir_it_only_runs_the_command():
    env = {k: v for k, v in os.environ.items() if k not in ("METRICS_DIR",
                                                              "PROMETHEUS_MULTIPROC_DIR")}
    done = subprocess.run([sys.executable, "-m", "loyalty.metrics_dir", "web", "python", "-c",
                           SHOW], cwd=REPO, env=env, capture_output=True, text=True)
    assert (done.returncode, done.stdout.strip()) == (0, "unset")


def test_a_bad_group_name_is_refused():
    done = run("../etc", "python", "-c", "print(1)")
    assert done.returncode != 0 and "usage" in done.stderr


def test_a_short_metrics_token_is_refused_at_start(tmp_path):
    import pytest

    from loyalty.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="METRICS_TOKEN"):
        load_config({"METRICS_TOKEN": "short"}, instance_path=tmp_path)
    assert load_config({"METRICS_TOKEN": "a" * 16}, instance_path=tmp_path)["METRICS_TOKEN"]
