"""The built-in synthetic dataset: the Wikipedia layout, generated, seeded, of any size.

Texts mix their category's topic words with shared words, another category's words and stop
words (``noise`` sets how many are not the category's own), images are small JPEGs whose colours
and shape depend on the category, and the feature matrix holds SIFT-like bag-of-words
histograms. Retrieval on it is learnable but not trivial. The same config gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io

from finelabel.config import LANGUAGES, SyntheticConfig
from finelabel.data.layout.lists import CATEGORIES_FILE, LIST_FILES
from finelabel.data.layout.records import SPLITS
from finelabel.data.synthetic.images import draw_image
from finelabel.data.synthetic.words import WordLists, category_names, word_lists
from finelabel.errors import ConfigError

#: Of the words (or visual words) that are not a text's (image's) own, the share taken from one
#: other category; capped at half the own share so the own category always dominates.
OTHER_TOPIC_SHARE = 0.35
#: Visual words counted per image histogram, per feature dimension.
DESCRIPTORS_PER_DIM = 1
#: Dirichlet concentration of the per-category visual-word profiles (lower = more distinct).
PROFILE_CONCENTRATION = 3.0


@dataclass(frozen=True)
class SyntheticItem:
    """One generated pair, as its list line will name it."""

    text_id: str
    image_id: str
    category: int
    split: str


def _items(rng: np.random.Generator, cfg: SyntheticConfig, split: str) -> list[SyntheticItem]:
    """One split's pairs, shuffled across categories as in English Wikipedia."""
    per_category = cfg.train_per_category if split == "train" else cfg.test_per_category
    categories = np.repeat(np.arange(cfg.categories), per_category)
    items = []
    for category in rng.permutation(categories):
        article, section = rng.bytes(16).hex(), int(rng.integers(1, 10))
        items.append(SyntheticItem(f"{article}-{section}", rng.bytes(16).hex(), int(category),
                                   split))
    return items


def _other_category(rng: np.random.Generator, category: int, n: int) -> int:
    return int((category + rng.integers(1, n)) % n)


def _other_share(own: float) -> float:
    """Share of the noise drawn from another category: below half the own share."""
    return min(OTHER_TOPIC_SHARE, 0.5 * own / (1.0 - own))


def _content_words(rng: np.random.Generator, own: tuple[str, ...], other: tuple[str, ...],
                   shared: tuple[str, ...], own_share: float, count: int) -> list[str]:
    """``count`` words: own topic words with probability ``own_share``, else noise words."""
    other_share = _other_share(own_share)
    out = []
    for draw, pick in zip(rng.random(count), rng.random(count), strict=True):
        if draw < own_share:
            pool = own
        else:
            pool = other if pick < other_share else shared
        out.append(pool[int(rng.integers(len(pool)))])
    return out


def _sentence(rng: np.random.Generator, content: list[str], words: WordLists, lang: str) -> str:
    """Content words with stop words between them, as one sentence."""
    tokens: list[str] = []
    for word in content:
        if rng.random() < 0.6:
            tokens.append(words.stop[int(rng.integers(len(words.stop)))])
        tokens.append(word)
    if lang == "zh":
        return "".join(tokens) + "。"
    if len(tokens) > 3 and rng.random() < 0.2:  # bare '&' as in English Wikipedia's XML
        tokens.insert(len(tokens) - 1, "&")
    text = " ".join(tokens)
    return text[0].upper() + text[1:] + "."


def _text_body(rng: np.random.Generator, item: SyntheticItem, words: WordLists, noise: float,
               lang: str) -> str:
    """A few sentences of 4 to 8 content words; how clean a text is varies around 1 - noise."""
    own_share = float(np.clip((1.0 - noise) * rng.uniform(0.5, 1.5), 0.05, 0.95))
    own = words.topics[item.category]
    other = words.topics[_other_category(rng, item.category, len(words.topics))]
    sentences = []
    for _ in range(int(rng.integers(2, 5))):
        content = _content_words(rng, own, other, words.shared, own_share,
                                 int(rng.integers(4, 9)))
        sentences.append(_sentence(rng, content, words, lang))
    if lang == "en" and rng.random() < 0.1:  # an HTML entity, also as in English Wikipedia
        start = int(rng.integers(1500, 1900))
        sentences.append(f"From {start}&ndash;{start + int(rng.integers(1, 60))}.")
    return ("" if lang == "zh" else " ").join(sentences)


def _text_file(body: str, item: SyntheticItem, name: str, lang: str) -> tuple[str, str]:
    """(file name, content): ``.xml`` like English Wikipedia, ``.txt`` for Chinese."""
    if lang == "zh":
        return f"{item.text_id}.txt", body + "\n"
    header = (f'<document id="{item.text_id}" name="{name}_{item.text_id[:6]}" '
              f'cat="{item.category + 1}">')
    return f"{item.text_id}.xml", f"{header}\n<text>\n{body}\n</text>\n</document>\n"


