"""The ``finelabel`` command line: one subcommand per stage, plus the pipeline and the demo.

Each subcommand parses its flags, loads the typed config and calls one stage function; errors a
user can fix print as one line (exit status 2), with no traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from finelabel.config import Config, load_config
from finelabel.errors import FinelabelError

log = logging.getLogger("finelabel")

#: Job configs live beside the jobs; the CLI finds them in a source checkout (pip install -e).
CONFIG_DIR = Path(__file__).resolve().parents[1] / "jobs" / "configs"


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


def cmd_prepare(args: argparse.Namespace) -> int:
    from finelabel.ray_session import ray_session
    from finelabel.stages.prepare import prepare

    config = load(args)
    with ray_session():
        manifest = prepare(config, args.out, on_error=args.on_error)
    print_prepare_summary(manifest, args.out)
    return 0


def print_prepare_summary(manifest: dict, out: str) -> None:
    counts, graph = manifest["counts"], manifest["graph"]
    print(f"prepared {sum(counts.values())} pairs into {out}: "
          f"train {counts['train']}, val {counts['val']}, test {counts['test']}")
    print(f"vocabulary {manifest['vocab_size']} words; graph {graph['edges']} edges, "
          f"min degree {graph['min_degree']}, symmetric {graph['symmetric']}; "
          f"{manifest['seconds']} s")
    if manifest["skipped"]:
        print("skipped: " + json.dumps(manifest["skipped"]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finelabel", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    prep = sub.add_parser("prepare", help="dataset -> Parquet items, word graph, manifest")
    _common(prep)
    prep.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                      help="stop at the first damaged record (default) or skip and count it")
    prep.set_defaults(func=cmd_prepare)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except FinelabelError as error:
        print(f"finelabel: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
