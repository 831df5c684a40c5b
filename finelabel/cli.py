"""The ``finelabel`` command line: one subcommand per stage, plus the pipeline and the demo.

Each subcommand parses its flags, loads the typed config and calls one stage function; errors a
user can fix print as one line (exit status 2), with no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from finelabel.config import Config, load_config
from finelabel.errors import FinelabelError

log = logging.getLogger("finelabel")

#: Job configs live beside the jobs; the CLI finds them in a source checkout (pip install -e).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "jobs" / "configs"
SPACE_DIR = Path(__file__).resolve().parents[1] / "tune_spaces"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="a YAML config file (default: built-in defaults)")
    parser.add_argument("--out", required=True, help="the run folder (created if missing)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a config value, e.g. train.epochs=3")
    parser.add_argument("--root", help="dataset root (overrides data.root)")


def load(args: argparse.Namespace) -> Config:
    overrides = list(args.overrides)
    if getattr(args, "tracking_uri", None):
        overrides.append(f"tracking.tracking_uri={args.tracking_uri}")
    return load_config(args.config, overrides, root=args.root)


def cmd_stage(args: argparse.Namespace) -> int:
    """One stage as its own MLflow run."""
    from finelabel.ray_session import ray_session
    from finelabel.stages.runner import tracked_stage

    config = load(args)
    with ray_session():
        summary = tracked_stage(config, args.out, args.command,
                                on_error=getattr(args, "on_error", "fail"))
    if args.command == "prepare":
        from finelabel.data.manifest import read_manifest

        print_prepare_summary(read_manifest(args.out), args.out)
    elif args.command == "evaluate":
        print_results(_read_results(args.out))
    else:
        print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from finelabel.ray_session import ray_session
    from finelabel.stages.runner import run_pipeline

    config = load(args)
    with ray_session():
        results = run_pipeline(config, args.out, on_error=args.on_error, run_name=args.run_name)
    print_results(results)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The whole pipeline on the built-in synthetic data, sized for a few minutes on 2 cores."""
    path = CONFIG_DIR / "demo.yaml"
    if not path.is_file():
        raise FinelabelError(f"{path}: the demo config is missing; run the demo from a source "
                             "checkout (pip install -e .)")
    args.config, args.root, args.on_error = str(path), None, "fail"
    return cmd_pipeline(args)


def cmd_tune(args: argparse.Namespace) -> int:
    """A Ray Tune search over a pipeline's run folder; prints the trials, best first."""
    from finelabel.ray_session import ray_session
    from finelabel.stages.tune import format_trials, tune_search

    config = load(args)
    with ray_session():
        summary = tune_search(config, args.out, args.space, name=args.name)
    print(format_trials(summary))
    best = summary["best"]
    print(f"best: {best['trial_id']} {summary['metric']} {best['best_score']:.4f} "
          f"{json.dumps(best['params'])}; model in {best['model_dir']}")
    print(f"MLflow: {summary['mlflow']['tracking_uri']} run {summary['mlflow']['run_id']}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from finelabel.tracking import compare_runs, resolve_tracking_uri

    rows = compare_runs(resolve_tracking_uri(args.tracking_uri), args.experiment,
                        args.filter, order_by=(args.order_by,))
    print_rows(rows)
    return 0


def print_rows(rows: list[dict]) -> None:
    from finelabel.text_table import format_rows

    print(format_rows(rows) if rows else "no runs")


def _read_results(out: str) -> dict:
    return json.loads((Path(out) / "results.json").read_text(encoding="utf-8"))


def print_results(results: dict) -> None:
    from finelabel.stages.evaluate import format_table

    print(format_table(results))
    mlflow = results.get("mlflow", {})
    run = mlflow.get("parent_run_id") or mlflow.get("run_id")
    print(f"MLflow: {mlflow.get('tracking_uri')} run {run}")
    print(f"  compare runs: mlflow ui --backend-store-uri {mlflow.get('tracking_uri')}")


def print_prepare_summary(manifest: dict, out: str) -> None:
    counts, graph = manifest["counts"], manifest["graph"]
    print(f"prepared {sum(counts.values())} pairs into {out}: "
          f"train {counts['train']}, val {counts['val']}, test {counts['test']}")
    print(f"vocabulary {manifest['vocab_size']} words; graph {graph['edges']} edges, "
          f"min degree {graph['min_degree']}, symmetric {graph['symmetric']}; "
          f"{manifest['seconds']} s")
    if manifest["skipped"]:
        print("skipped: " + json.dumps(manifest["skipped"]))


STAGE_HELP = {
    "prepare": "dataset -> Parquet items, word graph, manifest",
    "pairs": "sample siamese and training pairs from the training split",
    "siamese": "train the siamese text-text net (Ray Train, DDP)",
    "label": "score every training pair with the siamese net; hardness labels",
    "train": "train the text-image model on labelled pairs (Ray Train, DDP)",
    "evaluate": "MAP under both protocols, PR curves, results.json",
}


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    _common(parser)
    parser.add_argument("--tracking-uri", help="MLflow tracking URI (default: "
                        "$MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finelabel", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for stage, text in STAGE_HELP.items():
        stage_parser = sub.add_parser(stage, help=text)
        _add_run_flags(stage_parser)
        if stage == "prepare":
            _on_error(stage_parser)
        stage_parser.set_defaults(func=cmd_stage)
    pipeline = sub.add_parser("pipeline", help="every stage, one parent MLflow run")
    _add_run_flags(pipeline)
    _on_error(pipeline)
    pipeline.add_argument("--run-name", help="the parent run's name (default: the --out name)")
    pipeline.set_defaults(func=cmd_pipeline)
    demo = sub.add_parser("demo", help="the pipeline on built-in synthetic data (minutes)")
    demo.add_argument("--out", default="runs/demo", help="the run folder (default runs/demo)")
    demo.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    demo.add_argument("--tracking-uri")
    demo.add_argument("--run-name")
    demo.set_defaults(func=cmd_demo)
    search = sub.add_parser("tune", help="Ray Tune search of train settings (loss margins) "
                            "on a pipeline's run folder")
    _add_run_flags(search)
    search.add_argument("--space", default=str(SPACE_DIR / "margins.yaml"),
                        help="a search space file (default: tune_spaces/margins.yaml)")
    search.add_argument("--name", help="the search's name (default: search-<date>-<time>)")
    search.set_defaults(func=cmd_tune)
    compare = sub.add_parser("compare", help="a table of MLflow runs, best first")
    compare.add_argument("--tracking-uri")
    compare.add_argument("--experiment", default="finelabel")
    compare.add_argument("--filter", default="", help="an MLflow filter, e.g. \"params.beta > 0\"")
    compare.add_argument("--order-by", default="metrics.test_map_avg DESC")
    compare.set_defaults(func=cmd_compare)
    return parser


def _on_error(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                        help="stop at the first damaged record (default) or skip and count it")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:  # MLflow's store set-up lines ("Creating initial ... tables") are noise
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # in case it already was
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except FinelabelError as error:
        print(f"finelabel: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
