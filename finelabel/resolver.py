"""Choose a pluggable part by name; a wrong name lists the choices."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from finelabel.errors import ConfigError

T = TypeVar("T")


def resolve(name: str, choices: Mapping[str, T], kind: str) -> T:
    """Return ``choices[name]`` (case-insensitive) or fail with the list of valid names."""
    key = name.lower().replace("-", "_")
    normalised = {k.lower().replace("-", "_"): v for k, v in choices.items()}
    if key not in normalised:
        raise ConfigError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(choices))}")
    return normalised[key]
