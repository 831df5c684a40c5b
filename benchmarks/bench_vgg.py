"""VGG-19 fc7 feature extraction throughput (images/s), and CPU-vs-device agreement.

The prepare stage's actor pool runs :class:`VGGFeatureExtractor` once per actor; this measures
one extractor. Random weights (``--weights none``) cost the same arithmetic as ImageNet's.
    python benchmarks/bench_vgg.py [--device cuda] [--images 256] [--batch 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from finelabel.data.images.features import VGGFeatureExtractor
from finelabel.data.synthetic.images import draw_image


def write_images(folder: Path, count: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"{i}.jpg"
        draw_image(rng, i % 5, size).save(path, quality=90)
        paths.append(str(path))
    return np.array(paths, dtype=object)


def throughput(extractor: VGGFeatureExtractor, paths: np.ndarray, batch: int) -> float:
    extractor({"image_path": paths[:batch]})  # warm-up (cuDNN autotuning, allocator)
    if extractor.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for i in range(0, len(paths), batch):
        extractor({"image_path": paths[i:i + batch]})
    return len(paths) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_images(Path(tmp), args.images, 256)
        extractor = VGGFeatureExtractor("none", args.size, device=args.device)
        rate = throughput(extractor, paths, args.batch)
        print(f"{args.device}: {rate:.1f} images/s at {args.size} px, batch {args.batch}")
        if args.device != "cpu":
            cpu = VGGFeatureExtractor("none", args.size, device="cpu")
            a = cpu({"image_path": paths[:4]})["image_feature"]
            b = extractor({"image_path": paths[:4]})["image_feature"]
            scale = float(np.abs(a).max())
            print(f"max |cpu - {args.device}| = {np.abs(a - b).max():.2e} (max |x| = {scale:.2e})")


if __name__ == "__main__":
    main()
