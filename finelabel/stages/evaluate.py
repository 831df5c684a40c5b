"""The evaluate stage: MAP tables under both protocols, per-class AP and PR curves.

Writes ``results.json`` (the MAP table and where the run is recorded), ``per_class_ap.json``
and ``pr_curves.png`` into the run folder, and prints the table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finelabel.config import Config
from finelabel.data.prepared import PreparedData
from finelabel.evaluation import evaluate_model
from finelabel.plots import plot_pr_curves
from finelabel.train.checkpoint import load_model


def evaluate(config: Config, out: str | Path, checkpoint: str | Path, *,
             mlflow: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Evaluate dual-path checkpoint ``checkpoint`` on the prepared test split in ``out``."""
    out = Path(out)
    data = PreparedData.load(out)
    model = load_model(checkpoint, data, task="dual")
    report = evaluate_model(model, data, top_k=config.eval.top_k)
    names = data.manifest["categories"]
    per_class = {direction: {names[c]: ap for c, ap in values.items()}
                 for direction, values in report["per_class"].items()}
    results = {"test": report["test"], "checkpoint": str(checkpoint),
               "mlflow": dict(mlflow or {"tracking_uri": None, "run_id": None})}
    _write_json(out / "results.json", results)
    _write_json(out / "per_class_ap.json", per_class)
    curves = {f"{d} (MAP {report['test']['all'][d]:.3f})": c
              for d, c in report["pr_curves"].items()}
    plot_pr_curves(curves, out / "pr_curves.png", title="Precision-recall, test vs test")
    return results


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, default=float) + "\n", encoding="utf-8")


def format_table(results: dict[str, Any]) -> str:
    """The MAP table as text: one row per protocol, columns image->text, text->image, average."""
    lines = [f"{'protocol':<16}{'image->text':>12}{'text->image':>12}{'average':>10}"]
    for protocol, values in results["test"].items():
        lines.append(f"{protocol:<16}{values['i2t']:>12.4f}{values['t2i']:>12.4f}"
                     f"{values['avg']:>10.4f}")
    return "\n".join(lines)
