#!/usr/bin/env bash
# The cluster's MLflow tracking server for `ray up` users, on the head node (or any machine
# the nodes reach): runs in PostgreSQL, artifacts in the run folders' bucket.
#   MLFLOW_DB_URI=postgresql://mlflow:PASSWORD@db-host:5432/mlflow \
#   MLFLOW_ARTIFACTS=s3://finelabel/mlflow \
#   AWS_ENDPOINT_URL=... AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... \
#   bash cluster/mlflow-server.sh HEAD_PRIVATE_IP
# It listens on the given private address only (default 127.0.0.1): the server has no
# authentication, so keep it off public interfaces; jobs log to --tracking-uri
# http://HEAD_PRIVATE_IP:5000. The password stays in MLFLOW_DB_URI: never on a command line
# that `ps` shows to other users, never in a finelabel config or an MLflow param.
set -euo pipefail
HOST=${1:-127.0.0.1}
: "${MLFLOW_DB_URI:?set MLFLOW_DB_URI=postgresql://user:password@host:5432/mlflow}"
: "${MLFLOW_ARTIFACTS:?set MLFLOW_ARTIFACTS=s3://bucket/prefix}"
# An S3-compatible endpoint (MinIO, Ceph) reaches MLflow's artifact client through this.
export MLFLOW_S3_ENDPOINT_URL=${MLFLOW_S3_ENDPOINT_URL:-${AWS_ENDPOINT_URL:-}}
export MLFLOW_BACKEND_STORE_URI=$MLFLOW_DB_URI
# MLflow's server-side jobs (GenAI evaluation, prompt optimisation) are not used by finelabel;
# left on, every start adds a job runner and its consumers (13 processes and 2.9 GB at
# --workers 2, against 5 and 0.84 GB), which also makes the start several times slower on a
# busy machine.
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}
exec mlflow server --host "$HOST" --port "${MLFLOW_PORT:-5000}" \
  --artifacts-destination "$MLFLOW_ARTIFACTS" --workers "${MLFLOW_WORKERS:-2}"
