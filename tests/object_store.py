"""Real object stores on 127.0.0.1, stopped by their own pid: an S3-compatible server (moto in
server mode) and a GCS emulator."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from finelabel.stages.ray_session import free_port


@contextmanager
def s3_server() -> Iterator[dict[str, str]]:
    """Start the server; yield the environment an S3 client needs to reach it."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_for(endpoint, process, "the S3 server")
        yield {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "finelabel-test",
               "AWS_SECRET_ACCESS_KEY": secrets.token_hex(12), "AWS_REGION": "us-east-1"}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _wait_for(endpoint: str, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(endpoint, timeout=2)
            return
        except requests.RequestException:
            assert process.poll() is None, f"{what} exited at start"
            assert time.monotonic() < deadline, f"{what} did not answer in 60 s"
            time.sleep(0.3)


def make_bucket(env: dict[str, str], name: str) -> str:
    """Create bucket ``name`` (as ``aws s3 mb`` would); return ``s3://name``."""
    from pyarrow import fs

    s3 = fs.S3FileSystem(endpoint_override=env["AWS_ENDPOINT_URL"], region=env["AWS_REGION"],
                         access_key=env["AWS_ACCESS_KEY_ID"],
                         secret_key=env["AWS_SECRET_ACCESS_KEY"], allow_bucket_creation=True)
    s3.create_dir(name)
    return f"s3://{name}"


@contextmanager
def gcs_server() -> Iterator[dict[str, str]]:
    """A GCS emulator (``gcp-storage-emulator``, in memory); yield the environment that
    reaches it (Google's clients and ours read ``STORAGE_EMULATOR_HOST``)."""
    port = free_port()
    emulator = Path(sys.executable).with_name("gcp-storage-emulator")
    process = subprocess.Popen(
        [str(emulator), "start", "--host", "127.0.0.1", "--port", str(port), "--in-memory"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        _wait_for(endpoint, process, "the GCS emulator")
        yield {"STORAGE_EMULATOR_HOST": endpoint}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def make_gcs_bucket(env: dict[str, str], name: str) -> str:
    """Create bucket ``name`` through the JSON API; return ``gs://name``."""
    response = requests.post(f"{env['STORAGE_EMULATOR_HOST']}/storage/v1/b",
                             json={"name": name}, timeout=30)
    response.raise_for_status()
    return f"gs://{name}"
