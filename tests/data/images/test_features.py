"""VGG-19 fc7 features from JPEGs: weights by name, error rows, and no network access."""

from __future__ import annotations

import urllib.error
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import vgg19

from finelabel.data.images.features import VGGFeatureExtractor, read_image
from finelabel.data.images.vgg import FC7_DIM, WEIGHTS_FILE, WEIGHTS_URL, load_vgg19_fc7
from finelabel.errors import DataError, ErrorPolicy, FinelabelError

SIZE = 32


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three small JPEGs of different sizes and colours."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i, side in enumerate((32, 48, 64)):
        pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
        paths.append(folder / f"img{i}.jpg")
        Image.fromarray(pixels).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def extractor() -> VGGFeatureExtractor:
    return VGGFeatureExtractor("none", image_size=SIZE, device="cpu")


@pytest.fixture(scope="module")
def weights_file(extractor: VGGFeatureExtractor,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The random-init weights saved as a local state_dict (about 0.5 GB, removed after)."""
    path = tmp_path_factory.mktemp("weights") / WEIGHTS_FILE
    torch.save(extractor.model.state_dict(), path)
    yield path
    path.unlink()


def _batch(paths: list[Path]) -> dict[str, np.ndarray]:
    return {"image_path": np.array([str(p) for p in paths], dtype=object)}


def test_features_shape_relu_and_determinism(extractor: VGGFeatureExtractor,
                                             images: list[Path]) -> None:
    out = extractor(_batch(images))
    features = out["image_feature"]
    assert features.shape == (3, FC7_DIM) and features.dtype == np.float32
    assert (features >= 0).all() and (features > 0).any()
    assert not extractor.model.training
    assert list(out["error"]) == ["", "", ""] and list(out["error_reason"]) == ["", "", ""]
    np.testing.assert_array_equal(extractor(_batch(images))["image_feature"], features)
    assert list(out["image_path"]) == [str(p) for p in images]  # the batch passes through


def test_features_are_vgg19_fc7_after_its_relu(extractor: VGGFeatureExtractor,
                                               images: list[Path]) -> None:
    """The feature is torchvision's own VGG-19 run on the same weights, read after fc7's ReLU
    (classifier[4]): fc6, or fc7 before its ReLU, are 4096-d too and must not pass."""
    with torch.device("meta"):
        vgg = vgg19(weights=None)
    keys = vgg.load_state_dict(extractor.model.state_dict(), strict=False, assign=True)
    assert keys.missing_keys == ["classifier.6.weight", "classifier.6.bias"]
    assert not keys.unexpected_keys
    vgg.classifier[6] = torch.nn.Identity()  # the 1000-way layer after fc7 is not used
    vgg.eval()
    assert isinstance(vgg.classifier[3], torch.nn.Linear) and vgg.classifier[3].out_features \
        == FC7_DIM and isinstance(vgg.classifier[4], torch.nn.ReLU)
    seen = {}  # fc7 before its ReLU, copied: torchvision's ReLU works in place
    vgg.classifier[3].register_forward_hook(lambda m, i, out: seen.update(fc7=out.clone()))
    x = torch.stack([extractor.transform(read_image(p)) for p in images])  # (3, 3, S, S)
    with torch.no_grad():
        expected = vgg(x)  # (3, 4096): fc7 -> ReLU -> Dropout (inactive)
    assert (seen["fc7"] < 0).any()  # the ReLU matters: fc7 before it differs
    np.testing.assert_allclose(extractor(_batch(images))["image_feature"], expected.numpy(),
                               rtol=1e-5, atol=1e-6)


def test_random_init_is_seeded(extractor: VGGFeatureExtractor) -> None:
    """Every actor of a pool must compute the same random features."""
    again = load_vgg19_fc7("none")
    assert torch.equal(again.classifier[3].weight, extractor.model.classifier[3].weight)
    assert torch.equal(again.features[0].weight, extractor.model.features[0].weight)


def test_bad_images_give_error_rows(extractor: VGGFeatureExtractor, images: list[Path],
                                    tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(images[0].read_bytes()[:200])  # a truncated JPEG
    batch = _batch([images[0], tmp_path / "missing.jpg", corrupt, images[2]])
    batch["list_path"] = np.array(["train.list"] * 4, dtype=object)
    batch["line_no"] = np.array([1, 2, 3, 4])
    out = extractor(batch)
    assert list(out["error_reason"]) == ["", "missing_image", "bad_image", ""]
    assert str(tmp_path / "missing.jpg") in out["error"][1] and "train.list:2" in out["error"][1]
    assert str(corrupt) in out["error"][2] and "train.list:3" in out["error"][2]
    assert not out["image_feature"][1:3].any()
    alone = extractor(_batch([images[0], images[2]]))["image_feature"]
    np.testing.assert_allclose(out["image_feature"][[0, 3]], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["missing_image", "bad_image"])
def test_bad_image_fail_and_skip(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.jpg"
    if kind == "bad_image":
        path.write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    with pytest.raises(DataError) as caught:
        read_image(path, where=" (listed at train.list:9)")
    assert caught.value.reason == kind and str(path) in str(caught.value)
    assert "train.list:9" in str(caught.value)
    with pytest.raises(DataError):
        ErrorPolicy("fail").handle(caught.value)
    policy = ErrorPolicy("skip")
    policy.handle(caught.value)
    assert policy.summary() == {kind: 1}


def test_local_weights_file_gives_equal_outputs(extractor: VGGFeatureExtractor,
                                                weights_file: Path,
                                                images: list[Path]) -> None:
    loaded = VGGFeatureExtractor(str(weights_file), image_size=SIZE, device="cpu")
    assert not loaded.model.training
    np.testing.assert_array_equal(loaded(_batch(images))["image_feature"],
                                  extractor(_batch(images))["image_feature"])


def test_imagenet_uses_the_torch_hub_cache(extractor: VGGFeatureExtractor, weights_file: Path,
                                           images: list[Path], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "hub/checkpoints").mkdir(parents=True)
    (tmp_path / "hub/checkpoints" / WEIGHTS_FILE).symlink_to(weights_file)
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    cached = VGGFeatureExtractor("imagenet", image_size=SIZE, device="cpu")
    np.testing.assert_array_equal(cached(_batch(images[:1]))["image_feature"],
                                  extractor(_batch(images[:1]))["image_feature"])


def _no_network(*args: object, **kwargs: object) -> None:
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_imagenet_offline_says_how_to_pass_a_file(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    with pytest.raises(FinelabelError) as caught:
        load_vgg19_fc7("imagenet")
    message = str(caught.value)
    assert "could not download" in message and WEIGHTS_URL in message
    assert f"--set image.weights=/path/to/{WEIGHTS_FILE}" in message
    assert not list(tmp_path.rglob("*.pth"))


def test_imagenet_corrupt_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    cached = tmp_path / "hub/checkpoints" / WEIGHTS_FILE
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"half a download")
    with pytest.raises(FinelabelError, match="cannot be read.*Delete the file") as caught:
        load_vgg19_fc7("imagenet")
    assert str(cached) in str(caught.value)


def test_local_file_errors(tmp_path: Path) -> None:
    with pytest.raises(FinelabelError, match="not found.*'imagenet', 'none'"):
        load_vgg19_fc7(str(tmp_path / "vgg.pth"))
    (tmp_path / "corrupt.pth").write_bytes(b"garbage")
    with pytest.raises(FinelabelError, match="cannot read the VGG-19 weights"):
        load_vgg19_fc7(str(tmp_path / "corrupt.pth"))
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(FinelabelError, match="does not hold VGG-19 weights"):
        load_vgg19_fc7(str(tmp_path / "other.pth"))
    torch.save([1, 2], tmp_path / "list.pth")
    with pytest.raises(FinelabelError, match="not a state_dict"):
        load_vgg19_fc7(str(tmp_path / "list.pth"))
