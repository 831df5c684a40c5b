"""A run folder with pairs, for the tests that run Ray Train."""

from __future__ import annotations

from pathlib import Path

import pytest

from finelabel.run_folder import RunFolder
from tests.conftest import paired_copy


@pytest.fixture(scope="module")
def paired(prepared_synthetic: Path, tmp_path_factory) -> RunFolder:
    return paired_copy(prepared_synthetic, tmp_path_factory.mktemp("paired") / "run",
                       n_pairs=2000, siamese_pairs=200)
