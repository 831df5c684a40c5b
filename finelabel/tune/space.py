"""Search spaces for Ray Tune, read from ``tune_spaces/*.yaml``.

A space file says what to search (config keys, dotted as in ``--set``, each with a
distribution) and how (the metric, the number of trials, ASHA early stopping). Only settings of
the train stage may vary: every trial shares the prepared data, the pairs and their hardness
labels, so a key that would change an earlier stage is refused.

    space:
      loss.beta: {uniform: [0.1, 0.5]}
      loss.margin: {choice: [0.6, 0.8, 1.0]}
    num_samples: 8
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from finelabel.config import Config, build, with_values
from finelabel.errors import ConfigError

#: Distribution name -> how many numbers it takes (None: a list of any length).
DISTRIBUTIONS: dict[str, int | None] = {
    "uniform": 2, "loguniform": 2, "quniform": 3, "randint": 2, "choice": None,
    "grid_search": None,
}
#: Config sections a trial may change: the train stage's own.
TUNABLE_SECTIONS = ("loss", "model", "train")
#: Keys of those sections that belong to an earlier stage.
FIXED_KEYS = {
    "loss.bins": "the label stage bins the hardness labels once for every trial",
    "train.epochs": "it is every trial's budget (ASHA's max_t); set it with --set train.epochs=N",
}


@dataclass
class SearchSpec:
    """One search: its space and its settings (the defaults suit a few-core machine)."""

    space: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    metric: str = "val_map_avg"
    mode: str = "max"
    #: Trials (each grid point counts once per sample when the space has a grid).
    num_samples: int = 8
    max_concurrent_trials: int = 2
    #: ASHA: epochs every trial runs before it may be stopped; 0 turns early stopping off.
    grace_period: int = 2
    reduction_factor: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        _check(bool(self.space), "space: name at least one config key to search")
        _check(self.mode in ("max", "min"), f"mode must be max or min, got {self.mode!r}")
        _check(self.num_samples >= 1, "num_samples must be >= 1")
        _check(self.max_concurrent_trials >= 1, "max_concurrent_trials must be >= 1")
        _check(self.grace_period >= 0, "grace_period must be >= 0")
        _check(self.reduction_factor >= 2, "reduction_factor must be >= 2")
        for key, dist in self.space.items():
            _check_distribution(key, dist)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def _check_distribution(key: str, dist: Any) -> None:
    where = f"space.{key}"
    _check(key.split(".")[0] in TUNABLE_SECTIONS,
           f"{where}: only {', '.join(TUNABLE_SECTIONS)} settings can vary between trials "
           "(the others change the data, pairs or labels every trial shares)")
    _check(key not in FIXED_KEYS, f"{where}: fixed for a search: {FIXED_KEYS.get(key)}")
    _check(isinstance(dist, dict) and len(dist) == 1,
           f"{where}: expected one distribution, e.g. {{uniform: [0.1, 0.5]}}; got {dist!r}")
    (name, args), = dist.items()
    _check(name in DISTRIBUTIONS,
           f"{where}: unknown distribution {name!r} (known: {', '.join(DISTRIBUTIONS)})")
    _check(isinstance(args, list) and len(args) >= 1, f"{where}.{name}: expected a list")
    arity = DISTRIBUTIONS[name]
    if arity is not None:
        _check(len(args) == arity and all(_is_number(a) for a in args),
               f"{where}.{name}: expected {arity} numbers, got {args!r}")
        _check(args[0] < args[1], f"{where}.{name}: the lower bound must be below the upper")
        _check(name != "loguniform" or args[0] > 0, f"{where}.{name}: bounds must be > 0")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def representative_values(spec: SearchSpec) -> list[dict[str, Any]]:
    """Values from every end of every distribution: enough to validate against the config."""
    values = []
    for key, dist in spec.space.items():
        (name, args), = dist.items()
        ends = args if DISTRIBUTIONS[name] is None else args[:2]
        if name == "randint":
            ends = [args[0], args[1] - 1]  # the upper bound is exclusive
        values.extend({key: value} for value in ends)
    return values


def check_against(spec: SearchSpec, config: Config, source: str = "space") -> None:
    """Fail now, naming the file and key, if a value of the space would be refused by a trial."""
    for values in representative_values(spec):
        with_values(config, values, where=source)


def load_search_spec(path: str | Path) -> SearchSpec:
    """Read and validate a space file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such search space file (see tune_spaces/)")
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return build(SearchSpec, tree, str(path))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    except ConfigError as error:
        message = str(error)
        raise ConfigError(message if message.startswith(str(path))
                          else f"{path}: {message}") from None


def param_space(spec: SearchSpec) -> dict[str, Any]:
    """The space as Ray Tune domains, keyed by the dotted config keys."""
    from ray import tune

    def domain(name: str, args: list[Any]) -> Any:
        if name == "grid_search":
            return tune.grid_search(args)
        if name == "choice":
            return tune.choice(args)
        return getattr(tune, name)(*args)

    return {key: domain(*next(iter(dist.items()))) for key, dist in spec.space.items()}
