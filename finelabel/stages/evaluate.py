"""The evaluate stage: MAP tables under both protocols, per-class AP and PR curves.

Writes ``per_class_ap.json`` and ``pr_curves.png`` into the run folder and returns the MAP
table; the runner, which knows where the run is recorded, writes ``results.json``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finelabel.config import Config
from finelabel.data.prepared import PreparedData
from finelabel.evaluation import evaluate_model
from finelabel.report.plots import plot_pr_curves
from finelabel.run_folder import RunFolder, write_json
from finelabel.train.checkpoint import load_model


def evaluate(config: Config, out: str | Path, checkpoint: str | Path) -> dict[str, Any]:
    """Evaluate dual-path ``checkpoint`` on the prepared test split of run folder ``out``.

    Returns ``{"test": {protocol: {"i2t", "t2i", "avg"}}, "queries": {"asked", "of"},
    "checkpoint": path}``.
    """
    folder = RunFolder.at(out)
    data = PreparedData.load(folder.root)
    model = load_model(checkpoint, data, task="dual")
    report = evaluate_model(model, data, top_k=config.eval.top_k,
                            max_queries=config.eval.max_queries)
    names = data.manifest["categories"]
    per_class = {direction: {names[c]: ap for c, ap in values.items()}
                 for direction, values in report["per_class"].items()}
    write_json(folder.per_class_ap, per_class)
    curves = {f"{d} (MAP {report['test']['all'][d]:.3f})": c
              for d, c in report["pr_curves"].items()}
    plot_pr_curves(curves, folder.pr_curves, title="Precision-recall, test vs test")
    return {"test": report["test"], "queries": report["queries"], "checkpoint": str(checkpoint)}
