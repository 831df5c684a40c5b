"""The readers on the real English Wikipedia copy (skipped when it is absent)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from finelabel.data.layout.feature_matrix import check_rows, load_feature_matrix
from finelabel.data.layout.lists import count_data_lines, list_file, read_layout, text_file
from finelabel.data.layout.texts import read_text
from finelabel.errors import ErrorPolicy

pytestmark = pytest.mark.wikipedia


def test_all_pairs_read(wikipedia_en_root: Path) -> None:
    policy = ErrorPolicy("fail")
    categories, records = read_layout(wikipedia_en_root / "wikipedia_dataset", policy)
    assert len(categories) == 10 and categories[0] == "art" and categories[-1] == "warfare"
    counts = Counter(r.split for r in records)
    assert counts == {"train": 2173, "test": 693}
    assert {r.label for r in records} == set(range(10))
    assert policy.summary() == {}


def test_every_text_parses_including_the_888_with_bare_ampersands(
        wikipedia_en_root: Path) -> None:
    layout = wikipedia_en_root / "wikipedia_dataset"
    _, records = read_layout(layout, ErrorPolicy("fail"))
    malformed = 0
    for record in records:
        path = text_file(layout, record.text_id)
        try:
            ET.fromstring(path.read_text(encoding="utf-8"))
        except ET.ParseError:
            malformed += 1
        text = read_text(path, record)
        assert len(text.split()) > 20, path
        assert "&ndash;" not in text and "&amp;" not in text
    assert malformed == 888


def test_feature_rows_match_lists(wikipedia_en_root: Path) -> None:
    path = wikipedia_en_root / "features" / "raw_features.mat"
    layout = wikipedia_en_root / "wikipedia_dataset"
    for split, key, rows in (("train", "I_tr", 2173), ("test", "I_te", 693)):
        matrix = load_feature_matrix(path, key)
        assert matrix.shape == (rows, 128) and matrix.dtype == np.float32
        check_rows(matrix, count_data_lines(list_file(layout, split)), path, key)
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-4)
