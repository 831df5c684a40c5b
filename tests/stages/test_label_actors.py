"""The label stage's parts without Ray Data, on siamese checkpoints saved as training saves them:
each text is embedded as the siamese net embeds it, each pair scored as the net scores it (one
net, or the out-of-fold mean of two); and the siamese validation MAP against a naive one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from finelabel.config import ModelConfig
from finelabel.data.prepared import PreparedData
from finelabel.evaluation import siamese_map
from finelabel.models import create_model
from finelabel.stages.label_actors import TextEmbedder, load_head
from finelabel.train.checkpoint import save_checkpoint
from finelabel.train.hardness import SiameseSimilarity
from finelabel.train.pair_scores import with_similarity
from tests.metrics.test_metrics import naive_ap

CFG = ModelConfig(embed_dim=16, dropout=0.4)


@pytest.fixture(scope="module")
def data(prepared_synthetic: Path) -> PreparedData:
    return PreparedData.load(prepared_synthetic)


@pytest.fixture(scope="module")
def nets(data: PreparedData, tmp_path_factory) -> tuple[list[Path], list[torch.nn.Module]]:
    """Two siamese nets, every weight moved off its initial value (a checkpoint that failed to
    load would give a fresh net, and differ), saved as checkpoints."""
    folder = tmp_path_factory.mktemp("siamese")
    dirs, models = [], []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = create_model("siamese", CFG, data)
        with torch.no_grad():
            for param in model.parameters():
                param.add_(0.05 * torch.randn_like(param))
        dirs.append(save_checkpoint(folder / f"net{seed}", model.eval(), task="siamese",
                                    cfg=CFG, data=data))
        models.append(model)
    return dirs, models


@pytest.fixture()
def keep_threads():
    """The actors take one intra-op thread (one actor a core); give the session its own back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def texts(data: PreparedData, ids: np.ndarray) -> torch.Tensor:
    """(B, |V|) word counts straight from the CSR matrix."""
    return torch.from_numpy(data.text_signals[np.asarray(ids)].toarray())


def embedded(data: PreparedData, prepared: Path, dirs: list[Path]) -> torch.Tensor:
    """(k, n_items, d) every item's text by each net, through the actor in batches."""
    embedder = TextEmbedder([str(d) for d in dirs], str(prepared))
    out = [embedder({"item_id": ids}) for ids in np.array_split(np.arange(len(data.labels)), 3)]
    return torch.from_numpy(np.concatenate([o["embedding"] for o in out])).transpose(0, 1)


def test_text_embedder_embeds_with_every_net(prepared_synthetic, data, nets, keep_threads):
    dirs, models = nets
    ids = np.array([7, 0, 250, 3, 3])
    out = TextEmbedder([str(d) for d in dirs], str(prepared_synthetic))({"item_id": ids})
    assert out["item_id"].tolist() == ids.tolist()
    assert out["embedding"].shape == (5, 2, CFG.embed_dim)
    with torch.no_grad():
        for k, model in enumerate(models):
            np.testing.assert_allclose(out["embedding"][:, k], model.embed(texts(data, ids)),
                                       rtol=1e-5, atol=1e-6)
    assert not np.allclose(out["embedding"][:, 0], out["embedding"][:, 1])


@pytest.mark.parametrize("via_object_store", [False, True])
def test_pair_scores_give_the_siamese_similarity_of_each_pair(
        prepared_synthetic, data, nets, keep_threads, via_object_store):
    """r(T_i, T_j), T_j the text of image j's item: what the siamese net says of the pair,
    also from the read-only arrays a Ray task gets from the object store."""
    import ray

    dirs, models = nets
    similarity = SiameseSimilarity(embedded(data, prepared_synthetic, dirs[:1]),
                                   [load_head(dirs[0])], np.zeros(len(data.labels), np.int64))
    rng = np.random.default_rng(0)
    batch = {"text_idx": rng.integers(0, len(data.labels), 40),
             "image_idx": rng.integers(0, len(data.labels), 40),
             "positive": rng.random(40) < 0.5}
    scores = similarity.pair_scores()
    if via_object_store:
        scores = ray.get(ray.put(scores))
    out = with_similarity(batch, scores=scores)
    for key, value in batch.items():
        assert out[key] is value  # the pair's columns pass through
    assert out["similarity"].dtype == np.float32
    with torch.no_grad():
        expected = models[0](texts(data, batch["text_idx"]), texts(data, batch["image_idx"]))
    np.testing.assert_allclose(out["similarity"], expected.numpy(), rtol=1e-5, atol=1e-5)


