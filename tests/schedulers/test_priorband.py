"""PriorSearcher inside HyperBand brackets: prior first, then the incumbent, as PriorBand samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import meta_tune.priors
from meta_tune.searchers import PriorSearcher


@pytest.mark.integration
@pytest.mark.slow
def test_prior_searcher_under_hyperband_starts_from_the_prior_and_learns_from_every_rung(
    ray_session: None, tmp_path: Path
) -> None:
    from ray import tune
    from ray.tune.schedulers import HyperBandScheduler

    from tests.schedulers._trainable import curve_trainable

    # Past tasks: accuracy peaks at quality ~0.8 (the trainable's own peak is at 1.0).
    rng = np.random.default_rng(0)
    q = rng.random(120)
    history = pd.DataFrame({"task": np.repeat(["a", "b", "c"], 40), "quality": q, "acc": -((q - 0.8) ** 2)})
    space = {"quality": tune.uniform(0.0, 1.0)}
    prior = meta_tune.priors.fit(history, space=space, metric="acc", mode="max", portfolio_size=2)
    searcher = PriorSearcher(prior=prior, seed=0)
    # HyperBand waits for a whole bracket at each rung: as many trials must be in flight, and
    # the budget is one full bracket of 9; a part-filled bracket at the end of the budget can
    # leave Ray's HyperBand waiting for trials that never come.
    tuner = tune.Tuner(
        curve_trainable,
        param_space=space,
        tune_config=tune.TuneConfig(metric="acc", mode="max", num_samples=9, search_alg=searcher,
                                    scheduler=HyperBandScheduler(max_t=9, reduction_factor=3),
                                    max_concurrent_trials=9, reuse_actors=True),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert not results.errors and len(results) == 9
    qualities = [r.config["quality"] for r in results]
    assert qualities[:2] == pytest.approx([c["quality"] for c in prior.portfolio])
    assert min(abs(x - 0.8) for x in qualities[:2]) < 0.1
    steps = [r.metrics["training_iteration"] for r in results]
    assert min(steps) < 9 and max(steps) == 9  # HyperBand stopped some, finished others
    # Most proposals stay in the prior's good region, with some uniform exploration.
    assert np.mean([abs(x - 0.8) < 0.3 for x in qualities]) >= 0.6
