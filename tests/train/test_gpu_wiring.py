"""``train.use_gpu`` on a machine without GPUs: what Ray is asked for, and which backend DDP
uses. (The GPU run itself needs a GPU machine; see the README's cluster section.)"""

from __future__ import annotations

import pytest

from finelabel.config import load_config
from finelabel.stages.prepare import image_pool
from finelabel.train.job import TrainJob
from finelabel.train.trainer import make_trainer


def _trainer(tmp_path, use_gpu: bool):
    config = load_config(None, [f"train.use_gpu={str(use_gpu).lower()}", "train.num_workers=3"])
    job = TrainJob("dual", str(tmp_path), str(tmp_path / "dual/model"), config.model,
                   config.loss, config.train)
    return make_trainer(job, None, storage_path=tmp_path / "ray_results", run_name="r")


@pytest.mark.parametrize(("use_gpu", "resources", "backend"),
                         [(True, {"GPU": 1}, "nccl"), (False, {"CPU": 1}, "gloo")])
def test_each_train_worker_asks_for_one_device_and_ddp_uses_its_backend(
        tmp_path, use_gpu, resources, backend):
    trainer = _trainer(tmp_path, use_gpu)
    assert trainer.scaling_config.num_workers == 3
    assert trainer.scaling_config.use_gpu is use_gpu
    assert trainer.scaling_config._resources_per_worker_not_none == resources
    assert trainer.backend_config.backend == backend


def test_the_placement_strategy_reaches_ray_and_a_typo_is_refused(tmp_path):
    from finelabel.errors import ConfigError

    assert _trainer(tmp_path, False).scaling_config.placement_strategy == "PACK"
    config = load_config(None, ["train.placement_strategy=STRICT_SPREAD"])
    job = TrainJob("dual", str(tmp_path), str(tmp_path / "m"), config.model, config.loss,
                   config.train)
    trainer = make_trainer(job, None, storage_path=tmp_path / "r", run_name="r")
    assert trainer.scaling_config.placement_strategy == "STRICT_SPREAD"
    with pytest.raises(ConfigError, match="placement_strategy"):
        load_config(None, ["train.placement_strategy=SPRED"])


def test_the_vgg_actors_take_a_gpu_each_only_where_the_cluster_has_gpus():
    config = load_config(None, ["image.max_actors=3"])
    assert image_pool(config, {"CPU": 16.0, "GPU": 2.0})["num_gpus"] == 1
    assert image_pool(config, {"CPU": 16.0})["num_gpus"] == 0
    assert image_pool(config, {"CPU": 16.0})["compute"].max_size == 3
