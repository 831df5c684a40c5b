"""What every job script does: put the submitted working dir on the path, run one CLI command."""

import sys
from pathlib import Path


def run(command: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the submitted working dir
    from finelabel.cli import main

    sys.exit(main([command, *sys.argv[1:]]))
