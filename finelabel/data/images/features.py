"""Image features from JPEGs: VGG-19 fc7 over a batch of image paths, for a Ray Data actor pool.

One unreadable image gives an error row, never a crashed actor: the prepare stage turns error
rows into :class:`DataError` through the run's error policy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

from finelabel.data.images.vgg import FC7_DIM, load_vgg19_fc7
from finelabel.data.layout.records import SKIP_HINT, PairRecord, listed_at
from finelabel.errors import DataError
from finelabel.storage.mirror import SourceMirror

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_SKIP_HINT = f"Replace the image, {SKIP_HINT}"


def imagenet_transform(image_size: int = 224) -> transforms.Compose:
    """Standard ImageNet preprocessing: resize (256 for 224), center crop, normalise."""
    return transforms.Compose([
        transforms.Resize(round(image_size * 256 / 224)),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
    ])


def read_image(path: str | Path, record: PairRecord | None = None,
               where: str = "") -> Image.Image:
    """Open and fully decode an image as RGB; ``missing_image`` / ``bad_image`` otherwise.

    ``record`` (or a ready ``where`` text) names the list line in the message.
    """
    path, where = Path(path), where or listed_at(record)
    if not path.is_file():
        raise DataError(f"image file not found{where}", path=path, reason="missing_image",
                        hint=_SKIP_HINT)
    try:
        with Image.open(path) as image:
            return image.convert("RGB")  # decodes every pixel: a truncated file fails here
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DataError(f"cannot decode the image ({error}){where}", path=path,
                        reason="bad_image", hint=_SKIP_HINT) from None


def _where(batch: dict[str, np.ndarray], i: int) -> str:
    """`` (listed at list:line)`` when the batch carries ``list_path`` and ``line_no``."""
    if "list_path" in batch and "line_no" in batch:
        return f" (listed at {batch['list_path'][i]}:{int(batch['line_no'][i])})"
    return ""


class VGGFeatureExtractor:
    """Callable for ``Dataset.map_batches``: adds ``image_feature`` (n, 4096) float32,
    ``error`` (message or '') and ``error_reason`` (``missing_image``, ``bad_image`` or '').

    The model loads once per actor, on the GPU when there is one (unless ``device`` says).
    """

    def __init__(self, weights: str, image_size: int = 224, device: str | None = None,
                 mirror: SourceMirror | None = None) -> None:
        self.mirror = mirror  # images in the driver's copy of the run folder: read ours
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = load_vgg19_fc7(weights).to(self.device).eval()
        self.transform = imagenet_transform(image_size)

    def _load(
        self, batch: dict[str, np.ndarray]
    ) -> tuple[list[torch.Tensor], list[DataError | None]]:
        """Preprocessed tensors of the readable images; per row, its error or None."""
        tensors, errors = [], []
        for i, path in enumerate(batch["image_path"]):
            try:
                local = self.mirror.here(path) if self.mirror else path
                tensors.append(self.transform(read_image(str(local), where=_where(batch, i))))
                errors.append(None)
            except DataError as error:
                errors.append(error)
        return tensors, errors

    @torch.inference_mode()
    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) preprocessed images -> (B, 4096) fc7 features on the CPU."""
        return self.model(images.to(self.device)).float().cpu()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        tensors, errors = self._load(batch)
        features = np.zeros((len(errors), FC7_DIM), dtype=np.float32)
        ok = np.array([error is None for error in errors], dtype=bool)
        if tensors:
            features[ok] = self.embed(torch.stack(tensors)).numpy()
        out = dict(batch)
        out["image_feature"] = features
        out["error"] = np.array([str(e) if e else "" for e in errors], dtype=object)
        out["error_reason"] = np.array([e.reason if e else "" for e in errors], dtype=object)
        return out
