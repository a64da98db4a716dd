"""PriorSearcher on synthetic tasks with a known good region, and inside a real Tune run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from ray import tune

import meta_tune.priors
from meta_tune.errors import IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.searchers import PriorSearcher, PriorSearcherConfig
from tests.priors.test_prior import SPACE, loss


def best_after(searcher: Any, n: int, optimum: float = 0.7) -> list[float]:
    """Best loss after each of n sequential trials on the target task."""
    assert searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=n)
    best, curve = np.inf, []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        value = loss(config, optimum)
        searcher.on_trial_complete(f"t{i}", {"acc": 1 - value, "training_iteration": 1})
        best = min(best, value)
        curve.append(best)
    return curve


class UniformSearcher(PriorSearcher):
    """Random search through the same bookkeeping, as the baseline."""

    def _propose(self) -> dict[str, Any]:
        return self.space.decode(self._rng.random(self.space.dim("ordinal")), "ordinal")


def test_a_related_prior_finds_good_configs_in_a_few_trials(related: meta_tune.priors.Prior) -> None:
    prior_runs = [best_after(PriorSearcher(prior=related, seed=s), 30) for s in range(5)]
    random_runs = [best_after(UniformSearcher(prior=related, seed=s), 30) for s in range(5)]
    prior_at, random_at = np.mean(prior_runs, axis=0), np.mean(random_runs, axis=0)
    assert prior_at[4] < 0.5 * random_at[4]  # 5 trials
    assert prior_at[29] < random_at[29]  # and it keeps improving
    assert prior_at[29] < prior_at[9]


def test_an_unrelated_history_costs_little(related: meta_tune.priors.Prior) -> None:
    # Every training task's good region is at x = 0.7; this target's optimum is at x = 0.1.
    prior_runs = [best_after(PriorSearcher(prior=related, seed=s), 40) for s in range(5)]
    target_runs = [best_after(PriorSearcher(prior=related, seed=s), 40, optimum=0.1) for s in range(5)]
    random_runs = [best_after(UniformSearcher(prior=related, seed=s), 40, optimum=0.1) for s in range(5)]
    assert np.mean(target_runs, axis=0)[39] <= 1.5 * np.mean(random_runs, axis=0)[39] + 0.02
    assert np.mean(prior_runs, axis=0)[39] < np.mean(target_runs, axis=0)[39]


def test_the_portfolio_is_served_after_points_to_evaluate(related: meta_tune.priors.Prior) -> None:
    point = {"x": 0.5, "lr": 0.001, "act": "relu", "layers": 2}
    searcher = PriorSearcher(
        prior=related, points_to_evaluate=[point], config=PriorSearcherConfig(max_portfolio=3)
    )
    searcher.set_search_properties("acc", "max", dict(SPACE))
    first = [searcher.suggest(f"t{i}") for i in range(4)]
    assert first[0] == {**point, "epochs": 5}
    assert first[1:] == related.portfolio[:3]


def test_a_prior_for_another_space_is_refused(related: meta_tune.priors.Prior) -> None:
    other = {**SPACE, "x": tune.uniform(0.0, 2.0), "momentum": tune.uniform(0, 1)}
    with pytest.raises(
        IncompatibleSearchSpaceError, match=r"missing from the prior \['momentum'\].*other domains \['x'\]"
    ):
        PriorSearcher(other, prior=related, metric="acc", mode="max")
    # Constants may differ: the prior is about the parameters.
    PriorSearcher({**SPACE, "epochs": 50}, prior=related, metric="acc", mode="max")


def test_bad_settings_are_refused(related: meta_tune.priors.Prior) -> None:
    with pytest.raises(InvalidConfigError, match=r"prior must be a meta_tune\.priors\.Prior, got dict"):
        PriorSearcher(prior={}, metric="acc", mode="max")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="mode must be 'min' or 'max', got 'maximize'"):
        PriorSearcher(prior=related, metric="acc", mode="maximize")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="Need 0 < min_local_scale <= local_scale"):
        PriorSearcherConfig(local_scale=0.01, min_local_scale=0.05)
    with pytest.raises(
        InvalidConfigError,
        match=r"points_to_evaluate holds a config that is not in the search space, at x: 3.0 is outside",
    ):
        PriorSearcher(
            SPACE, prior=related, points_to_evaluate=[{"x": 3.0, "lr": 0.01, "act": "relu", "layers": 1}]
        )
