"""The prior a tuning run's searcher learns from, fitted on a store history."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from meta_tune.space import SearchSpace

if TYPE_CHECKING:
    from meta_tune.priors import Prior

logger = logging.getLogger(__name__)

def fit_prior(
    history: pd.DataFrame, *, space: dict[str, Any] | SearchSpace, metric: str, mode: Literal["min", "max"]
) -> Prior:
    """``meta_tune.priors.fit`` on the columns of a store history that a prior reads.

    A store history also holds the other metrics a trainable reports and its run constants
    (seed, epochs); they are not parameters, so they are dropped here rather than reported
    by ``fit`` as ignored columns. The bookkeeping columns stay: ``status`` (a prior learns
    only from finished trials) and the runtimes and steps (its cost model).
    """
    from meta_tune.priors import fit
    from meta_tune.priors._history import RESERVED_COLUMNS

    target = space if isinstance(space, SearchSpace) else SearchSpace.from_tune(space)
    keep = {*RESERVED_COLUMNS, metric, *target.flat_keys(constants=False)}
    columns = [c for c in history.columns if c in keep or c.startswith("meta:")]
    return fit(history[columns], space=target, metric=metric, mode=mode)