def _write_texts(texts_dir: Path, items: list[SyntheticItem], names: list[str], lang: str,
                 noise: float, rng: np.random.Generator) -> None:
    texts_dir.mkdir(parents=True, exist_ok=True)
    words = word_lists(len(names), lang)
    for item in items:
        body = _text_body(rng, item, words, noise, lang)
        file_name, content = _text_file(body, item, names[item.category], lang)
        (texts_dir / file_name).write_text(content, encoding="utf-8")


def _write_images(images_dir: Path, items: list[SyntheticItem], names: list[str],
                  size: int, rng: np.random.Generator) -> None:
    for name in names:
        (images_dir / name).mkdir(parents=True, exist_ok=True)
    for item in items:
        image = draw_image(rng, item.category, size)
        image.save(images_dir / names[item.category] / f"{item.image_id}.jpg", quality=90)


def feature_rows(rng: np.random.Generator, items: list[SyntheticItem], profiles: np.ndarray,
                 noise: float) -> np.ndarray:
    """(len(items), dim) histograms: a category profile mixed with another one and background,
    then counted from a finite number of visual words, so rows are noisy and sum to 1."""
    n_categories, dim = profiles.shape
    background = np.full(dim, 1.0 / dim)
    rows = np.empty((len(items), dim))
    for i, item in enumerate(items):
        own = float(np.clip((1.0 - noise) * rng.uniform(0.4, 1.4), 0.05, 0.95))
        other = profiles[_other_category(rng, item.category, n_categories)]
        share = _other_share(own)
        mix = own * profiles[item.category] + (1 - own) * (share * other + (1 - share) * background)
        counts = rng.multinomial(int(DESCRIPTORS_PER_DIM * dim), mix / mix.sum())
        rows[i] = counts / counts.sum()
    return rows


def _mat_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A MATLAB 5 file whose header carries no timestamp, so equal inputs give equal bytes."""
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, arrays)
    data = bytearray(buffer.getvalue())
    data[:116] = b"MATLAB 5.0 MAT-file, written by finelabel.data.synthetic.dataset".ljust(116)
    return bytes(data)


def _write_features(path: Path, items: dict[str, list[SyntheticItem]], cfg: SyntheticConfig,
                    rng: np.random.Generator) -> None:
    profiles = rng.dirichlet(np.full(cfg.feature_dim, PROFILE_CONCENTRATION), size=cfg.categories)
    arrays = {key: feature_rows(rng, items[split], profiles, cfg.noise)
              for key, split in (("I_tr", "train"), ("I_te", "test"))}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_mat_bytes(arrays))


def _write_lists(layout: Path, items: dict[str, list[SyntheticItem]], names: list[str]) -> None:
    layout.mkdir(parents=True, exist_ok=True)
    (layout / CATEGORIES_FILE).write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    for split in SPLITS:
        lines = [f"{i.text_id}\t{i.image_id}\t{i.category + 1}\n" for i in items[split]]
        (layout / LIST_FILES[split]).write_text("".join(lines), encoding="utf-8")


def write_synthetic_dataset(
    root: str | Path,
    cfg: SyntheticConfig,
    *,
    lang: str = "en",
    images: bool = True,
    features: bool = True,
    layout_dir: str = "wikipedia_dataset",
) -> Path:
    """Write the dataset under ``root``; return the layout folder ``root/<layout_dir>``.

    ``root/features/raw_features.mat`` holds ``I_tr``/``I_te`` (rows follow the lists) when
    ``features``; ``images/<category>/<image_id>.jpg`` are drawn when ``images``. English texts
    are ``.xml`` (with bare ``&`` to repair), Chinese texts ``.txt``. Existing files are
    overwritten. Each part has its own random stream, so switching one off changes no other.
    """
    if lang not in LANGUAGES:
        raise ConfigError(f"synthetic dataset: lang must be one of {LANGUAGES}, got {lang!r}")
    root, names = Path(root), category_names(cfg.categories)
    item_rng, text_rng, image_rng, feature_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(4))
    items = {split: _items(item_rng, cfg, split) for split in SPLITS}
    layout = root / layout_dir
    _write_lists(layout, items, names)
    every = items["train"] + items["test"]
    _write_texts(layout / "texts", every, names, lang, cfg.noise, text_rng)
    if images:
        _write_images(layout / "images", every, names, cfg.image_size, image_rng)
    if features:
        _write_features(root / "features" / "raw_features.mat", items, cfg, feature_rng)
    return layout
