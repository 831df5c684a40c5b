#!/usr/bin/env bash
# Set everything up, then run the demo: the whole pipeline on the built-in synthetic data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/finelabel demo --out "${1:-runs/demo}"
