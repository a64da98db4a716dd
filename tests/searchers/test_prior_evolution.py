"""PriorEvolutionSearcher: the shared contract, the told portfolio, the warm start and the replay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ray import tune
from ray.tune.search import ConcurrencyLimiter, Searcher

import meta_tune.priors
from meta_tune import searchers
from meta_tune.errors import InvalidConfigError
from meta_tune.searchers import PriorEvolutionConfig, PriorEvolutionSearcher
from meta_tune.space import SearchSpace
from meta_tune.testing import CONTRACT_SPACE, SearcherContract
from meta_tune.testing._searcher_contract import objective
from tests.priors.test_prior import SPACE, loss


def run(searcher: Searcher, n: int, *, start: int = 0, losses: dict[int, float] | None = None) -> list[dict]:
    """n sequential trials on the synthetic target (``losses`` overrides some trials' loss)."""
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        assert config is not None
        value = (losses or {}).get(i, loss(config))
        searcher.on_trial_complete(f"t{i}", {"acc": 1 - value, "training_iteration": 1})
        configs.append(config)
    return configs


def test_points_then_the_portfolio_come_first_and_are_told(related: meta_tune.priors.Prior) -> None:
    point = {"x": 0.5, "lr": 0.001, "act": "relu", "layers": 2, "epochs": 5}
    config = PriorEvolutionConfig(max_portfolio=12)

    def make() -> PriorEvolutionSearcher:
        searcher = PriorEvolutionSearcher(prior=related, points_to_evaluate=[point], config=config, seed=0)
        searcher.set_search_properties("acc", "max", dict(SPACE))
        return searcher

    searcher = make()
    first = run(searcher, 13)
    assert first[0] == point and first[1:] == related.portfolio[:12]
    events = searcher.get_state()["extra"]["events"]
    assert [e[0] for e in events[:4]] == ["inject", "tell", "inject", "tell"]
    assert sum(e[0] == "tell" for e in events) == 13  # every one of them reached the optimizer
    # The told values steer what comes next: report the portfolio's results reversed.
    after = run(searcher, 6, start=13)
    reversed_losses = {i: -loss(c) for i, c in enumerate(first)}
    other = make()
    run(other, 13, losses=reversed_losses)
    assert run(other, 6, start=13) != after


def first_proposals(prior: meta_tune.priors.Prior, *, warm_start: bool, seed: int, n: int = 8) -> list[dict]:
    config = PriorEvolutionConfig(max_portfolio=0, warm_start=warm_start)
    searcher = PriorEvolutionSearcher(prior=prior, config=config, seed=seed)
    searcher.set_search_properties("acc", "max", dict(SPACE))
    return [searcher.suggest(f"t{i}") for i in range(n)]  # the first generation, nothing told yet


def test_the_warm_start_centres_the_first_samples_on_the_prior(related: meta_tune.priors.Prior) -> None:
    warm = [c for s in range(4) for c in first_proposals(related, warm_start=True, seed=s)]
    cold = [c for s in range(4) for c in first_proposals(related, warm_start=False, seed=s)]
    warm_x, cold_x = (np.array([c["x"] for c in cs]) for cs in (warm, cold))
    assert abs(np.mean(warm_x) - 0.7) < 0.1 and np.std(warm_x) < 0.2
    assert np.mean(np.abs(warm_x - 0.7)) < 0.6 * np.mean(np.abs(cold_x - 0.7))
    assert np.mean([loss(c) for c in warm]) < 0.5 * np.mean([loss(c) for c in cold])
    assert np.mean([c["act"] == "tanh" for c in warm]) > 0.6


@pytest.mark.parametrize("optimizer", ["de", "ngopt", "ga", "es"])
def test_de_ngopt_ga_and_es_run_and_restore_exactly(
    related: meta_tune.priors.Prior, optimizer: Any, tmp_path: Path
) -> None:
    def make() -> PriorEvolutionSearcher:
        return PriorEvolutionSearcher(prior=related, optimizer=optimizer, seed=5)

    searcher = make()
    searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=30)
    run(searcher, 12)
    live = [searcher.suggest("live0"), searcher.suggest("live1")]  # running while saved
    searcher.save(str(tmp_path / "state.pkl"))
    restored = make()
    restored.restore(str(tmp_path / "state.pkl"))  # NGOpt: rebuilt by replaying its ask/tell log
    for s in (searcher, restored):
        for i, config in enumerate(live):
            s.on_trial_complete(f"live{i}", {"acc": 1 - loss(config), "training_iteration": 1})
    assert run(restored, 8, start=12) == run(searcher, 8, start=12)


