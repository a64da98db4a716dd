"""Every prior searcher drops into a real Tune run with trials in parallel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ray import tune
from ray.tune.search import ConcurrencyLimiter

import meta_tune.priors
from meta_tune.searchers import PriorSearcher, PriorTPESearcher, TransferBOSearcher
from meta_tune.space import SearchSpace
from tests.priors.test_prior import SPACE, loss


def train(config: dict[str, Any]) -> None:
    for step in range(2):
        tune.report({"acc": 1 - loss(config) - 0.1 / (step + 1)})


@pytest.mark.integration
@pytest.mark.parametrize("searcher_class", [PriorSearcher, PriorTPESearcher, TransferBOSearcher])
def test_drops_into_a_tune_run(
    ray_session: None, related: meta_tune.priors.Prior, tmp_path: Path, searcher_class: Any
) -> None:
    searcher = ConcurrencyLimiter(searcher_class(prior=related, seed=0), max_concurrent=2)
    tuner = tune.Tuner(
        train,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            search_alg=searcher, metric="acc", mode="max", num_samples=10, reuse_actors=True
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 10 and not results.errors
    space = SearchSpace.from_tune(SPACE)
    assert all(space.check(r.config) is None for r in results)
    assert results.get_best_result().metrics["acc"] > 0.9
