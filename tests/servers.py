"""Real servers for the tests, on 127.0.0.1, each stopped by its own pid: PostgreSQL (Debian's
package) and an MLflow tracking server over any backend store."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from finelabel.stages.ray_session import free_port
from tests.paths import REPO

SERVER_SCRIPT = REPO / "cluster" / "mlflow-server.sh"


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(versions[-1]).parent if versions else None


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL; yields ``postgresql://user:password@127.0.0.1:port/mlflow``.

    PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user the
    Debian package creates. Skips the test where PostgreSQL is not installed.
    """
    bin_dir = _postgres_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; "
                    "scripts/setup.sh does it where it can)")
    base = Path(tempfile.mkdtemp(prefix="flpg-"))
    user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
        user = ["setpriv", f"--reuid={owner.pw_uid}", f"--regid={owner.pw_gid}",
                "--clear-groups"]
    password = secrets.token_hex(12)
    (base / "pw").write_text(password)
    if user:
        os.chown(base / "pw", owner.pw_uid, owner.pw_gid)
    subprocess.run([*user, str(bin_dir / "initdb"), "-D", str(base / "data"), "-U", "finelabel",
                    f"--pwfile={base / 'pw'}", "-A", "scram-sha-256", "--no-sync"],
                   check=True, capture_output=True, timeout=300)
    port = free_port()
    process = subprocess.Popen(
        [*user, str(bin_dir / "postgres"), "-D", str(base / "data"), "-p", str(port),
         "-k", str(base), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        import psycopg

        deadline = time.monotonic() + 120
        while True:
            try:
                admin = psycopg.connect(host="127.0.0.1", port=port, user="finelabel",
                                        password=password, dbname="postgres", autocommit=True)
                break
            except psycopg.OperationalError:
                assert process.poll() is None, "postgres exited at start"
                assert time.monotonic() < deadline, "postgres did not answer in 120 s"
                time.sleep(0.5)
        admin.execute("CREATE DATABASE mlflow")
        admin.close()
        yield f"postgresql://finelabel:{password}@127.0.0.1:{port}/mlflow"
    finally:
        _stop_group(process, signal.SIGINT)  # postgres' fast shutdown
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def mlflow_server(backend_uri: str, artifacts: str, port: int,
                  env: dict[str, str] | None = None,
                  workers: int = 1) -> Iterator[subprocess.Popen]:
    """``cluster/mlflow-server.sh`` on 127.0.0.1:``port``: the script the cluster's users run.
    The backend URI (it may carry a password) reaches it through the environment, not its
    command line."""
    server_env = {**os.environ, **(env or {}), "MLFLOW_DB_URI": backend_uri,
                  "MLFLOW_ARTIFACTS": artifacts, "MLFLOW_PORT": str(port),
                  "MLFLOW_WORKERS": str(workers),
                  # the script runs `mlflow` from PATH: this interpreter's
                  "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    process = subprocess.Popen(["bash", str(SERVER_SCRIPT), "127.0.0.1"], env=server_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if requests.get(f"{uri}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert process.poll() is None, "mlflow server exited at start"
            assert time.monotonic() < deadline, "mlflow server did not answer in 300 s"
            time.sleep(0.5)
        yield process
    finally:
        _stop_group(process, signal.SIGKILL)


def group_processes(leader: int) -> list[int]:
    """Pids of the processes in the process group that ``leader`` leads."""
    import psutil

    pids = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == leader:
                pids.append(pid)
        except ProcessLookupError:  # ended meanwhile
            continue
    return pids


def _stop_group(process: subprocess.Popen, first: int) -> None:
    """``first`` to the server's own process group, then SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, first)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def stop_server(process: subprocess.Popen) -> None:
    """Kill a server now (a lost server, for the tests that need one)."""
    _stop_group(process, signal.SIGKILL)
