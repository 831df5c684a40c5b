"""Precomputed feature matrices: formats, keys, and rows that must match the list lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.io

from finelabel.data.layout.feature_matrix import check_rows, load_feature_matrix
from finelabel.errors import DataError, ErrorPolicy

TRAIN = np.arange(12, dtype=np.float64).reshape(4, 3)
TEST = np.ones((2, 3))


@pytest.fixture()
def mat_file(tmp_path: Path) -> Path:
    path = tmp_path / "raw_features.mat"
    scipy.io.savemat(path, {"I_tr": TRAIN, "I_te": TEST})
    return path


def test_mat_by_key(mat_file: Path) -> None:
    matrix = load_feature_matrix(mat_file, "I_tr")
    assert matrix.dtype == np.float32 and matrix.flags.c_contiguous
    np.testing.assert_array_equal(matrix, TRAIN)
    assert load_feature_matrix(mat_file, "I_te").shape == (2, 3)


@pytest.mark.parametrize("key", [None, "I_val"])
def test_mat_unknown_key_lists_keys(mat_file: Path, key: str | None) -> None:
    with pytest.raises(DataError, match="it holds: I_te, I_tr") as caught:
        load_feature_matrix(mat_file, key)
    assert caught.value.reason == "feature_key" and not caught.value.record_level
    assert str(mat_file) in str(caught.value)


def test_npy_npz_and_folder(tmp_path: Path) -> None:
    np.save(tmp_path / "I_tr.npy", TRAIN)
    np.savez(tmp_path / "both.npz", I_tr=TRAIN, I_te=TEST)
    np.testing.assert_array_equal(load_feature_matrix(tmp_path / "I_tr.npy"), TRAIN)
    np.testing.assert_array_equal(load_feature_matrix(tmp_path / "both.npz", "I_te"), TEST)
    np.testing.assert_array_equal(load_feature_matrix(tmp_path, "I_tr"), TRAIN)
    with pytest.raises(DataError, match="it holds: I_te, I_tr"):
        load_feature_matrix(tmp_path / "both.npz", "nope")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="feature file not found") as caught:
        load_feature_matrix(tmp_path / "nope.mat", "I_tr")
    assert caught.value.reason == "missing_features"
    with pytest.raises(DataError, match=r"I_te\.npy"):
        load_feature_matrix(tmp_path, "I_te")


@pytest.mark.parametrize(("array", "message"), [
    (np.ones(5), "must be numeric"),
    (np.array([[1.0, np.nan]]), "NaN"),
])
def test_bad_values(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(DataError, match=message) as caught:
        load_feature_matrix(tmp_path / "x.npy")
    assert caught.value.reason == "bad_features"


@pytest.mark.parametrize(("name", "content"), [("x.npy", b"not numpy"), ("x.mat", b"garbage"),
                                               ("y.mat", bytes(range(256)) * 2),
                                               ("x.csv", b"1,2")])
def test_unreadable_files(tmp_path: Path, name: str, content: bytes) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(DataError) as caught:
        load_feature_matrix(tmp_path / name, "I_tr")
    assert caught.value.reason == "bad_features" and str(tmp_path / name) in str(caught.value)


def test_check_rows_passes_on_match(mat_file: Path) -> None:
    check_rows(load_feature_matrix(mat_file, "I_tr"), 4, mat_file, "I_tr")


@pytest.mark.parametrize("mode", ["fail", "skip"])
def test_check_rows_mismatch_is_fatal_in_both_modes(mat_file: Path, mode: str) -> None:
    matrix = load_feature_matrix(mat_file, "I_tr")
    with pytest.raises(DataError) as caught:
        try:
            check_rows(matrix, 5, mat_file, "I_tr")
        except DataError as error:
            ErrorPolicy(mode).handle(error)
    error = caught.value
    assert error.reason == "feature_rows" and not error.record_level
    for part in (str(mat_file), "'I_tr'", "4 rows", "5 data lines"):
        assert part in str(error)
