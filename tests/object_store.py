"""A real S3-compatible server (moto in server mode) on 127.0.0.1, stopped by its own pid."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

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
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(endpoint, timeout=2)
                break
            except requests.RequestException:
                assert process.poll() is None, "the S3 server exited at start"
                assert time.monotonic() < deadline, "the S3 server did not answer in 60 s"
                time.sleep(0.3)
        yield {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "finelabel-test",
               "AWS_SECRET_ACCESS_KEY": secrets.token_hex(12), "AWS_REGION": "us-east-1"}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def make_bucket(env: dict[str, str], name: str) -> str:
    """Create bucket ``name`` (as ``aws s3 mb`` would); return ``s3://name``."""
    from pyarrow import fs

    s3 = fs.S3FileSystem(endpoint_override=env["AWS_ENDPOINT_URL"], region=env["AWS_REGION"],
                         access_key=env["AWS_ACCESS_KEY_ID"],
                         secret_key=env["AWS_SECRET_ACCESS_KEY"], allow_bucket_creation=True)
    s3.create_dir(name)
    return f"s3://{name}"
