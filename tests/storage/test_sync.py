"""Mirroring a run folder between real object stores (S3: moto; GCS: an emulator; both on
127.0.0.1) and local copies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from finelabel.errors import FinelabelError
from finelabel.run_folder import RunFolder, write_json
from finelabel.storage import fetch, filesystem, publish


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _objects(uri: str) -> set[str]:
    from pyarrow.fs import FileSelector, FileType

    fs, root = filesystem(uri)
    return {info.path[len(root) + 1:] for info in fs.get_file_info(
        FileSelector(root, recursive=True, allow_not_found=True)) if info.type == FileType.File}


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_folder_published_then_fetched_elsewhere_is_identical_and_copied_once(
        bucket, tmp_path):
    here, there, uri = tmp_path / "here", tmp_path / "there", f"{bucket}/run"
    _write(here / "manifest.json", b'{"a": 1}')
    _write(here / "items" / "part-0.parquet", os.urandom(3 << 20))  # several MB
    _write(here / "dual" / "model" / "meta.json", b"{}")
    first = publish(here, uri)
    assert first.files == 3 and first.bytes == (3 << 20) + 10
    assert fetch(uri, there).files == 3
    assert _tree(there) == _tree(here)
    assert publish(here, uri).files == 0 and fetch(uri, there).files == 0  # nothing changed


def test_changes_and_removals_travel_and_partial_files_never_do(bucket, tmp_path):
    here, there, uri = tmp_path / "here", tmp_path / "there", f"{bucket}/run"
    _write(here / "a.json", b"1111")
    _write(here / "gone.json", b"x")
    publish(here, uri)
    fetch(uri, there)
    _write(here / "a.json", b"2222")  # same size, new content, within the same second
    (here / "gone.json").unlink()
    _write(here / "dual" / "model.tmp" / "meta.json", b"half")  # replacing() at work
    _write(here / "b.json", b"new")
    _write(here / "c.json.part-123", b"a download in flight")
    change = publish(here, uri)
    assert (change.files, change.removed) == (2, 1)
    assert _objects(uri) == {"a.json", "b.json"}
    fetched = fetch(uri, there)
    assert (fetched.files, fetched.removed) == (2, 1)
    assert _tree(there) == {"a.json": b"2222", "b.json": b"new"}


def test_folders_ray_writes_to_the_bucket_are_left_alone_on_both_sides(bucket, tmp_path):
    uri = f"{bucket}/run"
    fs, root = filesystem(uri)
    with fs.open_output_stream(f"{root}/ray_results/dual/checkpoint_000001/model.pt") as out:
        out.write(b"weights")
    folder = RunFolder.at(uri).create()
    assert not folder.ray_results.exists()  # not fetched: Ray reads it from the bucket
    write_json(folder.results, {"map": 0.5})
    folder.publish()
    assert _objects(uri) == {"ray_results/dual/checkpoint_000001/model.pt", "results.json"}


def test_a_remote_run_folder_is_fetched_on_create_and_publishes_single_files(bucket):
    uri = f"{bucket}/run"
    writer = RunFolder.at(uri).create()
    write_json(writer.manifest, {"counts": {"train": 3}})
    writer.publish(writer.manifest)
    assert _objects(uri) == {"manifest.json"}
    writer.manifest.unlink()
    assert RunFolder.at(uri).create().manifest.read_text().count("train") == 1


def test_an_unreachable_endpoint_is_one_line_naming_the_uri_and_the_settings(
        monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(FinelabelError) as error:
        fetch("s3://bucket/run", tmp_path / "copy")
    message = str(error.value)
    assert message.startswith("s3://bucket/run: ") and "AWS_ENDPOINT_URL" in message
    assert "\n" not in message


def test_a_missing_bucket_is_one_line(s3_bucket, tmp_path):
    (tmp_path / "x.json").write_text("1")
    with pytest.raises(FinelabelError, match=r"^s3://no-such-bucket/run: .*AWS_ENDPOINT_URL"):
        publish(tmp_path, "s3://no-such-bucket/run")


def test_a_folder_another_node_published_survives_this_copys_publish(bucket, tmp_path):
    """The driver never fetched fold 1's net (a task on another node trained it): publishing
    the driver's copy keeps it, while a folder the driver replaced is mirrored exactly."""
    uri = f"{bucket}/run"
    other, driver = tmp_path / "other-node", tmp_path / "driver"
    _write(other / "siamese" / "fold-1" / "model" / "meta.json", b"{}")
    publish(other / "siamese" / "fold-1" / "model", f"{uri}/siamese/fold-1/model")
    _write(driver / "siamese" / "fold-0" / "model" / "meta.json", b"{}")
    _write(driver / "items" / "part-old.parquet", b"old")
    publish(driver, uri)
    (driver / "items" / "part-old.parquet").unlink()  # replaced by a new prepare
    _write(driver / "items" / "part-new.parquet", b"new")
    publish(driver, uri)
    assert _objects(uri) == {"siamese/fold-0/model/meta.json", "siamese/fold-1/model/meta.json",
                             "items/part-new.parquet"}


def test_a_pipeline_whose_bucket_does_not_answer_stops_before_anything_starts(
        monkeypatch, tmp_path, capsys):
    from finelabel.cli import main

    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("FINELABEL_CACHE", str(tmp_path / "cache"))
    tracking = f"sqlite:///{tmp_path}/mlflow.db"
    code = main(["pipeline", "--out", "s3://bucket/run", "--tracking-uri", tracking,
                 "--set", "data.dataset=synthetic"])
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1
    assert error[0].startswith("finelabel: error: s3://bucket/run: ")
    assert "AWS_ENDPOINT_URL" in error[0]
    assert not (tmp_path / "mlflow.db").exists()  # no MLflow run was opened
