"""The ``finelabel`` argument parser: every subcommand with a description, an example, and
every option with its help and default."""

from __future__ import annotations

import argparse

from finelabel.cli import commands


class _Help(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option; descriptions and examples kept as written."""


#: stage -> (one line, example)
STAGES = {
    "prepare": ("dataset -> Parquet items, word graph, vocabulary, manifest",
                "finelabel prepare --config jobs/configs/wikipedia_en.yaml "
                "--root ../shared/datasets/wikipedia_en --out runs/wiki"),
    "pairs": ("sample siamese and training pairs from the training split",
              "finelabel pairs --config jobs/configs/demo.yaml --out runs/demo"),
    "siamese": ("train the siamese text-text net (Ray Train, DDP)",
                "finelabel siamese --config jobs/configs/demo.yaml --out runs/demo"),
    "label": ("score every training pair with the siamese net: hardness labels",
              "finelabel label --config jobs/configs/demo.yaml --out runs/demo"),
    "train": ("train the text-image model on (labelled) pairs (Ray Train, DDP)",
              "finelabel train --config jobs/configs/demo.yaml --out runs/demo "
              "--set train.epochs=12"),
    "evaluate": ("MAP under both protocols, PR curves, results.json",
                 "finelabel evaluate --config jobs/configs/demo.yaml --out runs/demo"),
}


def _sub(sub, name: str, summary: str, example: str,
         description: str = "") -> argparse.ArgumentParser:
    text = f"{description or summary}\n\nexample:\n  {example}"
    return sub.add_parser(name, help=summary, description=text, formatter_class=_Help)


def _config_flags(parser: argparse.ArgumentParser, *, out_required: bool = True) -> None:
    parser.add_argument("--config", help="a YAML config file (default: the built-in defaults)")
    if out_required:
        parser.add_argument("--out", required=True,
                            help="the run folder: every stage reads and writes here")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a config value, e.g. train.epochs=3 (repeatable)")
    parser.add_argument("--root", help="the dataset root (overrides data.root)")
    _tracking_flag(parser)


def _tracking_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracking-uri",
                        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else "
                             "sqlite:///<cwd>/mlflow.db)")


def _on_error(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                        help="at a damaged record: stop, or skip it and count it in the manifest")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finelabel", formatter_class=_Help,
        description="Cross-modal text-image retrieval with fine-grained labels from a siamese "
                    "network, on Ray, recorded in MLflow.\n\nexample:\n  finelabel demo")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for stage, (summary, example) in STAGES.items():
        stage_parser = _sub(sub, stage, summary, example)
        _config_flags(stage_parser)
        if stage == "prepare":
            _on_error(stage_parser)
        stage_parser.set_defaults(func=commands.cmd_stage)

    pipeline = _sub(sub, "pipeline", "every stage in turn, one parent MLflow run",
                    "finelabel pipeline --config jobs/configs/wikipedia_en.yaml "
                    "--root ../shared/datasets/wikipedia_en --out runs/wiki")
    _config_flags(pipeline)
    _on_error(pipeline)
    pipeline.add_argument("--run-name", help="the parent run's name (default: the --out name)")
    pipeline.set_defaults(func=commands.cmd_pipeline)

    demo = _sub(sub, "demo", "the whole pipeline on built-in synthetic data (minutes)",
                "finelabel demo --out runs/demo")
    demo.add_argument("--out", default="runs/demo", help="the run folder")
    demo.add_argument("--set", dest="overrides", action="append", default=[],
                      metavar="KEY=VALUE", help="override a value of jobs/configs/demo.yaml")
    _tracking_flag(demo)
    demo.add_argument("--run-name", help="the parent run's name (default: the --out name)")
    demo.set_defaults(func=commands.cmd_demo)

    search = _sub(sub, "tune", "Ray Tune search of the loss margins on a pipeline's run folder",
                  "finelabel tune --config jobs/configs/demo.yaml --out runs/demo "
                  "--space tune_spaces/margins.yaml --set train.num_workers=1",
                  "A Ray Tune search of train settings (the loss margins) on the labelled pairs "
                  "of a pipeline's run folder; each trial is a Ray Train run. Run it again with "
                  "the same --name to resume a search that stopped.")
    _config_flags(search)
    search.add_argument("--space", default=str(commands.SPACE_DIR / "margins.yaml"),
                        help="the search space file")
    search.add_argument("--name", help="the search's name (default: search-<date>-<time>)")
    search.set_defaults(func=commands.cmd_tune)

    reproduce = _sub(
        sub, "reproduce", "the method vs its ablation, a shuffled control and baselines, over "
        "seeds", "finelabel reproduce --config jobs/configs/wikipedia_en.yaml "
        "--root ../shared/datasets/wikipedia_en --seeds 3 --out runs/reproduce-wiki",
        "For every seed, in parallel on Ray: the configured recipe with its fine-grained labels "
        "(fglab), the same with beta = 0 (ablation) and with labels permuted within polarity "
        "(shuffled); once: CCA, SCM and a random ranking on the same split. Writes "
        "results.json, results.md and results.png, with paired differences and a verdict. Run "
        "it again with the same --out to finish or reuse what finished.")
    _config_flags(reproduce)
    reproduce.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 of every method")
    reproduce.add_argument("--run-name", help="the parent run's name (default: the --out name)")
    reproduce.set_defaults(func=commands.cmd_reproduce)

    bench = _sub(
        sub, "benchmark", "every speed and scale figure side by side: benchmark.json, a table",
        "finelabel benchmark --out runs/bench --quick",
        "Measures the train step against its matmul bound, and every stage's wall time and "
        "peak memory on the built-in synthetic data at growing sizes (2,048 to 204,800 items; "
        "--quick: 400 and 1,600), with the fitted growth exponents and a log-log plot. With "
        "--root it also times the English Wikipedia pipeline. Writes benchmark.json and "
        "growth.png under --out and prints the figures against their bars.")
    bench.add_argument("--out", required=True, help="folder for benchmark.json and growth.png")
    bench.add_argument("--quick", action="store_true", help="small sizes: a smoke run (minutes)")
    bench.add_argument("--root", help="English Wikipedia: also time its whole pipeline")
    bench.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="override a value of the measured runs' config")
    bench.set_defaults(func=commands.cmd_benchmark)

    compare = _sub(sub, "compare", "a table of MLflow runs, best first",
                   "finelabel compare --filter \"params.beta = '0.3'\"\n"
                   "  finelabel compare --filter \"metrics.test_map_avg > 0.25\"\n"
                   "  finelabel compare --all-runs --filter \"tags.mlflow.parentRunId = 'RUN'\"",
                   "A table of MLflow runs, best first: one row per pipeline or search (their "
                   "stage and trial runs with --all-runs). Filters use MLflow's syntax: params "
                   "are text (compare them with = != LIKE), metrics are numbers.")
    _tracking_flag(compare)
    compare.add_argument("--experiment", default="finelabel", help="the MLflow experiment")
    compare.add_argument("--filter", default="", help="an MLflow search filter")
    compare.add_argument("--order-by", default="metrics.test_map_avg DESC",
                         help="an MLflow order-by clause")
    compare.add_argument("--all-runs", action="store_true",
                         help="list stage and trial runs too, not only pipelines and searches")
    compare.set_defaults(func=commands.cmd_compare)
    return parser
