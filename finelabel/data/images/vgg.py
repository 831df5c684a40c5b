"""VGG-19 cut at fc7: the fixed image encoder of the paper (4096-d, after the second ReLU).

Weights are chosen by name: ``imagenet`` (torchvision's ``VGG19_Weights.IMAGENET1K_V1``, from the
torch hub cache or downloaded into it), ``none`` (seeded random init, for tests and smoke runs)
or a path to a local state_dict file.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import VGG19_Weights, vgg19

from finelabel.errors import FinelabelError

FC7_DIM = 4096
WEIGHTS_URL = VGG19_Weights.IMAGENET1K_V1.url
WEIGHTS_FILE = Path(WEIGHTS_URL).name  # vgg19-dcbb9e9d.pth
_LOCAL_HINT = (f"Download {WEIGHTS_URL} on a machine with network access and pass it with "
               f"--set image.weights=/path/to/{WEIGHTS_FILE}")


class VGG19Fc7(nn.Module):
    """VGG-19 up to fc7 + ReLU; dropout is inactive in eval mode."""

    def __init__(self, vgg: nn.Module) -> None:
        super().__init__()
        self.features = vgg.features
        self.avgpool = vgg.avgpool
        # keeps vgg19's key names (classifier.0, classifier.3) so its state_dicts load as is
        self.classifier = vgg.classifier[:5]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised images -> (B, 4096) non-negative fc7 features."""
        x = self.avgpool(self.features(images))  # (B, 512, 7, 7)
        return self.classifier(torch.flatten(x, 1))


def _random_fc7() -> VGG19Fc7:
    """Random init with a fixed seed, so every actor of a pool computes the same features."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return VGG19Fc7(vgg19(weights=None))


def _fc7_from_state(state: dict, source: str) -> VGG19Fc7:
    """Build on the meta device (no init cost) and take the tensors of ``state``."""
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise FinelabelError(f"{source}: not a state_dict (got {type(state).__name__}). "
                             f"{_LOCAL_HINT}")
    with torch.device("meta"):
        model = VGG19Fc7(vgg19(weights=None))
    state = {k: v for k, v in state.items() if not k.startswith("classifier.6.")}
    try:
        model.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise FinelabelError(f"{source}: does not hold VGG-19 weights ({first[0].strip()}). "
                             f"{_LOCAL_HINT}") from None
    return model


def _cached_weights() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def _imagenet_state() -> dict:
    """The ImageNet weights from the torch hub cache, downloading them if they are not there."""
    cached = _cached_weights()
    was_cached = cached.is_file()
    try:
        return VGG19_Weights.IMAGENET1K_V1.get_state_dict(
            progress=False, check_hash=True, map_location="cpu", weights_only=True)
    except Exception as error:  # network errors are OSError; a damaged file raises many kinds
        if was_cached:
            raise FinelabelError(
                f"{cached}: the cached ImageNet VGG-19 weights cannot be read ({error}). "
                f"Delete the file to download it again, or use a local copy: {_LOCAL_HINT}"
                ) from None
        raise FinelabelError(
            f"could not download the ImageNet VGG-19 weights to {cached} ({error}). "
            f"{_LOCAL_HINT}, or copy it to {cached}") from None


def _local_state(path: Path, *, mmap: bool = False) -> dict:
    if not path.is_file():
        raise FinelabelError(f"{path}: VGG-19 weights file not found. Pass image.weights as "
                             f"'imagenet', 'none' or an existing .pth file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as error:  # torch.load raises many kinds on a damaged file
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise FinelabelError(f"{path}: cannot read the VGG-19 weights ({first}). "
                             f"{_LOCAL_HINT}") from None


def check_weights(weights: str) -> None:
    """Fail now, in this process, if ``weights`` cannot give a VGG-19; fetch ImageNet's if
    they are not cached. Called before an actor pool starts, so that its actors never die of
    it in their constructors (and the error is one line, not one page per actor)."""
    name = weights.strip().lower()
    if name == "none":
        return
    if name == "imagenet":
        cached = _cached_weights()
        if cached.is_file():
            return
        cached.parent.mkdir(parents=True, exist_ok=True)
        try:
            torch.hub.download_url_to_file(WEIGHTS_URL, str(cached), progress=False)
        except Exception as error:  # network errors are OSError, and some are not
            raise FinelabelError(
                f"could not download the ImageNet VGG-19 weights to {cached} ({error}). "
                f"{_LOCAL_HINT}, or copy it to {cached}") from None
        return
    path = Path(weights).expanduser()
    _fc7_from_state(_local_state(path, mmap=True), str(path))  # tensors stay on disk


def load_vgg19_fc7(weights: str) -> nn.Module:
    """VGG-19 fc7 extractor in eval mode, on the CPU: ``imagenet``, ``none`` or a ``.pth`` path."""
    name = weights.strip().lower()
    if name == "none":
        model = _random_fc7()
    elif name == "imagenet":
        model = _fc7_from_state(_imagenet_state(), f"ImageNet weights {_cached_weights()}")
    else:
        model = _fc7_from_state(_local_state(Path(weights).expanduser()), weights)
    return model.eval()
