"""The recipe's model options: text signals, the cosine and label-space scores, the
classifier of the label-space term, image dropout."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from finelabel.config import ModelConfig
from finelabel.models import build_dual_path
from finelabel.models.cosine_head import CosineHead
from finelabel.models.label_head import LabelSpaceHead
from finelabel.models.score_head import ScoreHead
from finelabel.models.text_signal import TextSignal, fit_text_signal, inverse_document_frequency
from tests.models.test_models import IMAGE_DIM, NUM_NODES, images, random_graph, word_counts


def test_idf_counts_each_text_once_per_word():
    counts = sp.csr_matrix(np.array([[3, 0, 1], [1, 0, 0], [2, 0, 0]], dtype=np.float32))
    idf = inverse_document_frequency(counts)
    expected = np.log(4 / (1 + np.array([3, 0, 1]))) + 1
    np.testing.assert_allclose(idf, expected, rtol=1e-6)


def test_signals_transform_counts_as_named():
    x = torch.tensor([[2.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    idf = torch.tensor([1.0, 2.0, 3.0])
    torch.testing.assert_close(TextSignal("counts")(x), x)
    torch.testing.assert_close(TextSignal("log1p")(x), torch.log1p(x))
    l2 = TextSignal("l2")(x)
    torch.testing.assert_close(l2[0], x[0] / x[0].norm())
    tfidf = TextSignal("tfidf", idf)(x)
    raw = torch.log1p(x[0]) * idf
    torch.testing.assert_close(tfidf[0], raw / raw.norm())
    assert torch.equal(tfidf[1], torch.zeros(3))  # an empty text stays empty, not NaN
    with pytest.raises(ValueError, match="idf"):
        TextSignal("tfidf")


def test_a_fitted_tfidf_signal_uses_training_texts_only():
    train = sp.csr_matrix(np.array([[1, 0], [1, 0]], dtype=np.float32))
    signal = fit_text_signal("tfidf", train)
    assert signal.idf[1] > signal.idf[0]  # word 1 never occurs in training texts


@pytest.mark.parametrize("head", [ScoreHead(8, dropout=0.0), CosineHead(),
                                  LabelSpaceHead(8, 4)])
def test_pair_matrix_scores_every_pair_as_forward_does(head):
    torch.manual_seed(0)
    head.eval()
    u, v = torch.randn(5, 8), torch.randn(3, 8)
    every = head.pair_matrix(u, v)
    assert every.shape == (5, 3)
    rows = head(u.repeat_interleave(3, 0), v.repeat(5, 1)).reshape(5, 3)
    torch.testing.assert_close(every, rows)
    torch.testing.assert_close(head.score_matrix(u, v, chunk_size=2), every)


@pytest.mark.parametrize("head", [ScoreHead(8, dropout=0.4), CosineHead(2.0),
                                  LabelSpaceHead(8, 4)])
def test_a_scorer_ranks_queries_against_a_database_as_forward_scores_them_both_ways(head):
    """Retrieval scores queries against a fixed database through ``scorer``: every pair as
    the head's forward scores it in eval mode, with the query on either side (texts query
    images and images query texts with one scorer)."""
    torch.manual_seed(0)
    head.eval()
    queries, db = torch.randn(5, 8), torch.randn(3, 8)
    got = head.scorer(db)(queries)
    assert got.shape == (5, 3)
    as_left = head(queries.repeat_interleave(3, 0), db.repeat(5, 1)).reshape(5, 3)
    as_right = head(db.repeat(5, 1), queries.repeat_interleave(3, 0)).reshape(5, 3)
    torch.testing.assert_close(got, as_left)
    torch.testing.assert_close(got, as_right)


def test_label_space_scores_are_dot_products_of_posteriors():
    head = LabelSpaceHead(4, 3)
    u, v = torch.randn(2, 4), torch.randn(2, 4)
    p, q = (torch.softmax(head.classifier(x), -1) for x in (u, v))
    torch.testing.assert_close(head(u, v), (p * q).sum(-1))
    assert ((head(u, v) > 0) & (head(u, v) < 1)).all()


def test_cosine_scores_ignore_length():
    head = CosineHead()
    u = torch.randn(3, 6)
    torch.testing.assert_close(head(u, 5 * u), torch.ones(3))


def test_a_classifier_is_added_only_for_the_label_space_term():
    cfg = ModelConfig(cheb_order=2, filters=1, embed_dim=8)
    plain = build_dual_path(cfg, random_graph(), NUM_NODES, IMAGE_DIM, num_classes=3)
    assert plain.classifier is None
    with pytest.raises(ValueError, match="no classifier"):
        plain(word_counts(), images(), with_logits=True)
    weighted = build_dual_path(cfg, random_graph(), NUM_NODES, IMAGE_DIM, num_classes=3,
                               label_weight=1.0)
    out = weighted(word_counts(), images(), with_logits=True)
    assert out.scores.shape == (6,) and out.text_logits.shape == (6, 3)
    label = build_dual_path(ModelConfig(cheb_order=2, embed_dim=8, score="label"),
                            random_graph(), NUM_NODES, IMAGE_DIM, num_classes=3,
                            label_weight=1.0)
    assert label.classifier is None  # the label-space head's own classifier serves
    out = label(word_counts(), images(), all_pairs=True, with_logits=True)
    assert out.scores.shape == (6, 6)
    torch.testing.assert_close(out.text_logits, label.head.classifier(
        label.encode_text(word_counts())))


def test_image_dropout_drops_image_features_in_training_only():
    cfg = ModelConfig(cheb_order=2, embed_dim=8, image_dropout=0.5)
    model = build_dual_path(cfg, random_graph(), NUM_NODES, IMAGE_DIM)
    dropouts = [m for m in model.image_encoder.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 1 and dropouts[0].p == 0.5
    model.eval()
    torch.testing.assert_close(model.encode_image(images()), model.encode_image(images()))
