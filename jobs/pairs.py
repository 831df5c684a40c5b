"""The pairs stage: `ray job submit --working-dir . -- python jobs/pairs.py --config C --out DIR`."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the submitted working dir

from finelabel.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["pairs", *sys.argv[1:]]))
