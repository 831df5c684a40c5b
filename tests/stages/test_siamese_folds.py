"""Out-of-fold labels: each siamese net never trains on its fold, and the labels of every pair
come from the nets that held one of its texts out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from mlflow import MlflowClient

from finelabel.config import load_config
from finelabel.data.prepared import PreparedData
from finelabel.run_folder import RunFolder
from finelabel.train.hardness import load_similarity
from finelabel.train.job import TrainJob
from finelabel.train.trainer import training_dataset
from tests.conftest import SMALL_SYNTHETIC, paired_copy


@pytest.fixture(scope="module")
def paired(prepared_synthetic: Path, tmp_path_factory) -> RunFolder:
    return paired_copy(prepared_synthetic, tmp_path_factory.mktemp("folds") / "run",
                       n_pairs=600, siamese_pairs=600)


@pytest.mark.parametrize("pairing", ["in_batch", "sampled"])
def test_a_fold_net_never_trains_on_its_fold(paired: RunFolder, pairing: str) -> None:
    config = load_config(None, [f"siamese.pairing={pairing}", "siamese.seed=3"])
    data = PreparedData.load(paired.root)
    folds = data.folds(3, 3)
    train = data.indices("train")
    for holdout in range(3):
        job = TrainJob("siamese", str(paired.root), "", config.model, config.loss,
                       config.siamese, holdout_fold=holdout, folds=3)
        frame = training_dataset(job, paired.pairs("siamese")).to_pandas()
        columns = ["item_id"] if pairing == "in_batch" else ["text_a", "text_b"]
        seen = np.unique(frame[columns].to_numpy())
        assert not (folds[seen] == holdout).any()
        if pairing == "in_batch":  # every other training item is there
            assert set(seen) == set(train[folds[train] != holdout])
        else:
            whole = pq.read_table(paired.pairs("siamese")).to_pandas()
            keep = (folds[whole["text_a"]] != holdout) & (folds[whole["text_b"]] != holdout)
            assert len(frame) == int(keep.sum()) > 0


@pytest.mark.slow
def test_an_out_of_fold_pipeline_labels_with_held_out_nets(ray_local, tmp_path: Path) -> None:
    from finelabel.stages.runner import run_pipeline

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    config = load_config(None, [*SMALL_SYNTHETIC, f"tracking.tracking_uri={uri}",
                                "label.folds=2", "siamese.epochs=2", "train.epochs=2",
                                "siamese.num_workers=1", "train.num_workers=1",
                                "model.embed_dim=32", "pairs.n_pairs=2000",
                                "pairs.siamese_pairs=2000"])
    result = run_pipeline(config, tmp_path / "run")
    folder = result.folder
    nets = folder.siamese_nets(2)
    assert [n.relative_to(folder.root).as_posix() for n in nets] == [
        "siamese/fold-0/model", "siamese/fold-1/model"]
    assert all((n / "meta.json").is_file() for n in nets)
    data = PreparedData.load(folder.root)
    similarity = load_similarity(folder.label_model)
    assert similarity.nets == 2
    np.testing.assert_array_equal(similarity.folds, data.folds(2, config.siamese.seed))
    labelled = pq.read_table(folder.pairs("labelled")).to_pandas()
    expected = similarity.pairs(labelled["text_idx"].to_numpy(), labelled["image_idx"].to_numpy())
    np.testing.assert_allclose(labelled["similarity"], expected, rtol=1e-4, atol=1e-5)
    assert result.results["test"]["all"]["avg"] > 0
    client = MlflowClient(uri)
    siamese = next(r for r in client.search_runs(
        [client.get_experiment_by_name("finelabel").experiment_id],
        f"tags.mlflow.parentRunId = '{result.parent_run_id}'") if r.info.run_name == "siamese")
    assert {"fold0_best_val_map_t2t", "fold1_best_val_map_t2t"} <= set(siamese.data.metrics)
