"""Where the repository's shipped files are, for tests at any depth of ``tests/``."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "jobs" / "configs"
SPACES = REPO / "tune_spaces"
