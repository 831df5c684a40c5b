"""Two DDP workers (real gloo processes on 127.0.0.1) train as one worker does at the same
global batch, with in-batch pairs that span both workers, and with the big linear layers'
gradients formed from both workers' factors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from finelabel.config import LossConfig, ModelConfig
from finelabel.data.prepared import PreparedData
from finelabel.stages.ray_session import free_port
from finelabel.train.shared_factors import broadcast_parameters, share_factors
from finelabel.train.steps import train_epoch
from finelabel.train.tasks import get_task

# No dropout: every worker must draw the same thing for the runs to be comparable.
MODEL = ModelConfig(embed_dim=32, score="label", dropout=0.0, image_dropout=0.0)
LOSS = LossConfig(label_weight=1.0)
GLOBAL_BATCH, STEPS = 16, 4


def _global_batches(data: PreparedData) -> list[np.ndarray]:
    order = np.random.default_rng(0).permutation(data.indices("train"))
    return [order[i * GLOBAL_BATCH:(i + 1) * GLOBAL_BATCH] for i in range(STEPS)]


def _train(data: PreparedData, task_name: str, ids_of_step, *, ddp: bool,
           factors: bool = False) -> dict:
    task = get_task(task_name)
    torch.manual_seed(0)
    loss = task.loss_config(LOSS)  # the siamese net: no label-space term
    model = task.build_model(MODEL, data, loss.label_weight)
    if ddp:
        # rows=1: every linear layer this small model has that factoring could pay for
        shared = share_factors(model, rows=1) if factors else []
        assert bool(shared) == factors
        model = torch.nn.parallel.DistributedDataParallel(model)
        broadcast_parameters(model.module, shared)
    # SGD: its step is the gradient itself (Adam would magnify float noise in tiny gradients)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    stats = train_epoch(model, (ids_of_step(ids) for ids in _global_batches(data)),
                        optimizer, loss, beta=0.0)
    inner = model.module if ddp else model
    return {"state": {k: v.detach().clone() for k, v in inner.state_dict().items()},
            "loss": stats["train_loss"]}


def _worker(rank: int, port: int, folder: str, task_name: str, span: bool, factors: bool,
            out: str) -> None:
    import torch.distributed as dist

    from finelabel.train.across_workers import gather_ids

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                           world_size=2)
    try:
        data = PreparedData.load(folder)
        task = get_task(task_name)
        half = GLOBAL_BATCH // 2

        def local(ids: np.ndarray):
            mine = ids[rank * half:(rank + 1) * half]
            return task.item_batch(mine, data, across=gather_ids(mine) if span else None)

        result = _train(data, task_name, local, ddp=True, factors=factors)
        if rank == 0:
            torch.save(result, out)
    finally:
        dist.destroy_process_group()


def _two_workers(folder: Path, task_name: str, tmp_path: Path, *, span: bool,
                 factors: bool = False) -> dict:
    out = tmp_path / f"{task_name}-{span}-{factors}.pt"
    _run_two(_worker, str(folder), task_name, span, factors, str(out))
    return torch.load(out, weights_only=True)


def _run_two(target, *args) -> None:
    """``target(rank, port, *args)`` in two spawned processes; both must succeed."""
    context = mp.get_context("spawn")
    port = free_port()
    workers = [context.Process(target=target, args=(rank, port, *args)) for rank in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0]


def _largest_difference(a: dict, b: dict) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a if a[k].numel())


@pytest.mark.parametrize("task_name", ["dual", "siamese"])
def test_two_workers_train_as_one_at_the_same_global_batch(prepared_synthetic: Path,
                                                           tmp_path: Path, task_name: str):
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    data = PreparedData.load(prepared_synthetic)
    task = get_task(task_name)
    one = _train(data, task_name, lambda ids: task.item_batch(ids, data), ddp=False)
    spanning = _two_workers(prepared_synthetic, task_name, tmp_path, span=True)
    # Measured: 2e-8 apart after 4 steps (float sums in another order), while the parameters
    # moved by 1e-3 (siamese) to 5e-2 (dual).
    assert _largest_difference(one["state"], spanning["state"]) < 1e-6
    assert spanning["loss"] == pytest.approx(one["loss"], rel=1e-5)
    # Each worker pairing only its own half trains on other pairs and statistics.
    halves = _two_workers(prepared_synthetic, task_name, tmp_path, span=False)
    assert _largest_difference(one["state"], halves["state"]) > 2e-5  # measured 1e-4, 1e-3
    # The big linear layers' gradients formed from both workers' factors: the same training.
    factored = _two_workers(prepared_synthetic, task_name, tmp_path, span=True, factors=True)
    assert _largest_difference(one["state"], factored["state"]) < 1e-6
    assert factored["loss"] == pytest.approx(one["loss"], rel=1e-5)


def test_only_layers_whose_factors_are_smaller_than_their_weights_are_factored():
    from torch import nn

    from finelabel.train.shared_factors import FactoredLinear, factor_large_linears

    model = nn.Sequential(nn.Linear(10_000, 1024), nn.ReLU(), nn.Linear(1024, 5))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    # 256 rows x (10,000 + 1,024) x 2 <= 10.2M weights; the classifier's factors are larger
    assert factor_large_linears(model, rows=256) == ["0.weight"]
    assert isinstance(model[0], FactoredLinear) and type(model[2]) is nn.Linear
    assert model.state_dict().keys() == before.keys()  # checkpoints load either way
    x = torch.randn(3, 10_000)
    plain = torch.relu(x @ before["0.weight"].T + before["0.bias"]) @ before["2.weight"].T
    assert torch.allclose(model(x), plain + before["2.bias"], atol=1e-5)  # 1 worker: plain


def _sync_worker(rank: int, port: int, out: str) -> None:
    import torch.distributed as dist

    from finelabel.errors import FinelabelError
    from finelabel.train.shared_factors import check_in_sync

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                           world_size=2)
    try:
        model = torch.nn.Linear(4, 3)
        torch.nn.init.constant_(model.weight, 1.0)
        check_in_sync(model, ["weight"])  # equal: passes
        with torch.no_grad():
            model.weight[0, 0] += rank * 1e-3  # as an unequal gradient step would leave it
        try:
            check_in_sync(model, ["weight"])
        except FinelabelError as error:
            Path(out, f"{rank}.txt").write_text(str(error))
    finally:
        dist.destroy_process_group()


def test_workers_whose_factored_weights_drift_apart_are_stopped(tmp_path: Path):
    _run_two(_sync_worker, str(tmp_path))
    for rank in range(2):  # both stop, so that neither waits for the other
        assert "copies of weight differ" in (tmp_path / f"{rank}.txt").read_text()
