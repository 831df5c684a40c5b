"""What the CLI prints: what a command was handed back, where its results are, how to compare.

Nothing here reads the run folder back: every function prints the value a stage returned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from finelabel.report.tables import format_map_table, format_rows
from finelabel.run_folder import RunFolder
from finelabel.storage import join
from finelabel.tracking.uri import redact


def compare_hint(tracking_uri: str, run_id: str | None = None) -> str:
    """The command that lists runs side by side (a search's trials, given its run id)."""
    command = f"finelabel compare --tracking-uri {redact(tracking_uri)}"
    if run_id:
        command += f" --filter \"tags.mlflow.parentRunId = '{run_id}'\""
    return command


def print_where(tracking_uri: str, run_id: str, files: dict[str, str | Path],
                children_of: str | None = None) -> None:
    """The last lines of every command: where its files are, its MLflow run, how to compare."""
    for name, path in files.items():
        print(f"{name}: {path}")
    print(f"MLflow: run {run_id} in {redact(tracking_uri)}")
    print(f"compare: {compare_hint(tracking_uri, children_of)}")


def print_prepare(manifest: dict[str, Any], folder: RunFolder) -> None:
    counts, graph = manifest["counts"], manifest["graph"]
    print(f"prepared {sum(counts.values())} pairs into {folder.location}: "
          f"train {counts['train']}, val {counts['val']}, test {counts['test']}")
    print(f"vocabulary {manifest['vocab_size']} words; graph {graph['edges']} edges, "
          f"min degree {graph['min_degree']}, symmetric {graph['symmetric']}; "
          f"{manifest['seconds']} s")
    if manifest["skipped"]:
        print("skipped: " + json.dumps(manifest["skipped"]))


def print_stage(stage: str, run) -> None:
    """A stage's own summary (``run`` is a runner ``StageRun``), then where it went."""
    folder, report = run.folder, run.outcome.report
    if stage == "prepare":
        print_prepare(report, folder)
    elif stage == "evaluate":
        print(format_map_table(report["test"]))
    else:
        print(format_rows([{k: v for k, v in report.items() if not isinstance(v, dict)}]))
    files = {"evaluate": {"results": folder.results, "plot": folder.pr_curves},
             "siamese": {"model": folder.model("siamese")},
             "train": {"model": folder.model("dual")}}.get(stage, {"run folder": folder.root})
    files = {name: folder.location_of(path) for name, path in files.items()}
    print_where(run.tracking_uri, run.run_id, files)


def print_pipeline(result) -> None:
    print(format_map_table(result.results["test"]))
    folder = result.folder
    print_where(result.tracking_uri, result.parent_run_id,
                {"results": folder.location_of(folder.results),
                 "plot": folder.location_of(folder.pr_curves),
                 "model": folder.location_of(folder.model("dual"))})


def print_search(summary: dict[str, Any]) -> None:
    from finelabel.stages.tune import format_trials

    print(format_trials(summary))
    best = summary["best"]
    print(f"best: {best['trial_id']} {summary['metric']} {best['best_score']:.4f} "
          f"{json.dumps(best['params'])}")
    folder = summary["search_dir"]
    print_where(summary["mlflow"]["tracking_uri"], summary["mlflow"]["run_id"],
                {"results": join(folder, "results.json"), "plot": join(folder, "trials.png"),
                 "best model": best["model_dir"]},
                children_of=summary["mlflow"]["run_id"])


def print_rows(rows: list[dict]) -> None:
    print(format_rows(rows) if rows else "no runs")


def print_reproduce(results: dict[str, Any], out: str | Path) -> None:
    from finelabel.report.tables import format_reproduce_table

    print(format_reproduce_table(results))
    root = Path(out).expanduser().resolve()
    print_where(results["mlflow"]["tracking_uri"], results["mlflow"]["run_id"],
                {"results": root / "results.json", "table": root / "results.md",
                 "plot": root / "results.png"}, children_of=results["mlflow"]["run_id"])
