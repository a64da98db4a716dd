"""ControllerSearcher: the meta-learned start, learning by REINFORCE, batches in flight, exact resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from ray.tune.search import ConcurrencyLimiter, Searcher

import meta_tune.priors
from meta_tune import searchers
from meta_tune.errors import InvalidConfigError
from meta_tune.searchers import ControllerConfig, ControllerSearcher
from meta_tune.space import SearchSpace
from meta_tune.testing import SearcherContract
from tests.priors.test_prior import SPACE, loss


def controller(
    prior: meta_tune.priors.Prior | None = None, seed: int = 0, **options: Any
) -> ControllerSearcher:
    """A controller on the synthetic target, without the portfolio (the policy from the first trial)."""
    options.setdefault("max_portfolio", 0)
    searcher = ControllerSearcher(prior=prior, seed=seed, config=ControllerConfig(**options))
    assert searcher.set_search_properties("acc", "max", dict(SPACE))
    return searcher


def run(searcher: Searcher, n: int, *, start: int = 0) -> list[dict[str, Any]]:
    """n sequential trials on the synthetic target (accuracy 1 - loss, best at x=0.7, lr=1e-2, tanh)."""
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i}")
        assert config is not None
        configs.append(config)
        searcher.on_trial_complete(f"t{i}", {"acc": 1 - loss(config), "training_iteration": 1})
    return configs


def mean_loss(configs: list[dict[str, Any]]) -> float:
    return float(np.mean([loss(c) for c in configs]))


class TestControllerCriticContract(SearcherContract):
    """The contract again with the actor-critic and z-score rewards (the registry runs the defaults)."""

    @pytest.fixture(autouse=True)
    def _prior(self, contract_prior: meta_tune.priors.Prior) -> None:
        self.prior = contract_prior

    def make(self, **kwargs: Any) -> Searcher:
        config = ControllerConfig(baseline="critic", reward="zscore", batch_size=2)
        return ControllerSearcher(prior=self.prior, config=config, **kwargs)


def test_the_meta_learned_policy_starts_where_the_related_tasks_were_good(
    related: meta_tune.priors.Prior,
) -> None:
    before = torch.get_num_threads()
    first = [c for seed in range(2) for c in run(controller(related, seed), 12)]
    uniform = [c for seed in range(2) for c in run(controller(None, seed), 12)]
    assert torch.get_num_threads() == before  # pretraining ran on one thread and put the setting back
    assert mean_loss(first) < 0.6 * mean_loss(uniform)
    assert np.mean([c["act"] == "tanh" for c in first]) > 0.6
    assert np.mean([abs(c["x"] - 0.7) < 0.2 for c in first]) > 0.6
    # It still explores: the pretrained policy is no point mass.
    assert np.std([c["x"] for c in first]) > 0.05
    assert np.std([np.log10(c["lr"]) for c in first]) > 0.1


def test_without_a_prior_it_starts_uniform_and_learns_from_its_trials() -> None:
    losses_early, losses_late = [], []
    for seed in range(3):
        configs = run(controller(None, seed), 80)
        losses_early.append(mean_loss(configs[:20]))
        losses_late.append(mean_loss(configs[-20:]))
    # The first trials are random search's (the policy starts uniform): tanh about a third.
    space = SearchSpace.from_tune(SPACE)
    random = space.sample(np.random.default_rng(0), 200)
    assert np.mean(losses_early) == pytest.approx(mean_loss(random), rel=0.35)
    assert np.mean(losses_late) < 0.7 * np.mean(losses_early)


@pytest.mark.parametrize("options", [{"baseline": "critic"}, {"reward": "zscore"}])
def test_the_actor_critic_and_zscore_rewards_learn_too(options: dict[str, Any]) -> None:
    configs = [run(controller(None, seed, **options), 80) for seed in range(2)]
    assert np.mean([mean_loss(c[-20:]) for c in configs]) < 0.75 * np.mean([mean_loss(c[:20]) for c in configs])


def test_pretraining_is_deterministic_for_a_prior(related: meta_tune.priors.Prior) -> None:
    a = ControllerSearcher(prior=related, seed=5, config=ControllerConfig(max_portfolio=0))
    a.set_search_properties("acc", "max", dict(SPACE))
    first = run(a, 6)
    history_copy = meta_tune.priors.Prior.from_state(related.to_state())  # the same prior, another object
    b = ControllerSearcher(prior=history_copy, seed=5, config=ControllerConfig(max_portfolio=0))
    b.set_search_properties("acc", "max", dict(SPACE))
    assert run(b, 6) == first


def test_trials_in_flight_are_learned_from_in_batches_and_a_restored_run_continues_exactly(
    related: meta_tune.priors.Prior, tmp_path: Path
) -> None:
    searcher = controller(related, seed=2, batch_size=3)
    limited = ConcurrencyLimiter(searcher, max_concurrent=4)
    in_flight: dict[str, dict[str, Any]] = {}
    for i in range(4):
        config = limited.suggest(f"c{i}")
        assert config is not None
        in_flight[f"c{i}"] = config
    for step in range(4, 14):  # the oldest finishes, a new one starts: updates happen among trials in flight
        oldest = min(in_flight, key=lambda k: int(k[1:]))
        limited.on_trial_complete(oldest, {"acc": 1 - loss(in_flight.pop(oldest)), "training_iteration": 1})
        config = limited.suggest(f"c{step}")
        assert config is not None
        in_flight[f"c{step}"] = config
    searcher.save(str(tmp_path / "state.json"))
    state = json.loads((tmp_path / "state.json").read_text())  # plain JSON: the weights are lists of numbers
    assert isinstance(state["state"]["extra"]["policy"]["w1"][0][0], float)

    restored = ControllerSearcher(prior=related, config=ControllerConfig(max_portfolio=0, batch_size=3))
    restored.restore(str(tmp_path / "state.json"))

    def finish_and_continue(s: ControllerSearcher) -> list[dict[str, Any]]:
        for trial_id, config in sorted(in_flight.items()):
            s.on_trial_complete(trial_id, {"acc": 1 - loss(config), "training_iteration": 1})
        return run(s, 6, start=100)

    assert finish_and_continue(restored) == finish_and_continue(searcher)


def test_the_registry_builds_it_with_its_options_and_checks_them(related: meta_tune.priors.Prior) -> None:
    built = searchers.build("controller", prior=related, options={"baseline": "critic", "bins": 8})
    assert isinstance(built, ControllerSearcher)
    with pytest.raises(InvalidConfigError, match="baseline"):
        searchers.build("controller", prior=related, options={"baseline": "average"})
    with pytest.raises(InvalidConfigError, match=r"ControllerConfig.bins=1 is out of range"):
        ControllerConfig(bins=1)
    with pytest.raises(InvalidConfigError, match="config must be a ControllerConfig"):
        ControllerSearcher(config=searchers.PriorSearcherConfig())  # type: ignore[arg-type]
