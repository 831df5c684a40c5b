"""No secret of a tracking URI is printed, recorded as a param or tag, or written out."""

from __future__ import annotations

import json

import yaml
from mlflow import MlflowClient

from finelabel.cli.output import print_where
from finelabel.config import load_config, public_dict, save_config
from finelabel.tracking import Tracker
from finelabel.tracking.uri import redact

SECRET = "hunter2"
URI = f"postgresql://bob:{SECRET}@db.internal:5432/mlflow"


def test_redact_hides_passwords_and_keeps_the_rest():
    assert redact(URI) == "postgresql://bob:***@db.internal:5432/mlflow"
    assert redact("https://user:tok@host/path?x=1") == "https://user:***@host/path?x=1"
    assert redact("sqlite:////tmp/m.db") == "sqlite:////tmp/m.db"
    assert redact("http://host:5000") == "http://host:5000"  # a port is not a password


def test_a_password_in_the_tracking_uri_is_not_recorded(tmp_path):
    tracker = Tracker(str(tmp_path / "m.db"), "secrets")
    config = load_config(None, [f"tracking.tracking_uri={URI}"])
    run = tracker.start_run("r")
    tracker.log_config(run, config)
    tracker.set_tags(run, {"where": URI})
    tracker.end_run(run)
    client = MlflowClient(tracker.tracking_uri)
    data = client.get_run(run).data
    assert SECRET not in json.dumps(data.params) + json.dumps(data.tags)
    assert data.params["tracking.tracking_uri"] == redact(URI)
    artifact = client.download_artifacts(run, "config.yaml", str(tmp_path))
    assert SECRET not in open(artifact).read()


def test_nor_printed_nor_written_to_the_run_folder(tmp_path, capsys):
    config = load_config(None, [f"tracking.tracking_uri={URI}"])
    save_config(config, tmp_path / "config.yaml")
    assert SECRET not in (tmp_path / "config.yaml").read_text()
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == public_dict(config)
    print_where(URI, "abc", {"results": tmp_path / "results.json"})
    assert SECRET not in capsys.readouterr().out
