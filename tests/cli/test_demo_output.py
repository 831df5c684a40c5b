"""The demo's output, as a person sees it: one line per epoch per task, no library noise, and
at the end where the results are and how to compare runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.paths import REPO

pytestmark = pytest.mark.slow

RAY_LINE = re.compile(r"^(\x1b\[\d+m)?\(")
NOISE = ("torch.jit.script", "Grad strides do not match", "is not writable",
         "Reporting training result", "Checkpoint successfully created", "project.license",
         "Requesting resources", "Attempting to start training worker group",
         "Setting up process group")


def test_the_demo_prints_each_epoch_once_and_where_its_results_are(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_GCS_SERVER_PORT")}
    env["RAY_DATA_DISABLE_PROGRESS_BARS"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "finelabel.cli", "demo", "--out", str(tmp_path / "demo"),
         "--tracking-uri", uri, "--set", "train.epochs=3", "--set", "siamese.epochs=2"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    both = done.stdout + done.stderr
    for task, epochs in (("siamese", 2), ("dual", 3)):
        for epoch in range(1, epochs + 1):
            lines = re.findall(rf"{task} step {epoch} \|", both)
            assert len(lines) == 1, (task, epoch, len(lines))
    for noise in NOISE:
        assert noise not in both, noise
    # Ray forwards its own processes' lines, "(raylet) ..." under load; the rest is ours
    out = [line for line in done.stdout.strip().splitlines() if not RAY_LINE.match(line)]
    assert all(line.strip() for line in out)  # no stray blank lines
    assert out[0].split() == ["protocol", "image->text", "text->image", "average"]
    tail = {line.split(":", 1)[0]: line for line in out[-5:]}
    assert set(tail) == {"results", "plot", "model", "MLflow", "compare"}
    assert (tmp_path / "demo" / "results.json").is_file()
    compare = tail["compare"].split(": ", 1)[1].split()
    listed = subprocess.run([sys.executable, "-m", "finelabel.cli", *compare[1:]], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "demo" in listed.stdout
