"""Typed configuration, grouped by concern, loaded from YAML with ``key=value`` overrides.

Nothing past the entry point takes a raw dict: jobs and the CLI call :func:`load_config` and pass
the sections on. Unknown keys fail with the closest valid name, so a typo never goes unnoticed.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from finelabel.errors import ConfigError

LANGUAGES = ("en", "zh")
IMAGE_SOURCES = ("features", "images")
#: Input normalisation of fixed image features (``finelabel.models.feature_norm``).
IMAGE_NORMS = ("standardize", "l2", "none")
#: How word counts enter the text graph (``finelabel.models.text_signal``).
TEXT_SIGNALS = ("counts", "log1p", "tfidf", "l2")
#: How two embeddings are scored: the paper's learned head, a cosine, or label posteriors.
SCORES = ("head", "cosine", "label")
#: Training pairs: the sampled 1:1 pairs of the pairs stage, or every pair of a batch of items.
PAIRINGS = ("sampled", "in_batch")
PLACEMENT_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_choice(value: str, choices: tuple[str, ...], name: str) -> None:
    _check(value in choices, f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclass
class SyntheticConfig:
    """The built-in generated dataset (same layout as English Wikipedia)."""

    categories: int = 5
    train_per_category: int = 60
    test_per_category: int = 20
    image_size: int = 32
    feature_dim: int = 128
    #: 0 = each text draws only from its category's topic words; 1 = only from shared words.
    noise: float = 0.55
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self.categories >= 2, "synthetic.categories must be >= 2")
        _check(self.train_per_category >= 2, "synthetic.train_per_category must be >= 2")
        _check(self.test_per_category >= 1, "synthetic.test_per_category must be >= 1")
        _check(0.0 <= self.noise < 1.0, "synthetic.noise must be in [0, 1)")


@dataclass
class DataConfig:
    """Where the pairs come from and how the validation split is carved."""

    #: ``synthetic`` generates a dataset under the output folder; ``wikipedia`` reads ``root``.
    dataset: str = "synthetic"
    #: Dataset root holding ``layout_dir`` and the feature files (``--root`` overrides it).
    root: str | None = None
    layout_dir: str = "wikipedia_dataset"
    lang: str = "en"
    #: ``features``: rows of a matrix that follow the list order; ``images``: JPEGs through VGG-19.
    image_source: str = "features"
    features_file: str = "features/raw_features.mat"
    train_features_key: str = "I_tr"
    test_features_key: str = "I_te"
    val_fraction: float = 0.1
    seed: int = 0
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    def __post_init__(self) -> None:
        _check_choice(self.dataset, ("synthetic", "wikipedia"), "data.dataset")
        _check_choice(self.lang, LANGUAGES, "data.lang")
        _check_choice(self.image_source, IMAGE_SOURCES, "data.image_source")
        _check(0.0 < self.val_fraction < 0.5, "data.val_fraction must be in (0, 0.5)")
        _check(self.dataset == "synthetic" or bool(self.root),
               "data.root is required for data.dataset=wikipedia (pass --root DIR)")

    def layout_path(self, root: str | Path) -> Path:
        return Path(root) / self.layout_dir


@dataclass
class ImageConfig:
    """Image features extracted from JPEGs (used when ``data.image_source=images``)."""

    #: ``imagenet`` (torchvision's weights API, or its cache), ``none`` (random), or a local file.
    weights: str = "imagenet"
    image_size: int = 224
    batch_size: int = 16
    min_actors: int = 1
    max_actors: int = 2

    def __post_init__(self) -> None:
        _check(self.image_size >= 32, "image.image_size must be >= 32")
        _check(1 <= self.min_actors <= self.max_actors, "image: need 1 <= min_actors <= max_actors")


@dataclass
class TextConfig:
    """Tokenising and the vocabulary."""

    #: ``builtin`` or a path to a stop-word file (one word a line).
    stopwords: str = "builtin"
    #: Keep words whose training-corpus frequency is above this.
    min_freq: int = 8
    lemmatize: bool = False

    def __post_init__(self) -> None:
        _check(self.min_freq >= 0, "text.min_freq must be >= 0")


@dataclass
class GraphConfig:
    """The word graph: word vectors and the symmetric k-NN graph over them."""

    k: int = 8
    #: ``word2vec`` (trained on the training corpus) or a word2vec/GloVe text file.
    vectors: str = "word2vec"
    dim: int = 50
    window: int = 5
    epochs: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self.k >= 1, "graph.k must be >= 1")
        _check(self.dim >= 2, "graph.dim must be >= 2")


@dataclass
class ModelConfig:
    """Text GCN, image encoder and score head."""

    cheb_order: int = 3
    filters: int = 1
    embed_dim: int = 1024
    dropout: float = 0.4
    #: Image-feature input normalisation: ``standardize`` (training statistics), ``l2``, ``none``.
    image_norm: str = "standardize"
    #: Dropout on the (normalised) image features, before the image encoder.
    image_dropout: float = 0.0
    #: Word counts as the text signal: ``counts``, ``log1p``, ``tfidf`` (training idf, L2 rows),
    #: ``l2`` (rows of unit length).
    text_signal: str = "counts"
    #: ``head`` (w . dropout(u * v) + b, the paper's), ``cosine``, or ``label`` (dot product of
    #: category posteriors from one shared classifier).
    score: str = "head"

    def __post_init__(self) -> None:
        _check_choice(self.image_norm, IMAGE_NORMS, "model.image_norm")
        _check_choice(self.text_signal, TEXT_SIGNALS, "model.text_signal")
        _check_choice(self.score, SCORES, "model.score")
        _check(0.0 <= self.image_dropout < 1.0, "model.image_dropout must be in [0, 1)")
        _check(self.cheb_order >= 1, "model.cheb_order must be >= 1")
        _check(self.filters >= 1, "model.filters must be >= 1")
        _check(self.embed_dim >= 1, "model.embed_dim must be >= 1")
        _check(0.0 <= self.dropout < 1.0, "model.dropout must be in [0, 1)")


@dataclass
class PairsConfig:
    """Training pairs, 1:1 positive to negative, seeded."""

    n_pairs: int = 40_000
    siamese_pairs: int = 40_000
    seed: int = 0

    def __post_init__(self) -> None:
        _check(self.n_pairs >= 2 and self.siamese_pairs >= 2, "pairs: counts must be >= 2")


@dataclass
class LossConfig:
    """The loss margins that Ray Tune searches (DESIGN.md section 1)."""

    beta: float = 0.3
    lam: float = 0.35
    margin: float = 0.8
    bins: int = 9
    #: Weight of the label-space term: cross-entropy of both sides' category logits.
    label_weight: float = 0.0
    #: Centre the hardness labels within each polarity of a batch: the shift then moves hard
    #: pairs against easy ones without widening the margin.
    centre_labels: bool = False
    #: The control of the method: labels permuted among the pairs of the same polarity, which
    #: keeps their distribution and removes what they say about each pair.
    shuffle_labels: bool = False

    def __post_init__(self) -> None:
        _check(self.beta >= 0.0, "loss.beta must be >= 0")
        _check(self.label_weight >= 0.0, "loss.label_weight must be >= 0")
        _check(self.lam >= 0.0, "loss.lam must be >= 0")
        _check(self.bins >= 1, "loss.bins must be >= 1")


@dataclass
class TrainConfig:
    """Optimisation and the Ray Train scale."""

    lr: float = 1e-4
    lr_decay: float = 0.95
    batch_size: int = 128
    epochs: int = 50
    #: Ray Train workers; 0 runs the loop in the calling process.
    num_workers: int = 2
    use_gpu: bool = False
    #: How Ray places the workers: ``PACK`` (few nodes, fast all-reduce) or ``SPREAD`` (one
    #: per node where it can: more memory and bandwidth per worker); ``STRICT_*`` must hold.
    placement_strategy: str = "PACK"
    seed: int = 0
    max_failures: int = 2
    #: Adam's L2 penalty on every weight.
    weight_decay: float = 0.0
    #: ``sampled``: the pairs stage's 1:1 pairs; ``in_batch``: every (text, image) pair of a
    #: batch of training items, positive when their categories agree.
    pairing: str = "sampled"
    #: Stop after this many epochs without a better validation score (0: run every epoch).
    patience: int = 0
    #: DDP: send the big linear layers' gradient factors instead of their gradients (exact,
    #: several times fewer bytes; see ``train.shared_factors``).
    share_factors: bool = True

    #: The section's name in messages (the siamese section shares these checks).
    SECTION = "train"

    def __post_init__(self) -> None:
        name = self.SECTION
        _check(self.lr > 0, f"{name}.lr must be > 0")
        _check(self.weight_decay >= 0, f"{name}.weight_decay must be >= 0")
        _check_choice(self.pairing, PAIRINGS, f"{name}.pairing")
        _check(self.patience >= 0, f"{name}.patience must be >= 0")
        _check(0 < self.lr_decay <= 1, f"{name}.lr_decay must be in (0, 1]")
        _check(self.batch_size >= 2, f"{name}.batch_size must be >= 2")
        _check(self.epochs >= 1, f"{name}.epochs must be >= 1")
        _check(self.num_workers >= 0, f"{name}.num_workers must be >= 0")
        _check_choice(self.placement_strategy, PLACEMENT_STRATEGIES,
                      f"{name}.placement_strategy")


@dataclass
class SiameseTrainConfig(TrainConfig):
    """The siamese net's optimisation: as ``train``, but 10 epochs unless set.

    A class of its own, so that setting one key (``--set siamese.lr=1e-3``) keeps the other
    defaults of this section instead of falling back to the dual-path model's.
    """

    epochs: int = 10
    SECTION = "siamese"


@dataclass
class LabelConfig:
    """How the label stage embeds texts (in-process or an actor pool) and scores pairs."""

    min_actors: int = 1
    max_actors: int = 2
    #: Pairs per Ray Data scoring task (larger blocks, fewer tasks).
    batch_size: int = 65_536
    num_cpus_per_actor: float = 1.0
    #: Embed up to this many texts in the calling process; more go to the actor pool. The
    #: driver holds every embedding either way (4 KB a text); the pool adds cores of other
    #: nodes but pays each actor's start-up: 147,000 texts took 4.0 s in-process and 19.7 s
    #: in a 2-actor pool (12 s of it start-up) on 2 cores.
    in_process_texts: int = 500_000
    #: Score up to this many pairs in the calling process (about 50 bytes a pair in memory);
    #: more go to Ray Data tasks. A Ray Data execution costs seconds before its first row.
    in_process_pairs: int = 8_000_000
    #: 1: one siamese net, trained on every training item, labels every pair (the paper's).
    #: k >= 2: out-of-fold labels: k nets, net f trained on every fold of the training items
    #: but f; a pair's r is the mean of the nets that did not train on one of its two texts.
    folds: int = 1

    def __post_init__(self) -> None:
        _check(1 <= self.min_actors <= self.max_actors, "label: need 1 <= min_actors <= max_actors")
        _check(self.folds >= 1, "label.folds must be >= 1")
        _check(self.in_process_texts >= 0, "label.in_process_texts must be >= 0")
        _check(self.in_process_pairs >= 0, "label.in_process_pairs must be >= 0")
        _check(self.batch_size >= 1, "label.batch_size must be >= 1")


@dataclass
class EvalConfig:
    """Both evaluation protocols of DESIGN.md."""

    top_k: int = 100
    #: Test queries asked (a seeded sample past this many; 0: all). Every query ranks a whole
    #: database, so all 40,960 of a 204,800-item set cost 45 minutes.
    max_queries: int = 5_000

    def __post_init__(self) -> None:
        _check(self.top_k >= 1, "eval.top_k must be >= 1")
        _check(self.max_queries >= 0, "eval.max_queries must be >= 0 (0: every test item)")


@dataclass
class TrackingConfig:
    """MLflow: ``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db``."""

    tracking_uri: str | None = None
    experiment_name: str = "finelabel"


@dataclass
class Config:
    """Everything one pipeline run needs; ``recipe`` names the preset it started from
    (:mod:`finelabel.recipes`; the dataclass defaults are the ``paper`` recipe)."""

    recipe: str = "paper"
    data: DataConfig = field(default_factory=DataConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    text: TextConfig = field(default_factory=TextConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    pairs: PairsConfig = field(default_factory=PairsConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    siamese: SiameseTrainConfig = field(default_factory=SiameseTrainConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    label: LabelConfig = field(default_factory=LabelConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """``{"loss.beta": 0.3, ...}``: every leaf under its dotted name."""
        return _flatten(self.to_dict())


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check a YAML scalar against a field's annotation (ints pass as floats)."""
    text = str(annotation)
    if value is None:
        _check("None" in text, f"{where}: must not be null")
        return None
    if annotation is bool or text == "bool":
        _check(isinstance(value, bool), f"{where}: expected true/false, got {value!r}")
    elif annotation is int:
        _check(isinstance(value, int) and not isinstance(value, bool),
               f"{where}: expected an integer, got {value!r}")
    elif annotation is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as text
            value = _float_text(value)
        _check(isinstance(value, (int, float)) and not isinstance(value, bool),
               f"{where}: expected a number, got {value!r}")
        return float(value)
    elif annotation is str or text.startswith("str"):
        _check(isinstance(value, (str, int, float)) and not isinstance(value, bool),
               f"{where}: expected a string, got {value!r}")
        return str(value)
    return value