def test_out_of_fold_similarity_is_the_mean_of_the_two_nets_that_missed_a_text(
        prepared_synthetic, data, nets, keep_threads):
    dirs, models = nets
    folds = data.folds(2, seed=0)
    similarity = SiameseSimilarity(embedded(data, prepared_synthetic, dirs),
                                   [load_head(d) for d in dirs], folds)
    train = data.indices("train")
    rng = np.random.default_rng(1)
    left, right = rng.choice(train, 60), rng.choice(train, 60)
    out = with_similarity({"text_idx": left, "image_idx": right},
                          scores=similarity.pair_scores())["similarity"]
    with torch.no_grad():
        by_net = [m(texts(data, left), texts(data, right)).numpy() for m in models]  # 2 x (60,)
    expected = [(by_net[folds[a]][n] + by_net[folds[b]][n]) / 2
                for n, (a, b) in enumerate(zip(left, right))]
    assert {folds[a] == folds[b] for a, b in zip(left, right)} == {True, False}
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_siamese_map_matches_a_naive_ranking_of_training_texts(data, nets):
    """Validation texts query the training texts, ranked by r; AP over the whole ranking.
    (r comes within 1e-7 between texts: it is scored as siamese_map scores it, so near-ties
    rank alike; test_models checks the score matrix against the pairwise forward.)"""
    model = nets[1][0]
    val, train = data.indices("val"), data.indices("train")
    with torch.no_grad():
        scores = model.head.score_matrix(model.embed(texts(data, val)),
                                         model.embed(texts(data, train)))  # (n_val, n_train)
    expected = np.mean([naive_ap(row.tolist(), data.labels[q], data.labels[train].tolist())
                        for q, row in zip(val, scores.numpy())])
    model.train()  # siamese_map evaluates in eval mode and gives the mode back
    try:
        assert siamese_map(model, data, "val") == {"t2t": pytest.approx(expected, abs=1e-6)}
        assert model.training
    finally:
        model.eval()


def test_in_process_embedding_keeps_the_callers_threads(prepared_synthetic, nets, keep_threads):
    dirs, _ = nets
    torch.set_num_threads(2)
    TextEmbedder([str(dirs[0])], str(prepared_synthetic), threads=None)
    assert torch.get_num_threads() == 2
    TextEmbedder([str(dirs[0])], str(prepared_synthetic))  # an actor: one thread a core
    assert torch.get_num_threads() == 1


def test_the_scoring_and_labelling_modules_import_no_torch():
    """Scoring and labelling tasks start at once because they never import torch."""
    import subprocess
    import sys

    code = ("import sys, finelabel.train.pair_scores, finelabel.labels; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_an_actor_on_another_node_fetches_items_and_nets_from_the_bucket(
        prepared_synthetic, data, nets, keep_threads, s3_bucket):
    """Given storage URIs, the embedder fills its own node's working copy (a fresh cache here)
    and embeds exactly as from the driver's folder."""
    from finelabel.storage import local_path, publish

    dirs, _ = nets
    run = f"{s3_bucket}/run"
    publish(prepared_synthetic, run)
    uris = [f"{run}/siamese/net{i}" for i in range(len(dirs))]
    for path, uri in zip(dirs, uris):
        publish(path, uri)
    ids = np.array([7, 0, 250, 3])
    remote = TextEmbedder(uris, run)({"item_id": ids})["embedding"]
    local = TextEmbedder([str(d) for d in dirs], str(prepared_synthetic))({"item_id": ids})
    np.testing.assert_array_equal(remote, local["embedding"])
    assert (local_path(run) / "items").is_dir() and (local_path(uris[1]) / "meta.json").is_file()
