"""Two Ray Train DDP workers with the big linear layers' gradients shared as factors: both
pairings train through ``train_loop_per_worker``, and the workers' weights stay equal (the loop
checks it every epoch and fails otherwise)."""

from __future__ import annotations

import pytest

from finelabel.config import load_config
from finelabel.data.prepared import PreparedData
from finelabel.run_folder import RunFolder
from finelabel.tracking.funnel import read_history
from finelabel.train.job import TrainJob
from finelabel.train.shared_factors import factor_large_linears
from finelabel.train.trainer import fit

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("pairing", ["sampled", "in_batch"])
def test_two_workers_train_with_shared_factors(paired: RunFolder, tmp_path, pairing: str):
    config = load_config(None, ["model.embed_dim=64", "train.lr=0.001", f"train.pairing={pairing}",
                                "loss.beta=0",  # no label model in this run folder
                                "train.num_workers=2", "train.epochs=2", "train.batch_size=8"])
    job = TrainJob("dual", str(paired.root), str(tmp_path / "model"), config.model, config.loss,
                   config.train)
    task = job.training_task()
    model = task.build_model(config.model, PreparedData.load(paired.root),
                             task.loss_config(config.loss).label_weight)
    # at 16 rows a step, both encoders' last layers are worth factoring
    assert len(factor_large_linears(model, 2 * config.train.batch_size)) == 2
    outcome = fit(job, paired.pairs("train"), storage_path=tmp_path / "ray", run_name=pairing)
    history = read_history(job.history_path())
    assert [row["epoch"] for row in history] == [1, 2]
    assert 0.0 < outcome.metrics["val_map_avg"] <= 1.0
