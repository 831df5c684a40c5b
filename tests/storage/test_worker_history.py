"""Rank 0 on a node that never held the run folder continues the bucket's epoch history."""

from __future__ import annotations

from finelabel.config import load_config
from finelabel.storage import fetch, publish
from finelabel.tracking.funnel import read_history
from finelabel.train.job import TrainJob, history_location
from finelabel.train.loop import EpochReporter


def test_a_resumed_rank_0_appends_to_the_history_in_the_bucket(s3_bucket, tmp_path):
    model = f"{s3_bucket}/run/dual/model"
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text('{"step": 1, "epoch": 1}\n{"step": 2, "epoch": 2}\n')
    publish(earlier, history_location(model))
    config = load_config(None, [])
    job = TrainJob("dual", f"{s3_bucket}/run", model, config.model, config.loss, config.train)
    reporter = EpochReporter(job, rank=0)  # on a fresh node cache
    reporter.funnel.report({"epoch": 3}, 3)
    publish(job.history_path(), history_location(model))
    fetch(history_location(model), tmp_path / "read-back.jsonl")
    assert [r["epoch"] for r in read_history(tmp_path / "read-back.jsonl")] == [1, 2, 3]
