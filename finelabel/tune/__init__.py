"""Ray Tune searches over the train stage: spaces from ``tune_spaces/*.yaml``, trials, records."""

from finelabel.tune.space import SearchSpec, load_search_spec

__all__ = ["SearchSpec", "load_search_spec"]
