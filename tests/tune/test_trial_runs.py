"""What a failed trial's MLflow run says about its error."""

from __future__ import annotations

from pyarrow.fs import FileSelector

from finelabel.storage import filesystem
from finelabel.tune.trial_runs import _error_tag


def test_a_failed_trial_with_storage_in_a_bucket_names_its_error(ray_local, s3_bucket):
    """Tune writes a trial's error into the driver's staging folder and copies it to the bucket
    later; the tag is set before that copy and must still carry the error, not a pointer."""
    from ray.exceptions import RayTaskError
    from ray.train._internal.storage import StorageContext
    from ray.tune.experiment import Trial

    fs, root = filesystem(f"{s3_bucket}/searches")
    storage = StorageContext(storage_path=root, experiment_dir_name="beta",
                             storage_filesystem=fs)
    trial = Trial("__fake", config={}, storage=storage, stub=True, trial_id="t0")
    trial.init_local_path()
    cause = ValueError("placement group for 2 workers could not be scheduled")
    trial.handle_error(RayTaskError("run_trial", f"Traceback ...\nValueError: {cause}", cause))

    stored = fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True))
    assert not [info.path for info in stored if "error" in info.base_name]  # not copied yet
    assert "could not be scheduled" in _error_tag(trial)
