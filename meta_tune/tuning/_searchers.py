"""Searchers by name, so the CLI and the main job can set one up in a word."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from ray.tune.search import ConcurrencyLimiter, SearchAlgorithm, Searcher

from meta_tune.errors import InvalidConfigError
from meta_tune.space import SearchSpace

if TYPE_CHECKING:
    from meta_tune.priors import Prior

logger = logging.getLogger(__name__)

#: The searchers ``make_searcher`` knows; ``prior`` needs a history of related tasks.
SEARCHERS = ("random", "hyperopt", "prior")


def make_searcher(
    name: str,
    *,
    metric: str,
    mode: Literal["min", "max"],
    space: dict[str, Any],
    seed: int,
    max_concurrent: int,
    history: pd.DataFrame | None = None,
) -> Searcher | SearchAlgorithm:
    """A seeded searcher for ``space``, wrapped in a ``ConcurrencyLimiter`` (random search: Tune's own).

    Args:
        name: One of :data:`SEARCHERS`.
        metric: The metric to optimize.
        mode: ``"min"`` or ``"max"``.
        space: The Tune ``param_space`` of the run.
        seed: Seeds the searcher.
        max_concurrent: Trials run at once.
        history: For ``prior``: past trials of related tasks (``Store.history`` format).

    Raises:
        InvalidConfigError: Unknown name, or ``prior`` without a usable history.
    """
    searcher: Searcher
    if name == "random":
        from ray.tune.search.basic_variant import BasicVariantGenerator

        # Random search needs no limiter; Tune runs it at the concurrency it is given.
        return BasicVariantGenerator(random_state=seed, max_concurrent=max_concurrent)
    if name == "hyperopt":
        from ray.tune.search.hyperopt import HyperOptSearch

        searcher = HyperOptSearch(metric=metric, mode=mode, random_state_seed=seed)
    elif name == "prior":
        from meta_tune.searchers import PriorSearcher

        if history is None or history.empty:
            raise InvalidConfigError(
                "The 'prior' searcher learns from earlier runs on related tasks, but the store has "
                "none for this family. Load the shipped histories (meta-tune store load --shipped) or "
                "run `meta-tune collect` on a few related tasks first."
            )
        prior = fit_prior(history, space=space, metric=metric, mode=mode)
        logger.info("Fitted a prior on %d trials of %d tasks", len(history), history["task"].nunique())
        searcher = PriorSearcher(prior=prior, metric=metric, mode=mode, seed=seed)
    else:
        raise InvalidConfigError(f"Unknown searcher {name!r}. Use one of {', '.join(SEARCHERS)}.")
    return ConcurrencyLimiter(searcher, max_concurrent=max_concurrent)


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
