#!/usr/bin/env bash
# Create .venv and install finelabel with its pinned stack (torch 2.14.1, Ray 2.60) and test tools.
# Idempotent: a second run only checks that everything is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
# PostgreSQL for the tracking-server tests (they skip, saying so, where it is missing).
if ! command -v initdb >/dev/null && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's postgresql for the tracking-server tests"
    apt-get install -y -q postgresql >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1; } \
      || echo "setup: could not install postgresql; its tests will be skipped"
  else
    echo "setup: no PostgreSQL (apt-get install postgresql); its tests will be skipped"
  fi
fi
