"""Run folder locations: local paths stay paths; URIs map to one working copy per node."""

from __future__ import annotations

from pathlib import Path

import pytest

from finelabel.errors import FinelabelError
from finelabel.run_folder import RunFolder
from finelabel.storage import filesystem, is_remote, join, local_path, ray_storage


def test_paths_and_file_uris_are_local_and_object_store_uris_are_remote():
    assert not is_remote("runs/demo") and not is_remote(Path("/tmp/x"))
    assert not is_remote("file:///tmp/x")
    assert is_remote("s3://bucket/run") and is_remote("gs://bucket/run")
    assert local_path("file:///tmp/x") == Path("/tmp/x")


def test_a_uri_maps_to_the_same_working_copy_under_the_node_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("FINELABEL_CACHE", str(tmp_path / "node-a"))
    a = local_path("s3://bucket/team/run-1/")
    assert a == tmp_path / "node-a" / "runs" / "s3" / "bucket" / "team" / "run-1"
    assert local_path("s3://bucket/team/run-1") == a
    monkeypatch.setenv("FINELABEL_CACHE", str(tmp_path / "node-b"))
    assert local_path("s3://bucket/team/run-1") != a  # another node, its own copy


@pytest.mark.parametrize("uri", ["s3://bucket/../etc", "s3:///no-bucket"])
def test_a_uri_that_escapes_the_cache_or_has_no_bucket_is_refused(uri):
    with pytest.raises(FinelabelError, match="bucket and a plain path"):
        local_path(uri)


def test_join_keeps_a_uri_a_uri():
    assert join("s3://b/run/", "dual", "model") == "s3://b/run/dual/model"
    assert join("/tmp/run", "dual") == "/tmp/run/dual"


def test_a_remote_run_folder_gives_workers_uris_and_works_in_its_local_copy(monkeypatch,
                                                                           tmp_path):
    monkeypatch.setenv("FINELABEL_CACHE", str(tmp_path))
    folder = RunFolder.at("s3://bucket/run")
    assert folder.remote == "s3://bucket/run" and folder.root.is_relative_to(tmp_path)
    assert folder.location == "s3://bucket/run"
    assert folder.location_of(folder.model("dual")) == "s3://bucket/run/dual/model"
    local = RunFolder.at(tmp_path / "run")
    assert local.remote is None and local.location_of(local.items) == str(tmp_path / "run/items")


def test_s3_takes_its_endpoint_and_region_from_the_environment(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    fs, path = filesystem("s3://bucket/prefix/run")
    assert path == "bucket/prefix/run"
    assert fs.region == "eu-west-3"
    assert "127.0.0.1:9" in repr(fs.__reduce__())  # the endpoint travels with the pickle
    assert ray_storage("/tmp/x") == (None, "/tmp/x")


def test_reproduce_refuses_object_storage_before_starting_anything(tmp_path):
    from finelabel.config import load_config
    from finelabel.errors import FinelabelError
    from finelabel.stages.reproduce import reproduce

    config = load_config(None, [f"tracking.tracking_uri=sqlite:///{tmp_path}/m.db"])
    with pytest.raises(FinelabelError, match="^s3://bucket/r: reproduce writes to a local"):
        reproduce(config, "s3://bucket/r")
    assert not (tmp_path / "m.db").exists()
