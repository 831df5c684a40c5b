"""``cluster/mlflow-server.sh`` as the cluster's users run it (and as every server test starts
its server): no MLflow job-execution processes beside the server, and the memory of the whole
server within what the KubeRay Deployment grants it."""

from __future__ import annotations

import time

import psutil
import pytest
import yaml

from finelabel.stages.ray_session import free_port
from tests.paths import REPO
from tests.servers import group_processes, mlflow_server

pytestmark = pytest.mark.slow  # an MLflow server starts in ~5-10 s


def _deployment() -> dict:
    docs = yaml.safe_load_all((REPO / "cluster" / "mlflow-server.yaml").read_text())
    return next(d for d in docs if d["kind"] == "Deployment")


def _memory_limit_mb(container: dict) -> float:
    value = container["resources"]["limits"]["memory"]
    units = {"Gi": 1024.0, "Mi": 1.0}
    return float(value[:-2]) * units[value[-2:]]


def _command(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:  # ended meanwhile
        return ""


def _rss_mb(pid: int) -> float:
    try:
        return psutil.Process(pid).memory_info().rss / 2**20
    except psutil.Error:
        return 0.0


def test_the_server_runs_no_job_processes_and_fits_its_memory_limit(tmp_path):
    container = _deployment()["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    workers = int(command[command.index("--workers") + 1])
    with mlflow_server(f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts"),
                       free_port(), workers=workers) as server:
        time.sleep(5)  # what starts beside the server has started
        pids = group_processes(server.pid)
        commands = [_command(pid) for pid in pids]
        assert not [c for c in commands if "mlflow.server.jobs" in c], commands
        assert sum(_rss_mb(pid) for pid in pids) < _memory_limit_mb(container)


def test_the_deployment_runs_no_mlflow_jobs_either():
    env = {e["name"]: e.get("value") for e in
           _deployment()["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
