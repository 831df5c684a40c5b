"""The prepare stage end to end on Ray Data: outputs, manifest, and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from finelabel.cli import main
from finelabel.config import load_config
from finelabel.data.prepared import PreparedData
from finelabel.data.synthetic.dataset import write_synthetic_dataset
from finelabel.data.text.word_graph import load_graph
from finelabel.errors import DataError
from finelabel.stages import prepare as prepare_stage
from finelabel.stages.prepare import prepare, record_blocks
from tests.conftest import SMALL_SYNTHETIC, TINY_SYNTHETIC, prepare_into
from tests.paths import CONFIGS

ITEM_COLUMNS = {"item_id", "text_id", "image_id", "label", "split", "word_idx", "word_count",
                "image_feature", "image_path"}


def test_synthetic_outputs_and_manifest(prepared_synthetic: Path) -> None:
    manifest = json.loads((prepared_synthetic / "manifest.json").read_text())
    assert manifest["counts"] == {"train": 180, "val": 20, "test": 60}
    assert manifest["skipped"] == {}
    graph = manifest["graph"]
    assert graph["symmetric"] and graph["min_degree"] >= 8
    assert graph["nodes"] == manifest["vocab_size"] > 50
    assert manifest["config"]["graph"]["dim"] == 16
    assert any(path.endswith("trainset_txt_img_cat.list") for path in manifest["inputs"])
    assert all(len(digest) == 64 for digest in manifest["inputs"].values())
    table = pq.read_table(prepared_synthetic / "items")
    assert ITEM_COLUMNS <= set(table.column_names)
    assert sorted(table["item_id"].to_pylist()) == list(range(260))
    edge_index, nodes = load_graph(prepared_synthetic / "graph.npz")
    assert nodes == manifest["vocab_size"] and edge_index.shape[0] == 2


def test_prepared_data_loads_for_training(prepared_synthetic: Path) -> None:
    data = PreparedData.load(prepared_synthetic)
    assert data.text_signals.shape == (260, data.num_nodes)
    assert data.image_features.shape == (260, 128)
    np.testing.assert_allclose(data.image_features.sum(axis=1), 1.0, rtol=1e-4)
    assert len(data.indices("val")) == 20 and len(data.indices("test")) == 60
    # Validation is stratified: every category keeps training items and gives validation ones.
    assert set(data.labels[data.indices("val")]) == set(range(5))
    assert data.texts(data.indices("train")[:3]).shape == (3, data.num_nodes)
    assert float(data.text_signals.sum()) > 0


def test_vocabulary_comes_from_training_items_only(prepared_synthetic: Path) -> None:
    words = [line.split("\t")[0] for line in
             (prepared_synthetic / "vocab.tsv").read_text().splitlines()]
    data = PreparedData.load(prepared_synthetic)
    train_columns = np.unique(data.text_signals[data.indices("train")].indices)
    assert len(train_columns) == len(words)  # every vocabulary word occurs in training texts


def test_chinese_texts_with_jpeg_features(ray_local, tmp_path: Path) -> None:
    """Each item's feature is VGG-19 fc7 of its own JPEG (the actor pool keeps rows aligned),
    and the vocabulary is jieba's Chinese words."""
    from finelabel.data.images.features import VGGFeatureExtractor

    manifest = prepare_into(tmp_path, [
        "data.lang=zh", "data.image_source=images", "image.weights=none", "image.image_size=32",
        "image.batch_size=8", "data.synthetic.categories=3", "data.synthetic.train_per_category=8",
        "data.synthetic.test_per_category=2", "text.min_freq=1", "graph.dim=8", "graph.k=4"])
    assert manifest["image_dim"] == 4096
    assert manifest["counts"]["test"] == 6
    data = PreparedData.load(tmp_path)
    assert (data.image_features >= 0).all() and data.image_features.any()
    assert any(path.endswith(".jpg") for path in manifest["inputs"])
    items = pq.read_table(tmp_path / "items", columns=["item_id", "image_id", "label",
                                                       "image_path"]).sort_by("item_id")
    paths = [Path(p) for p in items["image_path"].to_pylist()]
    categories = manifest["categories"]
    assert [(p.parent.name, p.stem) for p in paths] == [
        (categories[label], image_id) for label, image_id in
        zip(items["label"].to_pylist(), items["image_id"].to_pylist())]
    extractor = VGGFeatureExtractor("none", image_size=32, device="cpu")
    expected = extractor({"image_path": np.array([str(p) for p in paths],
                                                 dtype=object)})["image_feature"]  # (n, 4096)
    # Nearest to its own JPEG's fc7, and within 1 %: tight on the CPU, and on a GPU's TF32 too.
    distances = np.linalg.norm(data.image_features[:, None] - expected[None], axis=-1)  # (n, n)
    assert distances.argmin(axis=1).tolist() == list(range(len(paths)))
    assert (distances.diagonal() < 0.01 * np.linalg.norm(expected, axis=1)).all()
    words = [line.split("\t")[0] for line in (tmp_path / "vocab.tsv").read_text(
        encoding="utf-8").splitlines()]
    assert words and all("\u4e00" <= ch <= "\u9fff" for word in words for ch in word)


