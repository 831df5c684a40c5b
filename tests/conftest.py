"""Shared fixtures. Each block says which tests it serves; keep blocks name-spaced."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from finelabel.config import SyntheticConfig
from finelabel.data.synthetic.dataset import write_synthetic_dataset


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the tests and the commands they start. A runner started in the background
    without job control (``cmd &`` in a script, a common way to start scripts/loaded_runs.sh)
    has SIGINT ignored, and its children inherit that: the Ctrl-C tests' commands then ignored
    Ctrl-C. Ray Train's handler, left installed by any earlier fit, used to hide this."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# --- datasets: English Wikipedia and the built-in synthetic one (layout, texts, features) ---

#: A few pairs per category: small enough to write per test and damage freely.
TINY_SYNTHETIC = SyntheticConfig(categories=3, train_per_category=4, test_per_category=2,
                                 image_size=32, feature_dim=16, seed=7)


@pytest.fixture(scope="session")
def wikipedia_en_root() -> Path:
    """English Wikipedia (read-only); the test is skipped when it is absent."""
    default = Path(__file__).resolve().parents[2] / "shared/datasets/wikipedia_en"
    root = Path(os.environ.get("FINELABEL_WIKIPEDIA_EN", default))
    if not (root / "wikipedia_dataset" / "categories.list").is_file():
        pytest.skip(f"English Wikipedia not found at {root} (set FINELABEL_WIKIPEDIA_EN)")
    return root


@pytest.fixture(scope="session")
def synthetic_en_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Default-size English synthetic dataset with images and features; do not modify it."""
    root = tmp_path_factory.mktemp("synthetic_en")
    write_synthetic_dataset(root, SyntheticConfig(), lang="en")
    return root


@pytest.fixture(scope="session")
def synthetic_zh_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Default-size Chinese synthetic dataset (``.txt`` texts); do not modify it."""
    root = tmp_path_factory.mktemp("synthetic_zh")
    write_synthetic_dataset(root, SyntheticConfig(), lang="zh")
    return root


@pytest.fixture()
def tiny_layout(tmp_path: Path) -> Path:
    """A fresh tiny English layout folder (texts, images, features) that a test may damage."""
    return write_synthetic_dataset(tmp_path / "tiny", TINY_SYNTHETIC, lang="en")


# --- Ray: one local instance per test session (starting Ray costs seconds) ---


@pytest.fixture(scope="session")
def ray_local():
    """A local Ray shared by every test that needs one; shut down by this fixture alone."""
    import ray

    from finelabel.stages.ray_session import local_ray

    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
    # Four logical CPUs on two cores: two Train workers plus Ray Data tasks never starve. The
    # dashboard stays on: Ray Train's placement-group cleaner queries the state API, which
    # finds this instance by the address start_local gives it, however many others run.
    with local_ray(num_cpus=4):
        yield ray


# --- prepared datasets, made once per session through the real prepare stage ---


def prepare_into(out: Path, overrides: list[str], *, on_error: str = "fail") -> dict:
    from finelabel.config import load_config
    from finelabel.stages.prepare import prepare

    return prepare(load_config(None, overrides), out, on_error=on_error)


SMALL_SYNTHETIC = ["data.dataset=synthetic", "data.synthetic.train_per_category=40",
                   "data.synthetic.test_per_category=12", "text.min_freq=2", "graph.dim=16"]


@pytest.fixture(scope="session")
def prepared_synthetic(ray_local, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small prepared English synthetic dataset (features from the matrix); read-only."""
    out = tmp_path_factory.mktemp("prepared_synthetic")
    prepare_into(out, SMALL_SYNTHETIC)
    return out


# --- object storage: one S3-compatible server per session, a fresh bucket per test ---


@pytest.fixture(scope="session")
def s3_env() -> dict[str, str]:
    """The environment that reaches the session's S3 server (moto, on 127.0.0.1)."""
    from tests.object_store import s3_server

    with s3_server() as env:
        yield env


@pytest.fixture(scope="session")
def gcs_env() -> dict[str, str]:
    """The environment that reaches the session's GCS emulator, on 127.0.0.1."""
    from tests.object_store import gcs_server

    with gcs_server() as env:
        yield env


@pytest.fixture(params=["s3", "gs"])
def bucket(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket on each kind of object store (S3, GCS), this process pointing at it."""
    if request.param == "s3":
        return request.getfixturevalue("s3_bucket")
    import re

    from tests.object_store import make_gcs_bucket

    env = request.getfixturevalue("gcs_env")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    tmp_path = request.getfixturevalue("tmp_path")
    monkeypatch.setenv("FINELABEL_CACHE", str(tmp_path / "cache"))
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-")
    return make_gcs_bucket(env, name)


@pytest.fixture()
def s3_bucket(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
              tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """``s3://<bucket>`` new for this test, with this process's environment pointing at it and
    a working-copy cache of the test's own."""
    import re

    from tests.object_store import make_bucket

    for key, value in s3_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FINELABEL_CACHE", str(tmp_path / "cache"))
    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:50].strip("-")
    return make_bucket(s3_env, name)


def paired_copy(prepared: Path, folder: Path, *, n_pairs: int, siamese_pairs: int):
    """A run folder at ``folder``: a copy of ``prepared`` with its pairs made."""
    import shutil

    from finelabel.config import load_config
    from finelabel.run_folder import RunFolder
    from finelabel.stages.pairs import make_pairs

    run = RunFolder.at(folder)
    shutil.copytree(prepared, run.root)
    make_pairs(load_config(None, [f"pairs.n_pairs={n_pairs}",
                                  f"pairs.siamese_pairs={siamese_pairs}"]), run.root)
    return run
