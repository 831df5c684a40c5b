"""Without an address, finelabel starts a Ray of its own: a stale or foreign cluster file on
the machine never turns a local run into a failed join."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from finelabel.stages.ray_session import init_kwargs, local_cpus
from tests.paths import REPO

pytestmark = pytest.mark.slow

PROBE = """
import ray
from finelabel.stages.ray_session import ray_session
with ray_session() as started:
    print(started, int(ray.cluster_resources()["CPU"]))
"""


def test_no_address_means_a_new_local_instance(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert init_kwargs(None) == {"address": "local", "num_cpus": local_cpus()}
    assert local_cpus() >= 4
    monkeypatch.setenv("RAY_ADDRESS", "ray://head:10001")
    assert init_kwargs(None) == {"address": "ray://head:10001"}
    assert init_kwargs("auto") == {"address": "auto"}


def test_a_joined_cluster_is_named_to_every_worker(monkeypatch):
    monkeypatch.delenv("RAY_JOB_CONFIG_JSON_ENV_VAR", raising=False)
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.5:6379")
    assert init_kwargs(None) == {"address": "10.0.0.5:6379",
                                 "runtime_env": {"env_vars": {"RAY_ADDRESS": "10.0.0.5:6379"}}}
    # a submitted job that names it itself: Ray refuses the same variable set twice
    job = '{"runtime_env": {"env_vars": {"RAY_ADDRESS": "10.0.0.5:6379"}}}'
    monkeypatch.setenv("RAY_JOB_CONFIG_JSON_ENV_VAR", job)
    assert init_kwargs(None) == {"address": "10.0.0.5:6379"}


@pytest.fixture()
def short_tmp():
    """A short folder: Ray's socket paths under it must stay below ~107 characters."""
    path = Path(tempfile.mkdtemp(prefix="fl", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_stale_cluster_file_is_ignored(short_tmp):
    """A stopped head leaves <RAY_TMPDIR>/ray/ray_current_cluster behind; ray.init() with no
    address would join what it names and refuse num_cpus."""
    tmp_path = short_tmp
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text("127.0.0.1:1\n")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_TMPDIR=str(tmp_path), RAY_DATA_DISABLE_PROGRESS_BARS="1")
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    started, cpus = done.stdout.split()[-2:]
    assert started == "True" and int(cpus) == local_cpus()


STATE_PROBE = """
import ray
from finelabel.stages.ray_session import ray_session

@ray.remote
def ask_state_api():
    from ray.util.state import list_actors
    return len(list_actors(limit=5)) >= 0

with ray_session():
    print("state api:", ray.get(ask_state_api.remote()))
"""


def test_workers_find_their_own_ray_beside_another(ray_local):
    """With two Ray instances on a machine, Ray's state API inside a worker once failed with
    'Found multiple active Ray instances': Ray Train's placement-group cleaner died of it, and
    a search then waited forever for the CPUs its stopped trials still held."""
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_GCS_SERVER_PORT")}
    env["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    done = subprocess.run([sys.executable, "-c", STATE_PROBE], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "state api: True" in done.stdout


def test_workers_of_a_joined_cluster_find_it_beside_another(ray_local, tmp_path):
    """The same for a cluster we join: its nodes, started by ``ray start`` without
    ``RAY_ADDRESS``, hand their workers no address, so finelabel gives its jobs one."""
    from tests.ray_nodes import head_node, node_env

    env = node_env()
    with head_node(env, tmp_path, num_cpus=1) as head:
        done = subprocess.run([sys.executable, "-c", STATE_PROBE], cwd=REPO,
                              env={**env, "RAY_ADDRESS": head["gcs"]}, capture_output=True,
                              text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "state api: True" in done.stdout


def test_our_local_ray_runs_its_workers_at_the_drivers_priority(ray_local):
    """Ray's default puts workers at nice 15: beside any busy process at nice 0 they got a
    thirtieth of a core, and a loaded machine's training crawled."""
    import ray

    @ray.remote(num_cpus=0)
    def niceness() -> int:
        return os.nice(0)

    assert ray.get(niceness.remote()) == os.nice(0)
