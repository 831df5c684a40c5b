"""The ``finelabel`` command line: one subcommand per stage, the pipeline, the demo, searches,
and run comparison.

Errors a user can fix print as one line (exit status 2), however deep inside Ray they were
raised; ``--debug`` shows the traceback instead. Ctrl-C is one line too (exit status 130).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

#: What a Ctrl-C leaves (a search prints its own line, with its --name).
INTERRUPTED = ("finelabel: interrupted; finished work and checkpoints are kept, open MLflow runs "
               "are recorded KILLED. The same command again resumes")


def main(argv: Sequence[str] | None = None) -> int:
    from finelabel.cli.parser import build_parser
    from finelabel.errors import user_error
    from finelabel.tracking.outage import fail_fast_on_lost_servers

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    if not args.verbose:  # MLflow's store set-up lines ("Creating initial ... tables") are noise
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # read when mlflow is imported
        logging.getLogger("mlflow").setLevel(logging.WARNING)  # in case it already was
    fail_fast_on_lost_servers()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(INTERRUPTED, file=sys.stderr)
        return 130
    except Exception as error:
        found = user_error(error)  # ours, however deep inside Ray's errors
        if found is None or args.debug:
            raise
        print(f"finelabel: error: {one_line(found)}", file=sys.stderr)
        return 2


def one_line(error: BaseException) -> str:
    """The error's message with its line breaks folded: a CLI error is one line."""
    return " ".join(part.strip() for part in str(error).splitlines() if part.strip())


if __name__ == "__main__":
    sys.exit(main())
