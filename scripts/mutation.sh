#!/usr/bin/env bash
# Mutation testing of the method's core (pyproject [tool.mutmut]): runs mutmut from scratch,
# then prints the score. Takes ~30-40 min on 2 cores; the mutants/ folder keeps the details
# (`.venv/bin/mutmut results`, `.venv/bin/mutmut show NAME`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export RAY_DATA_DISABLE_PROGRESS_BARS=1
rm -rf mutants
.venv/bin/mutmut run --max-children "${MUTMUT_CHILDREN:-2}" > mutants.log 2>&1 || true
.venv/bin/mutmut export-cicd-stats > /dev/null
.venv/bin/python - <<'PY'
import json
s = json.load(open("mutants/mutmut-cicd-stats.json"))
tested = s["killed"] + s["survived"] + s["timeout"] + s["suspicious"]
print(f"mutants {s['total']}: killed {s['killed']}, survived {s['survived']}, "
      f"timeout {s['timeout']}, no tests {s['no_tests']}, skipped {s['skipped']}")
print(f"mutation score (killed + timeout) / tested: "
      f"{(s['killed'] + s['timeout']) / max(tested, 1):.3f}")
PY
