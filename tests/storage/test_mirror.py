"""prepare's tasks on a node that does not share the driver's disk read the synthetic source
(generated into a remote run folder's working copy) from the bucket."""

from __future__ import annotations

import shutil

import numpy as np

from finelabel.config import load_config
from finelabel.data.images.features import VGGFeatureExtractor
from finelabel.data.text.tokenize import get_tokenizer
from finelabel.errors import ErrorPolicy
from finelabel.run_folder import RunFolder
from finelabel.stages.prepare import (
    attach_image_paths,
    read_source,
    records_table,
    source_mirror,
)
from finelabel.stages.prepare_batches import tokenize_batch
from finelabel.storage import mirror as mirror_module

SMALL = ["data.dataset=synthetic", "data.image_source=images",
         "data.synthetic.train_per_category=3", "data.synthetic.test_per_category=1",
         "data.synthetic.image_size=32", "image.weights=none"]


def test_tasks_elsewhere_read_texts_and_images_from_the_bucket(s3_bucket, tmp_path,
                                                                monkeypatch):
    config = load_config(None, SMALL)
    folder = RunFolder.at(f"{s3_bucket}/run")
    source = read_source(config, folder.create(), ErrorPolicy("fail"))  # generates, publishes
    table = attach_image_paths(source, records_table(source, None), ErrorPolicy("fail"))
    batch = table.to_pandas()
    mirror = source_mirror(folder, source)
    assert mirror is not None and mirror.uri == f"{s3_bucket}/run/source"

    shutil.rmtree(folder.root)  # another node: the driver's copy is not there
    monkeypatch.setenv("FINELABEL_CACHE", str(tmp_path / "other-node"))
    mirror_module._fetched_once.cache_clear()
    tokens = tokenize_batch(batch, tokenizer=get_tokenizer("en"),
                            layout_dir=str(source.layout_dir), mirror=mirror)
    assert (tokens["error"] == "").all() and all(len(t) > 0 for t in tokens["tokens"])
    assert all(p.startswith(str(source.layout_dir)) for p in tokens["text_path"])  # driver's
    images = VGGFeatureExtractor("none", image_size=32, device="cpu", mirror=mirror)(
        {name: batch[name].to_numpy() for name in ("image_path",)})
    assert (images["error"] == "").all()
    assert np.abs(images["image_feature"]).sum(axis=1).min() > 0
    assert (tmp_path / "other-node" / "runs").is_dir()


def test_a_local_run_folder_or_dataset_needs_no_mirror(tmp_path):
    config = load_config(None, SMALL)
    folder = RunFolder.at(tmp_path / "run")
    source = read_source(config, folder.create(), ErrorPolicy("fail"))
    assert source_mirror(folder, source) is None
