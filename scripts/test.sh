#!/usr/bin/env bash
# Set everything up, then run the whole test suite (pytest; extra arguments are passed on).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RAY_DATA_DISABLE_PROGRESS_BARS=1
exec .venv/bin/python -m pytest "$@"
