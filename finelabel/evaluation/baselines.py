"""Classical baselines on the same split and features as the models: CCA, SCM, random.

- SCM (semantic correlation matching, Rasiwasia et al. 2010): a logistic regression per
  modality to category posteriors (texts as TF-IDF of the prepared vocabulary, images as their
  standardised features); pairs ranked by the dot product of the posteriors, or by their
  centred cosine.
- CCA: canonical correlation analysis of TF-IDF (reduced by a truncated SVD) and image
  features, ranked by cosine in the canonical space.
- random: a seeded random ranking, the floor.

Their settings (regularisation, dimensions) are chosen on the validation split; they are fitted
on the training split and scored once on the test split, under both protocols.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from finelabel.data.prepared import PreparedData
from finelabel.evaluation.queries import evaluation_queries
from finelabel.metrics import CrossModalScores, retrieval_report
from finelabel.metrics.cross_modal import cross_modal_map
from finelabel.models.text_signal import inverse_document_frequency

log = logging.getLogger(__name__)

BASELINES = ("cca", "scm_dot", "scm_cosine", "random")
SCM_C = (0.01, 0.1, 1.0, 10.0)
CCA_DIMS = (5, 9)
SVD_DIMS = (10, 100)



@dataclass
class Features:
    """TF-IDF texts and standardised images of every item, fitted on the training split."""

    text: sp.csr_matrix  # (n, |V|)
    image: np.ndarray  # (n, D)
    labels: np.ndarray  # (n,)
    splits: dict[str, np.ndarray]  # split -> item ids


def features(data: PreparedData, max_queries: int = 0) -> Features:
    """Every item's features; ``splits["queries"]`` are the test items asked, as
    :func:`finelabel.evaluation.evaluate_model` asks them."""
    train = data.indices("train")
    counts = data.text_signals.astype(np.float64)
    tf = counts.copy()
    tf.data = np.log1p(tf.data)
    tfidf = sp.csr_matrix(tf.multiply(inverse_document_frequency(counts[train])))
    norms = np.sqrt(np.asarray(tfidf.multiply(tfidf).sum(axis=1)).ravel())
    tfidf = sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ tfidf)
    image = data.image_features.astype(np.float64)
    mean, std = image[train].mean(0), image[train].std(0) + 1e-6
    splits = {name: data.indices(name) for name in ("train", "val", "test")}
    splits["queries"] = evaluation_queries(splits["test"], max_queries)
    return Features(tfidf, (image - mean) / std, data.labels, splits)


def _report(text_emb: np.ndarray, image_emb: np.ndarray, f: Features, top_k: int,
            score: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> dict:
    """Both protocols of DESIGN.md for embeddings of every item and a score function."""
    test, db = f.splits["test"], np.concatenate([f.splits["train"], f.splits["val"]])
    asked = f.splits["queries"]

    def scores(queries: np.ndarray, base: np.ndarray) -> CrossModalScores:
        return CrossModalScores(score(image_emb[queries], text_emb[base]),
                                score(text_emb[queries], image_emb[base]),
                                f.labels[queries], f.labels[base])

    return retrieval_report(scores(asked, test), scores(asked, db), top_k=top_k)


def _val_map(text_emb: np.ndarray, image_emb: np.ndarray, f: Features, score) -> float:
    val = f.splits["val"]
    return cross_modal_map(CrossModalScores(score(image_emb[val], text_emb[val]),
                                            score(text_emb[val], image_emb[val]),
                                            f.labels[val], f.labels[val]))["avg"]


def dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a @ b.T


def centred_cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    a /= np.linalg.norm(a, axis=1, keepdims=True) + 1e-12
    b /= np.linalg.norm(b, axis=1, keepdims=True) + 1e-12
    return a @ b.T


def _posteriors(x, y: np.ndarray, train: np.ndarray, c: float, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(x[train], y[train])
    return model.predict_proba(x)  # (n, categories)


def scm(f: Features, score, *, top_k: int, seed: int = 0) -> dict:
    """SCM with each side's regularisation chosen on the validation split."""
    train = f.splits["train"]
    text = {c: _posteriors(f.text, f.labels, train, c, seed) for c in SCM_C}
    image = {c: _posteriors(f.image, f.labels, train, c, seed) for c in SCM_C}
    best = max(itertools.product(SCM_C, SCM_C),
               key=lambda cs: _val_map(text[cs[0]], image[cs[1]], f, score))
    log.info("SCM (%s): C_text %g, C_image %g chosen on validation", score.__name__, *best)
    return {**_report(text[best[0]], image[best[1]], f, top_k, score),
            "settings": {"C_text": best[0], "C_image": best[1]}}


def cca(f: Features, *, top_k: int, seed: int = 0) -> dict:
    """CCA of SVD-reduced TF-IDF and image features, dimensions chosen on validation."""
    from sklearn.cross_decomposition import CCA
    from sklearn.decomposition import TruncatedSVD

    train = f.splits["train"]
    fitted = {}
    for svd_dim, dims in itertools.product(SVD_DIMS, CCA_DIMS):
        svd_dim = min(svd_dim, f.text.shape[1] - 1)
        text = TruncatedSVD(svd_dim, random_state=seed).fit(f.text[train]).transform(f.text)
        dims = min(dims, svd_dim, f.image.shape[1], len(train) - 1)
        model = CCA(n_components=dims, max_iter=2000).fit(text[train], f.image[train])
        t, i = model.transform(text, f.image)
        fitted[svd_dim, dims] = (np.asarray(t), np.asarray(i))
    best = max(fitted, key=lambda key: _val_map(*fitted[key], f, centred_cosine))
    return {**_report(*fitted[best], f, top_k, centred_cosine),
            "settings": {"svd_dims": best[0], "dims": best[1]}}


def random_ranking(f: Features, *, top_k: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    noise = rng.random((len(f.labels), 32))
    return {**_report(noise, rng.random((len(f.labels), 32)), f, top_k, dot), "settings": {}}


def run_baselines(data: PreparedData, *, top_k: int = 100, seed: int = 0,
                  max_queries: int = 0) -> dict[str, dict]:
    """{baseline: report}: each report has the protocols ("all", "train_at_K") and settings,
    over the test queries the models are asked (``eval.max_queries``)."""
    f = features(data, max_queries)
    return {"cca": cca(f, top_k=top_k, seed=seed),
            "scm_dot": scm(f, dot, top_k=top_k, seed=seed),
            "scm_cosine": scm(f, centred_cosine, top_k=top_k, seed=seed),
            "random": random_ranking(f, top_k=top_k, seed=seed)}
