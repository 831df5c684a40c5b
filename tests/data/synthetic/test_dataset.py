"""The built-in synthetic dataset: layout, both languages, determinism, and a learnable signal."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from finelabel.config import SyntheticConfig
from finelabel.data.layout.feature_matrix import check_rows, load_feature_matrix
from finelabel.data.layout.lists import (
    count_data_lines,
    image_file,
    list_file,
    read_layout,
    text_file,
)
from finelabel.data.layout.texts import read_text
from finelabel.data.synthetic.dataset import write_synthetic_dataset
from finelabel.data.synthetic.words import category_names, word_lists
from finelabel.errors import ConfigError, ErrorPolicy

SMALL = SyntheticConfig(categories=3, train_per_category=5, test_per_category=2, seed=3)


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _english_tokens(text: str, stop: set[str]) -> list[str]:
    return [w for w in re.findall(r"[a-z]+", text.lower()) if w not in stop]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_layout_reads_back(synthetic_en_root: Path, synthetic_zh_root: Path, lang: str) -> None:
    root = synthetic_en_root if lang == "en" else synthetic_zh_root
    cfg = SyntheticConfig()
    layout = root / "wikipedia_dataset"
    categories, records = read_layout(layout, ErrorPolicy("fail"))
    assert categories == ["art", "biology", "geography", "history", "literature"]
    train = [r for r in records if r.split == "train"]
    assert len(train) == cfg.categories * cfg.train_per_category
    assert len(records) - len(train) == cfg.categories * cfg.test_per_category
    assert Counter(r.label for r in train) == {c: 60 for c in range(5)}
    for record in records[::37]:
        path = text_file(layout, record.text_id)
        assert path.suffix == (".xml" if lang == "en" else ".txt")
        assert read_text(path, record).strip()
        with Image.open(image_file(layout, categories[record.label], record.image_id)) as image:
            assert image.format == "JPEG" and image.size == (cfg.image_size, cfg.image_size)


def test_feature_rows_match_lists(synthetic_en_root: Path) -> None:
    layout = synthetic_en_root / "wikipedia_dataset"
    path = synthetic_en_root / "features/raw_features.mat"
    for split, key in (("train", "I_tr"), ("test", "I_te")):
        matrix = load_feature_matrix(path, key)
        check_rows(matrix, count_data_lines(list_file(layout, split)), path, key)
        assert matrix.shape[1] == SyntheticConfig().feature_dim
        assert (matrix >= 0).all()
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=1e-5)


def test_english_texts_exercise_the_xml_repair(synthetic_en_root: Path) -> None:
    texts = list((synthetic_en_root / "wikipedia_dataset/texts").glob("*.xml"))
    raw = [p.read_text(encoding="utf-8") for p in texts]
    assert sum(" & " in t for t in raw) >= 10 and sum("&ndash;" in t for t in raw) >= 5
    assert all(t.startswith('<document id="') for t in raw)


def test_chinese_texts_segment_into_the_word_lists(synthetic_zh_root: Path) -> None:
    jieba = pytest.importorskip("jieba")
    jieba.setLogLevel(logging.WARNING)
    words = word_lists(5, "zh")
    known = {w for topic in words.topics for w in topic} | set(words.shared) | set(words.stop)
    text = "".join(p.read_text(encoding="utf-8") for p in
                   sorted((synthetic_zh_root / "wikipedia_dataset/texts").glob("*.txt"))[:30])
    tokens = [t for t in jieba.lcut(text) if t.strip() and t != "。"]
    assert sum(t in known for t in tokens) / len(tokens) > 0.9


def test_vocabulary_above_threshold(synthetic_en_root: Path) -> None:
    """min_freq 8 keeps a usable word graph at the default size."""
    layout = synthetic_en_root / "wikipedia_dataset"
    _, records = read_layout(layout, ErrorPolicy())
    stop = set(word_lists(5, "en").stop)
    counts = Counter(w for r in records if r.split == "train"
                     for w in _english_tokens(read_text(text_file(layout, r.text_id)), stop))
    assert sum(c > 8 for c in counts.values()) > 100


def _nb_posteriors(train: np.ndarray, labels: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Multinomial naive Bayes class posteriors (a stand-in for a learned model)."""
    classes = np.unique(labels)
    totals = np.stack([train[labels == c].sum(0) + 1.0 for c in classes])
    log_like = test @ np.log(totals / totals.sum(1, keepdims=True)).T
    post = np.exp(log_like - log_like.max(1, keepdims=True))
    return post / post.sum(1, keepdims=True)


