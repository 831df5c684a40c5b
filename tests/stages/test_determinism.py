"""Same seed and config, one worker, CPU: the same labels and the same validation MAP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from finelabel.config import load_config
from finelabel.run_folder import RunFolder
from finelabel.stages.runner import run_pipeline
from finelabel.tracking.funnel import read_history
from tests.paths import CONFIGS

pytestmark = [pytest.mark.slow, pytest.mark.faults]


def test_two_runs_of_one_seed_agree(ray_local, tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    config = load_config(CONFIGS / "demo.yaml", [
        f"tracking.tracking_uri={uri}", "train.epochs=3", "siamese.epochs=2",
        "train.num_workers=1", "siamese.num_workers=1", "train.seed=7", "pairs.n_pairs=4000",
        "pairs.siamese_pairs=4000", "data.synthetic.train_per_category=60"])
    runs = [run_pipeline(config, tmp_path / name) for name in ("a", "b")]
    labels = [pq.read_table(r.folder.pairs("labelled")).to_pandas() for r in runs]
    np.testing.assert_array_equal(labels[0]["hardness"], labels[1]["hardness"])
    np.testing.assert_allclose(labels[0]["similarity"], labels[1]["similarity"], atol=1e-6)
    histories = [read_history(RunFolder.at(r.folder.root).model("dual").with_name(
        "model.history.jsonl")) for r in runs]
    assert len(histories[0]) == 3
    for first, second in zip(*histories):
        assert first["val_map_avg"] == pytest.approx(second["val_map_avg"], abs=1e-6)
        assert first["train_loss"] == pytest.approx(second["train_loss"], abs=1e-6)
    assert runs[0].results["test"]["all"]["avg"] == pytest.approx(
        runs[1].results["test"]["all"]["avg"], abs=1e-6)
    params = MlflowClient(uri).get_run(runs[0].parent_run_id).data.params
    assert params["train.seed"] == "7" and params["pairs.seed"] == "0"
