"""The train step's figures: its fraction of the FC bound and the ceiling that the step's
unavoidable work (sparse products, Adam) puts on that fraction."""

from __future__ import annotations

import pytest
import torch

from finelabel.benchmark.train_step import StepShape, sparse_products, step_fraction_of_bound

TINY = StepShape(batch=16, nodes=300, embed_dim=32, image_dim=64)


def test_ceiling_is_the_bound_over_the_unavoidable_work():
    result = step_fraction_of_bound(TINY, repeats=3)
    ms = result["ms"]
    assert set(ms) == {"bound", "step", "optimizer", "sparse"} and min(ms.values()) > 0
    assert result["fraction"] == pytest.approx(ms["bound"] / ms["step"])
    assert result["ceiling"] == pytest.approx(
        ms["bound"] / (ms["bound"] + ms["sparse"] + ms["optimizer"]))
    assert 0 < result["ceiling"] < 1
    assert result["page_faults_per_step"] >= 0


def _laplacian_products(fn, nodes: int) -> int:
    """How many sparse products with the (N, N) Laplacian ``fn`` runs, as torch's profiler
    saw them (each reads the CSR row pointers once)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    return sum(1 for event in prof.events()
               if event.name == "aten::crow_indices" and event.input_shapes[:1] == [[nodes, nodes]])


def test_sparse_products_are_those_of_a_real_step():
    from finelabel.benchmark.train_step import make_step, step_inputs
    from finelabel.config import ModelConfig
    from finelabel.models import build_dual_path

    shape = StepShape(batch=4, nodes=30, embed_dim=8, image_dim=16, filters=2)
    edges = torch.tensor([[i for i in range(29)] + [i + 1 for i in range(29)],
                          [i + 1 for i in range(29)] + [i for i in range(29)]])
    model = build_dual_path(ModelConfig(filters=2, embed_dim=8), edges, 30, 16).train()
    step = make_step(model, torch.optim.Adam(model.parameters()), *step_inputs(shape, 30))
    in_step = _laplacian_products(step, 30)
    assert in_step > 0
    assert _laplacian_products(sparse_products(model, shape), 30) == in_step
