"""``finelabel reproduce`` on the built-in synthetic data: every method over seeds, the
baselines, the paired differences, the plot, and MLflow's parent run with its children."""

from __future__ import annotations

import json

import matplotlib.image
import pytest
from mlflow import MlflowClient

from finelabel.tracking import find_child_runs
from tests.paths import CONFIGS

pytestmark = pytest.mark.slow

METHODS = ("fglab", "ablation", "shuffled")
BASELINES = ("cca", "scm_dot", "scm_cosine", "random")


@pytest.fixture(scope="module")
def reproduced(ray_local, tmp_path_factory) -> dict:
    from finelabel.cli import main

    root = tmp_path_factory.mktemp("reproduce")
    uri = f"sqlite:///{root}/mlflow.db"
    flags = ["reproduce", "--config", str(CONFIGS / "demo.yaml"), "--out", str(root / "out"),
             "--tracking-uri", uri, "--seeds", "2",
             "--set", "data.synthetic.train_per_category=60", "--set", "model.embed_dim=64",
             "--set", "train.epochs=3", "--set", "siamese.epochs=2",
             "--set", "train.num_workers=1", "--set", "siamese.num_workers=1"]
    assert main(flags) == 0
    results = json.loads((root / "out" / "results.json").read_text())
    return {"flags": flags, "out": root / "out", "uri": uri, "results": results}


def test_every_method_has_a_value_per_seed_and_baselines_beat_random(reproduced):
    methods = reproduced["results"]["methods"]
    assert set(methods) == {*METHODS, *BASELINES}
    for name in METHODS:
        assert methods[name]["seeds"] == [0, 1]
        for direction in ("i2t", "t2i", "avg"):
            stats = methods[name]["test"][direction]
            assert len(stats["values"]) == 2 and set(stats) >= {"mean", "std", "se"}
            assert 0.2 < stats["mean"] <= 1  # 5 categories: random ranks near 0.2
        assert set(methods[name]["train_at_100"]) == {"i2t", "t2i", "avg"}
    random = methods["random"]["test"]["avg"]["mean"]
    for name in ("cca", "scm_dot", "scm_cosine"):
        assert methods[name]["test"]["avg"]["mean"] > random + 0.1
    diffs = reproduced["results"]["differences"]
    assert set(diffs) == {"fglab-ablation", "fglab-shuffled"}
    for name, diff in diffs.items():
        a, b = name.split("-")
        values = [x - y for x, y in zip(methods[a]["test"]["avg"]["values"],
                                        methods[b]["test"]["avg"]["values"])]
        assert diff["mean"] == pytest.approx(sum(values) / 2)
        assert diff["verdict"]


def test_the_table_and_the_plot_are_written(reproduced):
    table = (reproduced["out"] / "results.md").read_text()
    for name in (*METHODS, *BASELINES, "fglab-ablation", "fglab-shuffled"):
        assert f"| {name} |" in table
    image = matplotlib.image.imread(reproduced["out"] / "results.png")
    assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 400
    assert image[..., :3].std() > 0.05  # bars drawn, not a blank canvas


def test_mlflow_has_a_parent_with_a_child_per_method_and_seed(reproduced):
    client = MlflowClient(reproduced["uri"])
    parent_id = reproduced["results"]["mlflow"]["run_id"]
    parent = client.get_run(parent_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["finelabel.stage"] == "reproduce"
    artifacts = {a.path for a in client.list_artifacts(parent_id)}
    assert {"results.json", "results.md", "results.png"} <= artifacts
    children = {r.info.run_name: r for r in find_child_runs(reproduced["uri"], parent_id)}
    expected = {f"{m}/seed-{s}" for m in METHODS for s in (0, 1)} | set(BASELINES) | {"prepare"}
    assert set(children) == expected
    fglab = children["fglab/seed-1"]
    assert fglab.data.params["train.seed"] == "1"
    assert fglab.data.metrics["test_map_avg"] == pytest.approx(
        reproduced["results"]["methods"]["fglab"]["test"]["avg"]["values"][1])
    assert children["ablation/seed-0"].data.params["loss.beta"] == "0.0"
    assert children["shuffled/seed-0"].data.params["loss.shuffle_labels"] == "True"


def test_a_rerun_reuses_what_finished(reproduced):
    from finelabel.cli import main

    before = reproduced["results"]
    assert main(reproduced["flags"]) == 0
    after = json.loads((reproduced["out"] / "results.json").read_text())
    assert after["methods"] == before["methods"]
    assert after["mlflow"]["run_id"] == before["mlflow"]["run_id"]
    children = find_child_runs(reproduced["uri"], before["mlflow"]["run_id"])
    assert len(children) == 6 + 4 + 1  # nothing recorded twice
