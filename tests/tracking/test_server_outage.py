"""A real MLflow tracking server on 127.0.0.1 that is down at the start, or lost mid-run.

Down at the start: the command stops in one line before Ray starts or a folder is written.
Lost mid-run: training goes on, the command fails in one line that says the run folder has
everything, and the same command, once the server is back, records every epoch in the same
runs and leaves none RUNNING.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from mlflow import MlflowClient

from finelabel.stages.ray_session import free_port
from finelabel.tracking import find_child_runs
from tests.paths import CONFIGS
from tests.servers import mlflow_server, stop_server


@contextmanager
def sqlite_mlflow_server(store: Path, port: int) -> Iterator[subprocess.Popen]:
    """``mlflow server`` on 127.0.0.1:``port`` over a SQLite file in ``store``."""
    store.mkdir(parents=True, exist_ok=True)
    with mlflow_server(f"sqlite:///{store / 'mlflow.db'}", str(store / "artifacts"),
                       port) as process:
        yield process



def test_a_server_that_does_not_answer_stops_the_command_before_it_starts(tmp_path, capsys):
    from finelabel.cli import main

    uri = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code = main(["pipeline", "--config", str(CONFIGS / "demo.yaml"), "--out",
                 str(tmp_path / "run"), "--tracking-uri", uri])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "does not answer" in err and uri in err
    assert not (tmp_path / "run").exists()
    assert time.monotonic() - started < 30  # no Ray start, no retries for minutes


@pytest.mark.slow
@pytest.mark.faults
def test_a_server_lost_mid_training_loses_no_epoch(ray_local, tmp_path, capsys):
    from finelabel.cli import main
    from finelabel.stages.pipeline_state import STATE_FILE

    port, store, out = free_port(), tmp_path / "server", tmp_path / "run"
    flags = ["pipeline", "--config", str(CONFIGS / "demo.yaml"), "--out", str(out),
             "--tracking-uri", f"http://127.0.0.1:{port}", "--set", "loss.beta=0",
             "--set", "train.epochs=4", "--set", "train.patience=0",
             "--set", "train.num_workers=1", "--set", "data.synthetic.train_per_category=60"]

    def train_run() -> str | None:
        state = out / STATE_FILE
        if not state.is_file():
            return None
        return json.loads(state.read_text()).get("stages", {}).get("train", {}).get("run_id")

    uri = f"http://127.0.0.1:{port}"
    lost = threading.Event()
    with sqlite_mlflow_server(store, port) as server:
        client = MlflowClient(uri)

        def lose_the_server_after_epoch_one() -> None:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                run_id = train_run()
                if run_id and client.get_metric_history(run_id, "val_map_avg"):
                    stop_server(server)
                    lost.set()
                    return
                time.sleep(0.2)

        watcher = threading.Thread(target=lose_the_server_after_epoch_one, daemon=True)
        watcher.start()
        code = main(flags)
        watcher.join(timeout=10)
    assert lost.is_set(), "the server was never lost: the test did not exercise the fault"
    err = capsys.readouterr().err
    assert code == 2, err
    line = err.strip().splitlines()[-1]
    assert "stopped answering" in line and str(out) in line and "same command again" in line
    history = (out / "dual" / "model.history.jsonl").read_text().splitlines()
    assert len({json.loads(h)["step"] for h in history}) == 4  # training went on to the end
    offline = MlflowClient(f"sqlite:///{store / 'mlflow.db'}")  # the store, read while down
    assert len(offline.get_metric_history(train_run(), "val_map_avg")) < 4

    with sqlite_mlflow_server(store, port):
        assert main(flags) == 0
        client = MlflowClient(uri)
        run_id = train_run()
        steps = [m.step for m in client.get_metric_history(run_id, "val_map_avg")]
        assert sorted(steps) == [1, 2, 3, 4]  # each epoch once: backfilled, not duplicated
        parent = json.loads((out / STATE_FILE).read_text())["parent_run_id"]
        assert client.get_run(parent).info.status == "FINISHED"
        children = find_child_runs(uri, parent)
        assert sorted(c.info.run_name for c in children) == ["evaluate", "pairs", "prepare",
                                                             "train"]
        assert all(c.info.status == "FINISHED" for c in children)
