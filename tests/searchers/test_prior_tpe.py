"""PriorTPESearcher: the shared contract, the portfolio, pseudo-observations and conditional spaces."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ray import tune

import meta_tune.priors
from meta_tune.errors import IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.searchers import PriorTPESearcher, PriorTPESearcherConfig
from meta_tune.space import SearchSpace, flatten
from tests.priors.test_prior import SPACE, loss

# A conditional space: momentum exists only for sgd, beta only for adam (and a nested choice).
CONDITIONAL_SPACE: dict[str, Any] = {
    "x": tune.uniform(0.0, 1.0),
    "opt": tune.choice(
        [
            {"name": "sgd", "momentum": tune.uniform(0.0, 1.0)},
            {
                "name": "adam",
                "beta": tune.uniform(0.0, 1.0),
                "schedule": tune.choice(
                    [{"kind": "cosine"}, {"kind": "step", "gamma": tune.uniform(0.1, 0.9)}]
                ),
            },
        ]
    ),
}


def conditional_loss(config: dict[str, Any], shift: float = 0.0) -> float:
    """Best with sgd, momentum near 0.9 and x near 0.3; adam is never better than 0.5."""
    opt = config["opt"]
    base = (config["x"] - 0.3 - shift) ** 2
    if opt["name"] == "sgd":
        return float(base + (opt["momentum"] - 0.9 - shift) ** 2)
    return float(base + 0.5 + (opt["beta"] - 0.1) ** 2)


def run(searcher: Any, n: int, loss_fn: Any, *, start: int = 0, metric: str = "loss") -> list[dict[str, Any]]:
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {metric: loss_fn(config), "training_iteration": 1})
    return configs


@pytest.fixture(scope="module")
def conditional_prior() -> meta_tune.priors.Prior:
    rng = np.random.default_rng(2)
    space = SearchSpace.from_tune(CONDITIONAL_SPACE)
    rows = [
        {"task": f"t{t}", **flatten(c), "loss": conditional_loss(c, shift=rng.normal(0, 0.02))}
        for t in range(3)
        for c in space.sample(rng, 40)
    ]
    return meta_tune.priors.fit(
        pd.DataFrame(rows), space=CONDITIONAL_SPACE, metric="loss", mode="min", portfolio_size=4
    )


def test_points_to_evaluate_then_the_portfolio_then_tpe(related: meta_tune.priors.Prior) -> None:
    point = {"x": 0.5, "lr": 0.001, "act": "relu", "layers": 2}
    searcher = PriorTPESearcher(
        prior=related, points_to_evaluate=[point], config=PriorTPESearcherConfig(max_portfolio=3)
    )
    searcher.set_search_properties("acc", "max", dict(SPACE))
    first = run(searcher, 6, lambda c: 1 - loss(c), metric="acc")
    assert first[0] == {**point, "epochs": 5}
    assert first[1:4] == related.portfolio[:3]
    assert all(c not in first[:4] for c in first[4:])


def x_near_optimum(prior: meta_tune.priors.Prior, prior_trials: int, seed: int) -> float:
    """Share of the first 10 TPE suggestions (no portfolio) with x within 0.15 of 0.7."""
    config = PriorTPESearcherConfig(max_portfolio=0, prior_trials=prior_trials, n_startup_trials=3)
    searcher = PriorTPESearcher(prior=prior, seed=seed, config=config)
    searcher.set_search_properties("acc", "max", dict(SPACE))
    configs = run(searcher, 10, lambda c: 1 - loss(c), metric="acc")
    return float(np.mean([abs(c["x"] - 0.7) < 0.15 for c in configs]))


def test_pseudo_observations_steer_early_tpe_to_the_prior(related: meta_tune.priors.Prior) -> None:
    with_prior = np.mean([x_near_optimum(related, 16, seed) for seed in range(4)])
    plain = np.mean([x_near_optimum(related, 0, seed) for seed in range(4)])
    assert with_prior > 0.6 and with_prior > plain + 0.25, (with_prior, plain)


def test_the_number_of_pseudo_observations_decays(related: meta_tune.priors.Prior) -> None:
    searcher = PriorTPESearcher(prior=related, seed=0, config=PriorTPESearcherConfig(max_portfolio=0))
    searcher.set_search_properties("acc", "max", dict(SPACE))
    counts = [searcher.num_pseudo_observations()]
    for block in range(4):
        run(searcher, 10, lambda c: 1 - loss(c), start=10 * block, metric="acc")
        counts.append(searcher.num_pseudo_observations())
    assert counts[0] == 16
    assert all(a >= b for a, b in itertools.pairwise(counts)) and counts[-1] <= 4, counts
    none = PriorTPESearcherConfig(max_portfolio=0, prior_trials=0)
    assert PriorTPESearcher(SPACE, prior=related, config=none).num_pseudo_observations() == 0


def test_conditional_parameters_are_modelled_where_they_are_active(
    conditional_prior: meta_tune.priors.Prior,
) -> None:
    space = SearchSpace.from_tune(CONDITIONAL_SPACE)
    late = []
    for seed in range(3):
        searcher = PriorTPESearcher(prior=conditional_prior, seed=seed)
        searcher.set_search_properties("loss", "min", dict(CONDITIONAL_SPACE), num_samples=40)
        configs = run(searcher, 40, conditional_loss)
        for config in configs:
            assert space.check(config) is None, config
            assert ("momentum" in config["opt"]) == (config["opt"]["name"] == "sgd")
            if config["opt"]["name"] == "adam":
                schedule = config["opt"]["schedule"]
                assert ("gamma" in schedule) == (schedule["kind"] == "step")
        late += configs[-15:]
    # Uniform sampling: half sgd, mean |momentum - 0.9| of 0.41.
    momentum = np.array([c["opt"]["momentum"] for c in late if c["opt"]["name"] == "sgd"])
    assert len(momentum) > 0.55 * len(late)
    assert np.mean(np.abs(momentum - 0.9)) < 0.3, momentum


def test_state_round_trip_with_trials_in_flight(related: meta_tune.priors.Prior, tmp_path: Path) -> None:
    def fresh() -> PriorTPESearcher:
        return PriorTPESearcher(prior=related, seed=5, config=PriorTPESearcherConfig(max_portfolio=4))

    original = fresh()
    original.set_search_properties("acc", "max", dict(SPACE))
    run(original, 12, lambda c: 1 - loss(c), metric="acc")  # task weights updated twice
    pending = [original.suggest("p0"), original.suggest("p1")]
    original.save(str(tmp_path / "state.pkl"))
    restored = fresh()
    restored.restore(str(tmp_path / "state.pkl"))
    assert restored.num_pseudo_observations() == original.num_pseudo_observations()
    for searcher in (original, restored):
        for trial_id, config in zip(("p0", "p1"), pending):
            searcher.on_trial_complete(trial_id, {"acc": 1 - loss(config), "training_iteration": 1})
    score = lambda c: 1 - loss(c)  # noqa: E731
    assert run(restored, 8, score, start=20, metric="acc") == run(original, 8, score, start=20, metric="acc")


def test_bad_settings_and_an_incompatible_prior_are_refused(related: meta_tune.priors.Prior) -> None:
    with pytest.raises(InvalidConfigError, match=r"prior_trials=40 is out of range"):
        PriorTPESearcherConfig(prior_trials=40)
    with pytest.raises(InvalidConfigError, match=r"gamma=0 is out of range"):
        PriorTPESearcherConfig(gamma=0)
    with pytest.raises(InvalidConfigError, match=r"prior must be a meta_tune\.priors\.Prior"):
        PriorTPESearcher(prior="prior.json")  # type: ignore[arg-type]
    other = {**SPACE, "momentum": tune.uniform(0, 1)}
    with pytest.raises(IncompatibleSearchSpaceError, match=r"missing from the prior \['momentum'\]"):
        PriorTPESearcher(other, prior=related, metric="acc", mode="max")
