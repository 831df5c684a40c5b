"""What each subcommand does: check its inputs, start Ray, call one stage function, print.

Inputs are checked before Ray starts or any MLflow run opens, so a wrong path costs a second.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from finelabel.cli import output
from finelabel.config import Config, load_config
from finelabel.errors import FinelabelError

#: Job configs live beside the jobs; the CLI finds them in a source checkout (pip install -e).
CONFIG_DIR = Path(__file__).resolve().parents[2] / "jobs" / "configs"
SPACE_DIR = Path(__file__).resolve().parents[2] / "tune_spaces"


def load(args: argparse.Namespace) -> Config:
    """The typed config of a run: ``--config``, then ``--set``, ``--tracking-uri``, ``--root``."""
    overrides = list(args.overrides)
    if getattr(args, "tracking_uri", None):
        overrides.append(f"tracking.tracking_uri={args.tracking_uri}")
    return load_config(args.config, overrides, root=getattr(args, "root", None))


def cmd_stage(args: argparse.Namespace) -> int:
    """One stage as its own MLflow run."""
    from finelabel.stages.checks import check_stage_inputs
    from finelabel.stages.ray_session import ray_session
    from finelabel.stages.runner import tracked_stage

    config = load(args)
    check_stage_inputs(config, args.out, args.command)
    with ray_session():
        run = tracked_stage(config, args.out, args.command,
                            on_error=getattr(args, "on_error", "fail"))
    output.print_stage(args.command, run)
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from finelabel.stages.checks import check_stage_inputs
    from finelabel.stages.ray_session import ray_session
    from finelabel.stages.runner import run_pipeline

    config = load(args)
    check_stage_inputs(config, args.out, "prepare")
    with ray_session():
        result = run_pipeline(config, args.out, on_error=args.on_error, run_name=args.run_name)
    output.print_pipeline(result)
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
    from finelabel.stages.checks import check_stage_inputs
    from finelabel.stages.ray_session import ray_session
    from finelabel.stages.tune import check_search, default_search_name, tune_search

    config = load(args)
    name = args.name or default_search_name()
    check_stage_inputs(config, args.out, "tune")
    check_search(config, args.out, args.space, name)
    try:
        with ray_session():
            summary = tune_search(config, args.out, args.space, name=name)
    except KeyboardInterrupt:
        print(f"finelabel: interrupted; the search and its unfinished trials are recorded "
              f"KILLED. Resume it with: finelabel tune {resume_flags(args)} --name {name}",
              file=sys.stderr)
        return 130
    output.print_search(summary)
    return 0


def resume_flags(args: argparse.Namespace) -> str:
    """The flags of this command line again, for the command that resumes it."""
    flags = [f"--out {args.out}"]
    flags += [f"--config {args.config}"] if args.config else []
    flags += [f"--root {args.root}"] if args.root else []
    flags += [f"--tracking-uri {args.tracking_uri}"] if args.tracking_uri else []
    flags += [f"--set {shlex.quote(item)}" for item in args.overrides]
    return " ".join(flags)


def cmd_compare(args: argparse.Namespace) -> int:
    from finelabel.tracking import compare_runs

    rows = compare_runs(args.tracking_uri, args.experiment, args.filter,
                        order_by=(args.order_by,), all_runs=args.all_runs)
    output.print_rows(rows)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """The method, its ablation and control over seeds, and the classical baselines."""
    from finelabel.stages.checks import check_stage_inputs
    from finelabel.stages.ray_session import ray_session
    from finelabel.stages.reproduce import reproduce

    config = load(args)
    check_stage_inputs(config, args.out, "prepare")
    with ray_session():
        results = reproduce(config, args.out, seeds=args.seeds, name=args.run_name)
    output.print_reproduce(results, args.out)
    return 0


def cmd_benchmark(args: argparse.Namespace) -> int:
    """Speed and scale figures in one run; prints them against their bars."""
    from finelabel.benchmark.suite import format_table, run_benchmark
    from finelabel.stages.ray_session import ray_session

    wikipedia = None
    if args.root:  # checked now, before Ray starts and the other figures take their minutes
        from finelabel.stages.checks import check_dataset

        config = load_config(CONFIG_DIR / "wikipedia_en.yaml", args.overrides, root=args.root)
        check_dataset(config)
        wikipedia = _wikipedia_pipeline(config)
    with ray_session():
        result = run_benchmark(args.out, quick=args.quick, wikipedia=wikipedia,
                               overrides=args.overrides)
    print(format_table(result))
    print(f"\nwritten: {Path(args.out).resolve() / 'benchmark.json'}, growth.png beside it")
    return 0


def _wikipedia_pipeline(config: Config):
    """A function that runs the English Wikipedia pipeline in a scratch folder, timed."""
    def run(scratch: Path) -> float:
        import dataclasses
        import time

        from finelabel.stages.runner import run_pipeline

        scratch.mkdir(parents=True, exist_ok=True)
        tracking = dataclasses.replace(
            config.tracking, tracking_uri=f"sqlite:///{(scratch / 'mlflow.db').resolve()}")
        started = time.perf_counter()
        run_pipeline(dataclasses.replace(config, tracking=tracking), scratch / "run")
        return time.perf_counter() - started
    return run
