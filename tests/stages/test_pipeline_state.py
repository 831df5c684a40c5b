"""A stage's fingerprint: settings that change its output redo it, the others do not."""

from __future__ import annotations

import pytest

from finelabel.config import load_config
from finelabel.stages.pipeline_state import fingerprint


@pytest.mark.parametrize("setting", ["train.num_workers=4", "train.share_factors=false",
                                     "siamese.share_factors=false", "train.use_gpu=true"])
def test_how_workers_run_does_not_redo_a_stage(setting: str):
    base, changed = load_config(None), load_config(None, [setting])
    for stage in ("siamese", "label", "train"):
        assert fingerprint(changed, stage) == fingerprint(base, stage), stage


def test_what_a_stage_learns_from_redoes_it():
    base = load_config(None)
    assert fingerprint(load_config(None, ["train.lr=0.5"]), "train") != fingerprint(base, "train")
    assert fingerprint(load_config(None, ["siamese.lr=0.5"]), "siamese") != fingerprint(
        base, "siamese")