def _mean_ap(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores, axis=1, kind="stable")
    relevant = labels[order] == labels[:, None]
    precision = np.cumsum(relevant, 1) / np.arange(1, scores.shape[1] + 1)
    return float(((precision * relevant).sum(1) / relevant.sum(1)).mean())


def test_retrieval_is_learnable_but_not_trivial(synthetic_en_root: Path) -> None:
    layout = synthetic_en_root / "wikipedia_dataset"
    _, records = read_layout(layout, ErrorPolicy())
    stop = set(word_lists(5, "en").stop)
    tokens = {r.text_id: _english_tokens(read_text(text_file(layout, r.text_id)), stop)
              for r in records}
    vocab = {w: i for i, w in enumerate(sorted({w for t in tokens.values() for w in t}))}
    bags = np.zeros((len(records), len(vocab)))
    for i, record in enumerate(records):
        for word in tokens[record.text_id]:
            bags[i, vocab[word]] += 1
    labels = np.array([r.label for r in records])
    train = np.array([r.split == "train" for r in records])
    features = synthetic_en_root / "features/raw_features.mat"
    images = [load_feature_matrix(features, k) * 128 for k in ("I_tr", "I_te")]
    text_post = _nb_posteriors(bags[train], labels[train], bags[~train])
    image_post = _nb_posteriors(images[0], labels[train], images[1])
    i2t = _mean_ap(image_post @ text_post.T, labels[~train])
    assert 0.5 < i2t < 0.95  # chance is 0.2


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    for name, lang in (("a", "en"), ("b", "en"), ("c", "zh"), ("d", "zh")):
        write_synthetic_dataset(tmp_path / name, SMALL, lang=lang)
    assert _tree_digest(tmp_path / "a") == _tree_digest(tmp_path / "b")
    assert _tree_digest(tmp_path / "c") == _tree_digest(tmp_path / "d")
    write_synthetic_dataset(tmp_path / "e", SyntheticConfig(**{**vars(SMALL), "seed": 4}))
    assert _tree_digest(tmp_path / "e") != _tree_digest(tmp_path / "a")


def test_parts_are_independent(tmp_path: Path) -> None:
    full = write_synthetic_dataset(tmp_path / "full", SMALL)
    bare = write_synthetic_dataset(tmp_path / "bare", SMALL, images=False, features=False)
    assert bare == tmp_path / "bare" / "wikipedia_dataset"
    assert not (bare / "images").exists() and not (tmp_path / "bare/features").exists()
    without_images = {k: v for k, v in _tree_digest(full).items() if not k.startswith("images")}
    assert without_images == _tree_digest(bare)


def test_sizes_and_many_categories(tmp_path: Path) -> None:
    cfg = SyntheticConfig(categories=12, train_per_category=2, test_per_category=1,
                          image_size=40, feature_dim=20)
    layout = write_synthetic_dataset(tmp_path, cfg, lang="zh")
    categories, records = read_layout(layout, ErrorPolicy())
    assert categories[-2:] == ["topic11", "topic12"] and len(records) == 36
    assert load_feature_matrix(tmp_path / "features/raw_features.mat", "I_te").shape == (12, 20)
    with Image.open(next((layout / "images/topic12").glob("*.jpg"))) as image:
        assert image.size == (40, 40)


def test_word_lists_are_distinct() -> None:
    for lang in ("en", "zh"):
        words = word_lists(12, lang)
        topic_words = [w for topic in words.topics for w in topic]
        assert min(len(t) for t in words.topics) >= 35
        assert len(set(topic_words)) == len(topic_words)
        assert not set(topic_words) & (set(words.shared) | set(words.stop))
    assert category_names(3) == ["art", "biology", "geography"]


def test_chinese_topic_words_are_single_jieba_tokens() -> None:
    jieba = pytest.importorskip("jieba")
    jieba.setLogLevel(logging.WARNING)
    words = word_lists(10, "zh")
    assert [w for t in words.topics for w in t if jieba.lcut(w) != [w]] == []


def test_unknown_language(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lang"):
        write_synthetic_dataset(tmp_path, SMALL, lang="fr")