def _float_text(text: str) -> float | str:
    """``"1e-4"`` -> 1e-4; any other text stays text (and fails the number check)."""
    try:
        return float(text)
    except ValueError:
        return text


def build(cls: type, data: dict[str, Any] | None, where: str = "config") -> Any:
    """Build dataclass ``cls`` from a nested dict; unknown keys fail with a suggestion."""
    data = dict(data or {})
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=1)
            tip = f" (did you mean {close[0]!r}?)" if close else f" (valid: {', '.join(names)})"
            raise ConfigError(f"{where}: unknown key {key!r}{tip}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            _check(isinstance(value, dict) or value is None,
                   f"{where}.{key}: expected a mapping, got {value!r}")
            kwargs[key] = build(hint, value, f"{where}.{key}")
        else:
            kwargs[key] = _coerce(value, hint, f"{where}.{key}")
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.epochs=3"`` -> (["train", "epochs"], 3); the value is read as YAML."""
    key, sep, raw = text.partition("=")
    _check(bool(sep) and bool(key.strip()), f"--set expects key=value, got {text!r}")
    return key.strip().split("."), yaml.safe_load(raw) if raw.strip() else None


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Set each ``a.b.c=value`` in the nested dict ``tree`` (in place) and return it."""
    for text in overrides:
        path, value = parse_override(text)
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            _check(isinstance(child, dict), f"--set {text}: {part!r} is not a section")
            node = child
        node[path[-1]] = value
    return tree


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    _check(isinstance(tree, dict), f"{path}: the top level must be a mapping of sections")
    return tree


def load_config(
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    *,
    root: str | None = None,
) -> Config:
    """Read ``path`` (or the defaults), apply ``--root`` and ``--set`` overrides, validate.

    An error names where the wrong value came from: the file, or the ``--set`` that brought it
    in (an override may also mend what the file alone lacks).
    """
    tree = read_yaml(path) if path else {}
    if root:
        tree.setdefault("data", {})["root"] = root
    error, source = _problem(tree), str(path) if path else None
    for text in overrides:
        apply_overrides(tree, [text])
        found = _problem(tree)
        if found is not None and found != error:
            source = f"--set {text}"
        error = found
    if error is not None:
        raise ConfigError(f"{source}: {error}" if source else error)
    return build(Config, _recipe_applied(tree))


def _recipe_applied(tree: dict[str, Any]) -> dict[str, Any]:
    from finelabel.recipes import DEFAULT_RECIPE, with_recipe

    name = tree.get("recipe") or DEFAULT_RECIPE
    _check(isinstance(name, str), f"recipe must be a name, got {name!r}")
    return with_recipe(tree, name)


def _problem(tree: dict[str, Any]) -> str | None:
    """What is wrong with a config tree (on its recipe), or None."""
    try:
        build(Config, _recipe_applied(copy.deepcopy(tree)))
    except ConfigError as error:
        return str(error)
    return None


def with_values(config: Config, values: dict[str, Any], where: str = "config") -> Config:
    """A validated copy of ``config`` with dotted keys (``{"loss.beta": 0.2}``) set."""
    tree = config.to_dict()
    for key, value in values.items():
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            _check(isinstance(node.get(part), dict), f"{where}: {key!r} is not a config key")
            node = node[part]
        _check(parts[-1] in node and not isinstance(node[parts[-1]], dict),
               f"{where}: {key!r} is not a config key")
        node[parts[-1]] = value
    return build(Config, tree, where)


def save_config(config: Config, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(public_dict(config), sort_keys=False),
                          encoding="utf-8")


def public_dict(config: Config) -> dict[str, Any]:
    """``config`` as a dict fit to be written or shown: no password of a tracking URI."""
    from finelabel.tracking.uri import redact

    tree = config.to_dict()
    if tree["tracking"]["tracking_uri"]:
        tree["tracking"]["tracking_uri"] = redact(tree["tracking"]["tracking_uri"])
    return tree
