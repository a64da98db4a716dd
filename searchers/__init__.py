"""meta-tune's Ray Tune searchers (installed as ``meta_tune.searchers``).

Each searcher lives in a private module and is re-exported here (loaded on first use). All of them take a
meta-learned prior (``meta_tune.priors.fit``), serve ``points_to_evaluate`` first, save and
restore their whole state, and must be wrapped in ``ConcurrencyLimiter`` (or run with
``TuneConfig(max_concurrent_trials=N)``) to run trials in parallel.

Every searcher also has a name in one registry (:func:`names`, :func:`get`, :func:`build`):
``meta-tune run``, experiment files, ``meta-tune bench`` and the docs all read it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from meta_tune.searchers._registry import SearcherArgs, SearcherEntry, build, get, names

if TYPE_CHECKING:
    from meta_tune.searchers._base import MetaSearcher, Observation
    from meta_tune.searchers._controller import ControllerConfig, ControllerSearcher
    from meta_tune.searchers._pareto import ParetoSearcher, ParetoSearcherConfig
    from meta_tune.searchers._prior import PriorSearcher, PriorSearcherConfig
    from meta_tune.searchers._prior_evolution import PriorEvolutionConfig, PriorEvolutionSearcher
    from meta_tune.searchers._prior_tpe import PriorTPESearcher, PriorTPESearcherConfig
    from meta_tune.searchers._random import RandomSearch
    from meta_tune.searchers._transfer import TransferConfig
    from meta_tune.searchers._transfer_bo import TransferBOConfig, TransferBOSearcher

__all__ = [
    "ControllerSearcher",
    "ControllerConfig",
    "MetaSearcher",
    "Observation",
    "ParetoSearcher",
    "ParetoSearcherConfig",
    "PriorSearcher",
    "PriorSearcherConfig",
    "PriorEvolutionSearcher",
    "PriorEvolutionConfig",
    "PriorTPESearcher",
    "PriorTPESearcherConfig",
    "RandomSearch",
    "TransferBOSearcher",
    "TransferBOConfig",
    "TransferConfig",
    "SearcherArgs",
    "SearcherEntry",
    "build",
    "get",
    "names",
]

# The searchers import Ray Tune, scikit-learn and the priors: loaded on first use, so that
# listing the registry (the CLI does on every start) stays cheap.
_LAZY = {
    "ControllerSearcher": "_controller",
    "ControllerConfig": "_controller",
    "MetaSearcher": "_base",
    "Observation": "_base",
    "ParetoSearcher": "_pareto",
    "ParetoSearcherConfig": "_pareto",
    "PriorSearcher": "_prior",
    "PriorSearcherConfig": "_prior",
    "PriorEvolutionSearcher": "_prior_evolution",
    "PriorEvolutionConfig": "_prior_evolution",
    "PriorTPESearcher": "_prior_tpe",
    "PriorTPESearcherConfig": "_prior_tpe",
    "RandomSearch": "_random",
    "TransferBOSearcher": "_transfer_bo",
    "TransferBOConfig": "_transfer_bo",
    "TransferConfig": "_transfer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
