"""meta-tune's Ray Tune searchers (installed as ``meta_tune.searchers``).

Each searcher lives in a private module and is re-exported here. All of them take a
meta-learned prior (``meta_tune.priors.fit``), serve ``points_to_evaluate`` first, save and
restore their whole state, and must be wrapped in ``ConcurrencyLimiter`` (or run with
``TuneConfig(max_concurrent_trials=N)``) to run trials in parallel.
"""

from __future__ import annotations

from meta_tune.searchers._base import MetaSearcher, Observation
from meta_tune.searchers._prior import PriorSearcher, PriorSearcherConfig
from meta_tune.searchers._prior_evolution import PriorEvolutionConfig, PriorEvolutionSearcher
from meta_tune.searchers._prior_tpe import PriorTPESearcher, PriorTPESearcherConfig
from meta_tune.searchers._transfer import TransferConfig
from meta_tune.searchers._transfer_bo import TransferBOConfig, TransferBOSearcher

__all__ = [
    "MetaSearcher",
    "Observation",
    "PriorSearcher",
    "PriorSearcherConfig",
    "PriorEvolutionSearcher",
    "PriorEvolutionConfig",
    "PriorTPESearcher",
    "PriorTPESearcherConfig",
    "TransferBOSearcher",
    "TransferBOConfig",
    "TransferConfig",
]
