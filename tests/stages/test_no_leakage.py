"""Nothing is fitted on what it will be judged on: vocabulary, word vectors and graph, image
standardiser, text idf, label bins and model selection see the training split only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from finelabel.config import ModelConfig
from finelabel.data.prepared import PreparedData
from finelabel.models import create_model
from tests.conftest import prepare_into


@pytest.fixture(scope="module")
def planted(ray_local, tmp_path_factory) -> Path:
    """A synthetic dataset whose test (and validation) texts carry a word no training text
    has, often enough to pass the frequency threshold."""
    from finelabel.config import SyntheticConfig
    from finelabel.data.synthetic.dataset import write_synthetic_dataset

    root = tmp_path_factory.mktemp("planted")
    layout = write_synthetic_dataset(root / "data", SyntheticConfig(
        train_per_category=40, test_per_category=12), lang="en")
    test_ids = [line.split("\t")[0] for line in
                (layout / "testset_txt_img_cat.list").read_text().splitlines()]
    for text_id in test_ids:
        path = next((layout / "texts").glob(f"{text_id}.*"))
        path.write_text(path.read_text().replace("</text>", " zebrafish zebrafish </text>"))
    out = root / "run"
    prepare_into(out, ["data.dataset=wikipedia", f"data.root={root / 'data'}",
                       "text.min_freq=2", "graph.dim=16"])
    return out


def test_a_word_only_test_texts_have_is_not_in_the_vocabulary(planted):
    words = [line.split("\t")[0] for line in (planted / "vocab.tsv").read_text().splitlines()]
    assert "zebrafish" not in words
    data = PreparedData.load(planted)
    train_words = np.unique(data.text_signals[data.indices("train")].indices)
    assert len(train_words) == len(words) == data.num_nodes


def test_image_standardiser_and_text_idf_are_fitted_on_training_items(prepared_synthetic):
    data = PreparedData.load(prepared_synthetic)
    model = create_model("dual", ModelConfig(embed_dim=8, text_signal="tfidf"), data)
    norm = model.image_encoder[0]
    train = data.images(data.indices("train"))
    torch.testing.assert_close(norm.mean, train.mean(0))
    everything = data.images(np.arange(len(data.labels)))
    assert not torch.allclose(norm.mean, everything.mean(0))
    counts = data.text_signals[data.indices("train")]
    df = np.bincount(counts.indices, minlength=data.num_nodes)
    expected = np.log((1 + counts.shape[0]) / (1 + df)) + 1
    np.testing.assert_allclose(model.text_encoder.signal.idf.numpy(), expected, rtol=1e-5)


def test_pairs_come_from_the_training_split_only(prepared_synthetic):
    from finelabel.stages.pairs import sampled_pairs

    data = PreparedData.load(prepared_synthetic)
    train = set(data.indices("train").tolist())
    for task in ("siamese", "dual"):
        frame = sampled_pairs(data, 2000, seed=0, task=task)
        for column in frame.columns[:2]:
            assert set(frame[column].tolist()) <= train
