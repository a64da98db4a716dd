"""Meta-learned priors: what earlier tuning runs on related tasks say about a new one.

``fit(history, space=..., metric=..., mode=...)`` returns a :class:`Prior` holding a
zero-shot portfolio, a density over good regions, learned bounds and task similarity, all
for the target search space. meta-tune's searchers take a prior and use it.
"""

from __future__ import annotations

from meta_tune.priors._density import MixtureDensity
from meta_tune.priors._pareto import hypervolume, pareto_mask, pareto_portfolio
from meta_tune.priors._prior import Prior, PriorConfig, fit
from meta_tune.priors._shipped import shipped
from meta_tune.priors._similarity import TaskWeights

__all__ = [
    "MixtureDensity",
    "Prior",
    "PriorConfig",
    "TaskWeights",
    "fit",
    "hypervolume",
    "pareto_mask",
    "pareto_portfolio",
    "shipped",
]