@pytest.mark.wikipedia
def test_wikipedia_en(ray_local, wikipedia_en_root: Path, tmp_path: Path) -> None:
    config = load_config(CONFIGS / "wikipedia_en.yaml", root=str(wikipedia_en_root))
    manifest = prepare(config, tmp_path)
    counts = manifest["counts"]
    assert counts["train"] + counts["val"] == 2173 and counts["test"] == 693
    assert manifest["skipped"] == {}  # all 888 files with bare '&' parsed
    assert manifest["graph"]["symmetric"] and manifest["graph"]["min_degree"] >= 8
    assert manifest["image_dim"] == 128
    assert len([p for p in manifest["inputs"] if p.endswith(".xml")]) == 2866


# --- bad input: fail stops with one line naming the file; skip counts per reason ---


@pytest.fixture()
def damaged_root(tmp_path: Path) -> Path:
    write_synthetic_dataset(tmp_path / "src", TINY_SYNTHETIC, lang="en", images=True)
    return tmp_path / "src"


def _layout_overrides(root: Path) -> list[str]:
    return ["data.dataset=wikipedia", f"data.root={root}", "text.min_freq=0", "graph.dim=8",
            "graph.k=3"]


def _lines(root: Path) -> list[str]:
    return (root / "wikipedia_dataset/trainset_txt_img_cat.list").read_text().splitlines()


def _text(root: Path, line: int) -> Path:
    return root / "wikipedia_dataset/texts" / (_lines(root)[line - 1].split("\t")[0] + ".xml")


DAMAGES = {
    "missing_text": lambda root: _text(root, 2).unlink(),
    "not_utf8": lambda root: _text(root, 3).write_bytes(b"<document><text>caf\xe9</text>"),
    "empty_text": lambda root: _text(root, 4).write_text(
        "<document><text>the and of 1999</text></document>"),
}


@pytest.mark.parametrize("reason", sorted(DAMAGES))
def test_damaged_text_fails_or_is_skipped(ray_local, damaged_root, tmp_path, reason) -> None:
    DAMAGES[reason](damaged_root)
    overrides = _layout_overrides(damaged_root)
    with pytest.raises(DataError) as caught:
        prepare_into(tmp_path / "fail", overrides)
    assert "wikipedia_dataset/texts/" in str(caught.value) and caught.value.reason == reason
    manifest = prepare_into(tmp_path / "skip", overrides, on_error="skip")
    assert manifest["skipped"] == {reason: 1}
    assert sum(manifest["counts"].values()) == 17


def test_list_damage_is_counted_by_line(ray_local, damaged_root, tmp_path) -> None:
    path = damaged_root / "wikipedia_dataset/trainset_txt_img_cat.list"
    lines = _lines(damaged_root)
    lines[1] = lines[1] + "\textra"
    lines[2] = "\t".join(lines[2].split("\t")[:2] + ["42"])
    lines[-1] = lines[0]  # same line count: the feature matrix still matches
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"trainset_txt_img_cat\.list:2"):
        prepare_into(tmp_path / "fail", _layout_overrides(damaged_root))
    manifest = prepare_into(tmp_path / "skip", _layout_overrides(damaged_root), on_error="skip")
    assert manifest["skipped"] == {"bad_columns": 1, "duplicate": 1, "unknown_label": 1}


def test_feature_rows_that_do_not_match_stay_fatal(ray_local, damaged_root, tmp_path) -> None:
    path = damaged_root / "wikipedia_dataset/trainset_txt_img_cat.list"
    path.write_text("\n".join(_lines(damaged_root)[:-1]) + "\n")  # one line fewer than I_tr rows
    with pytest.raises(DataError, match="raw_features.mat") as caught:
        prepare_into(tmp_path / "skip", _layout_overrides(damaged_root), on_error="skip")
    assert not caught.value.record_level


