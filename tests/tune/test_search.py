"""A search runs as many trials at once as the cluster holds, and fails now if it holds none."""

from __future__ import annotations

import pytest

from finelabel.config import load_config
from finelabel.errors import FinelabelError
from finelabel.tune.search import fit_concurrency, trial_resources
from finelabel.tune.space import SearchSpec

SPEC = SearchSpec(space={"loss.beta": {"uniform": [0.1, 0.5]}}, max_concurrent_trials=4)


def test_a_trial_holds_its_driver_and_its_workers():
    assert trial_resources(load_config(None, ["train.num_workers=2"])) == {"CPU": 2.1}
    assert trial_resources(load_config(None, ["train.num_workers=0"])) == {"CPU": 1.1}
    assert trial_resources(load_config(None, ["train.num_workers=2", "train.use_gpu=true"])) == {
        "CPU": 2.1, "GPU": 2.0}


def test_concurrency_is_lowered_to_what_fits_beside_the_data_reserve():
    """The README's example (1 worker a trial) on a local Ray of 4 logical CPUs: 2 trials."""
    one = load_config(None, ["train.num_workers=1"])
    assert fit_concurrency(one, SPEC, {"CPU": 4.0}) == 2  # (4 - 1) // 1.1
    assert fit_concurrency(one, SPEC, {"CPU": 64.0}) == 4  # the spec's own cap
    two = load_config(None, ["train.num_workers=2"])
    assert fit_concurrency(two, SPEC, {"CPU": 4.0}) == 1


def test_a_trial_that_can_never_be_placed_fails_at_once():
    config = load_config(None, ["train.num_workers=4"])
    with pytest.raises(FinelabelError, match=r"a trial needs 4.1 CPU .* cluster has 4 CPU"):
        fit_concurrency(config, SPEC, {"CPU": 4.0})
    gpu = load_config(None, ["train.num_workers=1", "train.use_gpu=true"])
    with pytest.raises(FinelabelError, match="0 GPU"):
        fit_concurrency(gpu, SPEC, {"CPU": 8.0})
