"""Precomputed image features: a matrix whose rows follow the lines of a split list.

English Wikipedia ships them as ``features/raw_features.mat`` (``I_tr`` 2173x128, ``I_te``
693x128); users may bring ``.npy``/``.npz`` files, or a folder of ``<key>.npy`` files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io
from scipy.io.matlab import MatReadError

from finelabel.errors import DataError

_MAT_HINT = "Set data.train_features_key / data.test_features_key to one of them"


def _fatal(message: str, path: Path, reason: str, hint: str) -> DataError:
    return DataError(message, path=path, reason=reason, hint=hint, record_level=False)


def _load_mat(path: Path, key: str | None) -> np.ndarray:
    try:
        arrays = scipy.io.loadmat(str(path))
    except NotImplementedError:  # MATLAB v7.3 files are HDF5
        raise _fatal("MATLAB v7.3 (HDF5) files are not supported", path, "bad_features",
                     "Save it with save(..., '-v7') or as .npy") from None
    except (MatReadError, ValueError, OSError) as error:
        raise _fatal(f"not a readable .mat file ({error})", path, "bad_features",
                     "Re-export the matrix with scipy.io.savemat or MATLAB") from None
    return _pick(arrays, key, path)


def _pick(arrays: dict, key: str | None, path: Path) -> np.ndarray:
    keys = sorted(k for k in arrays if not k.startswith("__"))
    if key is None or key not in keys:
        asked = "no key given" if key is None else f"no matrix named {key!r}"
        raise _fatal(f"{asked}; it holds: {', '.join(keys) or 'nothing'}", path,
                     "feature_key", _MAT_HINT)
    return arrays[key]


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise _fatal(f"not a readable .npy file ({error})", path, "bad_features",
                     "Save the matrix with numpy.save") from None


def _load_npz(path: Path, key: str | None) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return _pick({name: archive[name] for name in archive.files}, key, path)
    except (ValueError, OSError) as error:
        raise _fatal(f"not a readable .npz file ({error})", path, "bad_features",
                     "Save the matrices with numpy.savez") from None


def _read_any(path: Path, key: str | None) -> np.ndarray:
    if path.is_dir():  # a folder of <key>.npy files
        return _load_npy(path / f"{key}.npy") if key else _pick({}, key, path)
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return _load_mat(path, key)
    if suffix == ".npz":
        return _load_npz(path, key)
    if suffix == ".npy":
        return _load_npy(path)
    raise _fatal(f"unknown feature file type {suffix!r}", path, "bad_features",
                 "Use .mat, .npy, .npz or a folder of <key>.npy files")


def load_feature_matrix(path: str | Path, key: str | None = None) -> np.ndarray:
    """A (rows, dim) float32 matrix from ``.mat``/``.npz`` (``key`` names it), ``.npy``, or a
    folder (``<folder>/<key>.npy``). Not record-level: a bad matrix stops the run."""
    path = Path(path)
    target = path / f"{key}.npy" if path.is_dir() and key else path
    if not target.exists():
        raise _fatal("feature file not found", target, "missing_features",
                     "Check data.features_file, or use data.image_source=images")
    matrix = np.asarray(_read_any(path, key))
    where = f"{key!r} " if key else ""
    if matrix.ndim != 2 or not np.issubdtype(matrix.dtype, np.number):
        raise _fatal(f"matrix {where}must be numeric (rows, dim), got {matrix.dtype} "
                     f"{matrix.shape}", path, "bad_features", "One row per list line")
    if not np.isfinite(matrix).all():
        raise _fatal(f"matrix {where}holds NaN or infinite values", path, "bad_features",
                     "Recompute the features")
    return np.ascontiguousarray(matrix, dtype=np.float32)


def check_rows(matrix: np.ndarray, n_lines: int, path: str | Path, key: str | None) -> None:
    """Fail (under both error modes) when the matrix and its list disagree on the row count."""
    if matrix.shape[0] != n_lines:
        where = f"matrix {key!r}" if key else "matrix"
        raise DataError(
            f"{where} has {matrix.shape[0]} rows but its list has {n_lines} data lines",
            path=path, reason="feature_rows", record_level=False,
            hint="Rows must follow the list lines one to one; regenerate the features for "
                 "this list")
