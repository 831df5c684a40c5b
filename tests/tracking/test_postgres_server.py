"""The cluster's tracking store, for real: ``mlflow server`` on 127.0.0.1 that keeps runs in a
PostgreSQL it was given by URI (with a password) and artifacts in an S3 bucket (moto); the
Tracker logs over HTTP as the jobs do, and what it logged reads back."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from mlflow import MlflowClient

from finelabel.config import load_config
from finelabel.stages.ray_session import free_port
from finelabel.storage import filesystem
from finelabel.tracking import Tracker
from tests.servers import mlflow_server, postgres_server

pytestmark = pytest.mark.slow  # PostgreSQL and MLflow start in ~20 s


def test_runs_land_in_postgresql_and_artifacts_in_the_bucket(s3_env, s3_bucket, tmp_path):
    with postgres_server() as database:
        port = free_port()
        env = {**s3_env, "MLFLOW_S3_ENDPOINT_URL": s3_env["AWS_ENDPOINT_URL"]}
        with mlflow_server(database, f"{s3_bucket}/mlflow", port, env=env):
            uri = f"http://127.0.0.1:{port}"
            tracker = Tracker(uri)
            run_id = tracker.start_run("stage")
            tracker.log_config(run_id, load_config(None, [f"tracking.tracking_uri={uri}"]))
            tracker.log_metrics(run_id, {"val_map_avg": 0.5}, step=1)
            (tmp_path / "results.json").write_text('{"map": 0.5}')
            tracker.log_artifact(run_id, tmp_path / "results.json")
            tracker.end_run(run_id)

            run = MlflowClient(uri).get_run(run_id)
            assert run.info.status == "FINISHED"
            assert run.data.metrics["val_map_avg"] == 0.5
            artifacts = {a.path for a in MlflowClient(uri).list_artifacts(run_id)}
            assert artifacts == {"config.yaml", "results.json"}
            password = urlsplit(database).password
            assert password not in json.dumps({**run.data.params, **run.data.tags})
        # Stopped and started again on the same database: the run is still there.
        with mlflow_server(database, f"{s3_bucket}/mlflow", port, env=env):
            assert MlflowClient(uri).get_run(run_id).data.metrics["val_map_avg"] == 0.5
    fs, root = filesystem(f"{s3_bucket}/mlflow")
    from pyarrow.fs import FileSelector

    names = [i.path for i in fs.get_file_info(FileSelector(root, recursive=True))]
    assert any(n.endswith(f"{run_id}/artifacts/results.json") for n in names), names
