"""Our errors come out of Ray's wrappers whole: ``user_error`` finds them, however deep."""

from __future__ import annotations

import pickle

import pytest

from finelabel.errors import ConfigError, DataError, FinelabelError, user_error


def test_a_plain_error_is_itself():
    error = DataError("bad line", path="a.list", line=3, reason="bad_columns")
    assert user_error(error) is error


def test_an_error_chained_as_cause_or_context_is_found():
    try:
        try:
            raise ConfigError("config.train: unknown key 'epoch'")
        except ConfigError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        found = user_error(outer)
    assert isinstance(found, ConfigError) and "unknown key" in str(found)


def test_a_ray_task_error_hands_back_its_cause():
    from ray.exceptions import RayTaskError

    cause = DataError("text file not found", path="t.xml", reason="missing_text")
    wrapped = RayTaskError("fn", "Traceback ...", cause).as_instanceof_cause()
    found = user_error(wrapped)
    assert found is cause and str(found) == "t.xml: text file not found"


def test_an_actor_that_died_in_its_constructor_is_read_from_its_message():
    """Ray keeps only the text of a constructor's error (seen with the VGG-19 actor pool)."""
    from ray.exceptions import ActorDiedError

    died = ActorDiedError()
    died.error_msg = (
        "The actor died because of an error raised in its creation task, "
        "ray::MapWorker(MapBatches(VGGFeatureExtractor)).__init__() (pid=1)\n"
        "  File \"vgg.py\", line 84, in _imagenet_state\n"
        "finelabel.errors.FinelabelError: could not download the ImageNet VGG-19 weights; pass "
        "--set image.weights=/path/to/vgg19-dcbb9e9d.pth")
    found = user_error(RuntimeError("dataset failed").with_traceback(None))
    assert found is None
    error = RuntimeError("materialize failed")
    error.__cause__ = died
    found = user_error(error)
    assert type(found) is FinelabelError
    assert str(found) == ("could not download the ImageNet VGG-19 weights; pass "
                          "--set image.weights=/path/to/vgg19-dcbb9e9d.pth")


def test_a_train_worker_failure_is_found_among_the_ranks():
    from ray.train import WorkerGroupError

    cause = ConfigError("train.lr must be > 0")
    error = WorkerGroupError("Training failed due to worker errors", {0: RuntimeError("x"),
                                                                       1: cause})
    assert user_error(error) is cause


def test_an_unrelated_error_is_not_ours():
    assert user_error(ValueError("a bug")) is None


@pytest.mark.parametrize("error", [DataError("m", path="p", line=2, reason="r", hint="h"),
                                   ConfigError("c")])
def test_errors_survive_pickling_across_processes(error):
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is type(error) and str(again) == str(error)
