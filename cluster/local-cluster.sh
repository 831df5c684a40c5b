#!/usr/bin/env bash
# A two-node Ray cluster on this machine, for trying `ray job submit` locally:
#   bash cluster/local-cluster.sh start     # head on 127.0.0.1:6380, dashboard :8265
#   bash cluster/local-cluster.sh stop      # stops what `start` started, by pid
# Each node gets its own temp folder: two nodes sharing one unpack a job's working dir over
# each other. Token auth needs the same RAY_AUTH_MODE and token for the nodes and clients.
set -euo pipefail
cd "$(dirname "$0")/.."
STATE=${FINELABEL_CLUSTER_DIR:-/tmp/finelabel-cluster}
RAY=.venv/bin/ray
export RAY_AUTH_MODE=${RAY_AUTH_MODE:-token}
case "${1:-}" in
  start)
    mkdir -p "$STATE"
    [ -f "$STATE/token" ] || .venv/bin/python -c "import secrets; print(secrets.token_hex(32))" > "$STATE/token"
    export RAY_AUTH_TOKEN=$(cat "$STATE/token")
    setsid "$RAY" start --head --port=6380 --dashboard-host=127.0.0.1 --dashboard-port=8265 --num-cpus=2 \
      --temp-dir="$STATE/head" --block > "$STATE/head.log" 2>&1 & echo $! > "$STATE/head.pid"
    sleep 10
    setsid "$RAY" start --address=127.0.0.1:6380 --num-cpus=2 --dashboard-agent-listen-port=52366 \
      --temp-dir="$STATE/worker" --block > "$STATE/worker.log" 2>&1 & echo $! > "$STATE/worker.pid"
    echo "started; in each client shell: export RAY_AUTH_MODE=token RAY_AUTH_TOKEN=$(cat "$STATE/token")"
    echo "then: ray job submit --address http://127.0.0.1:8265 --working-dir . -- python jobs/pipeline.py --config jobs/configs/demo.yaml --out \$PWD/runs/cluster-demo"
    ;;
  stop)
    for node in worker head; do
      [ -f "$STATE/$node.pid" ] && kill -INT "$(cat "$STATE/$node.pid")" 2>/dev/null || true
      rm -f "$STATE/$node.pid"
    done
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