def test_corrupt_and_missing_images(ray_local, damaged_root, tmp_path) -> None:
    images = sorted((damaged_root / "wikipedia_dataset/images").rglob("*.jpg"))
    images[0].write_bytes(b"not a jpeg")
    images[1].unlink()
    overrides = _layout_overrides(damaged_root) + [
        "data.image_source=images", "image.weights=none", "image.image_size=32"]
    with pytest.raises(DataError, match=r"\.jpg"):
        prepare_into(tmp_path / "fail", overrides)
    manifest = prepare_into(tmp_path / "skip", overrides, on_error="skip")
    assert manifest["skipped"] == {"bad_image": 1, "missing_image": 1}


def test_cli_prints_one_line_without_traceback(ray_local, damaged_root, tmp_path, capsys):
    DAMAGES["missing_text"](damaged_root)
    sets = [arg for item in _layout_overrides(damaged_root) for arg in ("--set", item)]
    status = main(["prepare", "--out", str(tmp_path / "out"), "--tracking-uri",
                   f"sqlite:///{tmp_path}/mlflow.db", *sets])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith("finelabel: error: ")
    assert "Traceback" not in err[0] and ".xml" in err[0]


def test_shipped_configs_are_valid() -> None:
    shipped = sorted(CONFIGS.glob("*.yaml"))
    assert [p.name for p in shipped] == ["demo.yaml", "wikipedia_en.yaml",
                                         "wikipedia_en_paper.yaml"]
    assert load_config(CONFIGS / "wikipedia_en_paper.yaml").recipe == "paper"
    for path in shipped:
        load_config(path, root="/nonexistent")
    assert load_config(None, SMALL_SYNTHETIC).data.synthetic.train_per_category == 40


def test_input_hashes_are_keyed_by_path_under_the_root(tmp_path):
    from finelabel.data.manifest import hash_inputs, sha256_file

    root = tmp_path / "data"
    (root / "texts").mkdir(parents=True)
    (root / "texts" / "a.xml").write_text("one")
    (root / "b.list").write_text("two")
    outside = tmp_path / "vectors.txt"
    outside.write_text("three")
    (tmp_path / "link").symlink_to(root)  # a path through a link to the root is under it
    inputs = hash_inputs([root / "texts" / "a.xml", str(tmp_path / "link" / "b.list"), outside,
                          root / "texts" / ".." / "texts" / "a.xml"], root)
    assert inputs == {"b.list": sha256_file(root / "b.list"),
                      "texts/a.xml": sha256_file(root / "texts" / "a.xml"),
                      str(outside): sha256_file(outside)}


def test_records_are_cut_into_blocks_that_keep_every_row():
    table = pa.table({"rid": np.arange(10)})
    blocks = record_blocks(table, rows=4)
    assert [len(b) for b in blocks] == [4, 4, 2]
    assert pa.concat_tables(blocks).equals(table)
    assert [len(b) for b in record_blocks(table.slice(0, 0), rows=4)] == [0]


def test_small_blocks_prepare_the_same_data(ray_local, prepared_synthetic, tmp_path, monkeypatch):
    """Cutting the records into blocks changes nothing that is written (the corpus is read in
    record order, whatever order Ray Data returns the blocks in)."""
    monkeypatch.setattr(prepare_stage, "RECORDS_PER_BLOCK", 16)  # 260 records -> 17 blocks
    prepare_into(tmp_path, SMALL_SYNTHETIC)
    assert (tmp_path / "vocab.tsv").read_text() == (prepared_synthetic / "vocab.tsv").read_text()
    edges, nodes = load_graph(tmp_path / "graph.npz")
    expected_edges, expected_nodes = load_graph(prepared_synthetic / "graph.npz")
    assert nodes == expected_nodes and np.array_equal(edges, expected_edges)
    items = pq.read_table(tmp_path / "items").sort_by("item_id")
    expected = pq.read_table(prepared_synthetic / "items").sort_by("item_id")
    assert items.select(sorted(ITEM_COLUMNS)).equals(expected.select(sorted(ITEM_COLUMNS)))


def test_the_corpus_is_read_in_record_order_whatever_the_block_order(ray_local):
    import ray.data

    from finelabel.stages.item_assignment import ItemAssignment
    from finelabel.stages.prepare import build_vocabulary

    rows = [{"rid": rid, "tokens": [f"w{rid}", "common"]} for rid in range(6)]
    blocks = [pa.Table.from_pylist(rows[i:i + 2]) for i in (4, 2, 0)]  # last records first
    assignment = ItemAssignment.from_splits(np.arange(6), ["train"] * 3 + ["test"] + ["train"] * 2)
    config = load_config(None, ["data.dataset=synthetic", "text.min_freq=0"])
    _, corpus = build_vocabulary(ray.data.from_arrow(blocks), assignment, config)
    assert corpus == [[f"w{rid}", "common"] for rid in (0, 1, 2, 4, 5)]