def test_ngopt_takes_trials_side_by_side(related: meta_tune.priors.Prior) -> None:
    searcher = PriorEvolutionSearcher(prior=related, optimizer="ngopt", budget=20, seed=0)
    searcher.set_search_properties("acc", "max", dict(SPACE))
    limited = ConcurrencyLimiter(searcher, max_concurrent=4)
    for i in range(20):  # four asks before the first tell, then one in, one out
        config = limited.suggest(f"c{i}")
        assert config is not None
        if i >= 3:
            done = f"c{i - 3}"
            limited.on_trial_complete(done, {"acc": 0.5, "training_iteration": 1})


def test_bad_settings_are_refused(related: meta_tune.priors.Prior) -> None:
    with pytest.raises(InvalidConfigError, match=r"optimizer must be one of \['cma', 'de', 'ngopt', 'ga', 'es'\]"):
        PriorEvolutionSearcher(prior=related, optimizer="pso")  # type: ignore[arg-type]
    with pytest.raises(InvalidConfigError, match="optimizer='ngopt' needs a budget"):
        PriorEvolutionSearcher(dict(SPACE), prior=related, optimizer="ngopt", metric="acc", mode="max")
    with pytest.raises(InvalidConfigError, match="min_sigma <= max_sigma"):
        PriorEvolutionConfig(min_sigma=0.2, max_sigma=0.1)
    with pytest.raises(InvalidConfigError, match="population must be >= 2"):
        PriorEvolutionConfig(population=1)


@pytest.mark.parametrize("optimizer", ["cma", "de", "ga", "es"])
def test_a_conditional_space_gives_valid_configs_of_both_branches(
    contract_prior: meta_tune.priors.Prior, optimizer: Any
) -> None:
    space = SearchSpace.from_tune(CONTRACT_SPACE)
    searcher = PriorEvolutionSearcher(prior=contract_prior, optimizer=optimizer, seed=1)
    searcher.set_search_properties("loss", "min", dict(CONTRACT_SPACE), num_samples=40)
    configs = []
    for i in range(40):
        config = searcher.suggest(f"t{i}")
        assert config is not None and space.check(config) is None, config
        configs.append(config)
        # A failing branch must not stop the search: errors are told as a large loss.
        searcher.on_trial_complete(f"t{i}", {"loss": objective(config)}, error=i % 7 == 3)
    branches = {c["opt"]["name"]: set(c["opt"]) for c in configs}
    assert branches == {"sgd": {"name", "momentum"}, "adam": {"name"}}


def test_a_one_dimensional_space_works() -> None:
    space = {"x": tune.uniform(0.0, 1.0)}
    rng = np.random.default_rng(0)
    history = pd.DataFrame(
        [{"task": f"t{t}", "x": x, "loss": (x - 0.3) ** 2} for t in range(3) for x in rng.random(20)]
    )
    prior = meta_tune.priors.fit(history, space=space, metric="loss", mode="min", portfolio_size=2)
    searcher = PriorEvolutionSearcher(space, prior=prior, metric="loss", mode="min", seed=0)
    for i in range(10):
        config = searcher.suggest(f"t{i}")
        assert config is not None and 0.0 <= config["x"] <= 1.0
        searcher.on_trial_complete(f"t{i}", {"loss": (config["x"] - 0.3) ** 2})


@pytest.mark.parametrize("optimizer", ["ga", "es"])
def test_the_ga_and_es_start_at_the_prior_and_improve_on_their_first_generation(
    related: meta_tune.priors.Prior, optimizer: Any
) -> None:
    def mean_loss(warm_start: bool, seed: int) -> tuple[float, float]:
        config = PriorEvolutionConfig(max_portfolio=0, warm_start=warm_start, population=8)
        searcher = PriorEvolutionSearcher(prior=related, optimizer=optimizer, config=config, seed=seed)
        searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=48)
        losses = [loss(c) for c in run(searcher, 48)]
        return float(np.mean(losses[:8])), float(np.mean(losses[-8:]))

    warm = np.array([mean_loss(True, s) for s in range(4)])
    cold = np.array([mean_loss(False, s) for s in range(4)])
    assert warm[:, 0].mean() < 0.6 * cold[:, 0].mean()  # the first generation comes from the prior
    assert warm[:, 1].mean() < warm[:, 0].mean() and cold[:, 1].mean() < cold[:, 0].mean()  # and it learns


class TestGeneticAlgorithmContract(SearcherContract):
    """The shared contract with ``optimizer="ga"`` (the registry's entry runs it with CMA-ES)."""

    optimizer = "ga"

    @pytest.fixture(autouse=True)
    def _prior(self, contract_prior: meta_tune.priors.Prior) -> None:
        self.prior = contract_prior

    def make(self, **kwargs: Any) -> Searcher:
        return searchers.build("prior_evolution", prior=self.prior, options={"optimizer": self.optimizer}, **kwargs)


class TestEvolutionStrategyContract(TestGeneticAlgorithmContract):
    """The shared contract with ``optimizer="es"`` (OpenAI-ES)."""

    optimizer = "es"
