"""What the four prior searchers share: letting go of the portfolio, and spending seconds well."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import meta_tune.priors
from meta_tune.errors import InvalidConfigError
from meta_tune.searchers import (
    PriorEvolutionConfig,
    PriorEvolutionSearcher,
    PriorSearcher,
    PriorSearcherConfig,
    PriorTPESearcher,
    PriorTPESearcherConfig,
    TransferBOConfig,
    TransferBOSearcher,
)
from tests.priors.test_cost import SPACE, accuracy, make_history, seconds_per_step

SEARCHERS = [PriorSearcher, PriorTPESearcher, PriorEvolutionSearcher, TransferBOSearcher]
CONFIGS = {
    PriorSearcher: PriorSearcherConfig,
    PriorTPESearcher: PriorTPESearcherConfig,
    PriorEvolutionSearcher: PriorEvolutionConfig,
    TransferBOSearcher: TransferBOConfig,
}


@pytest.fixture(scope="module")
def costly() -> meta_tune.priors.Prior:
    """Tasks good at x = 0.7 whose cost grows with the width (tests.priors.test_cost)."""
    return meta_tune.priors.fit(make_history(seed=2), space=SPACE, metric="acc", mode="max")


def run(searcher: Any, n: int, *, scale: float = 3.0) -> list[dict[str, Any]]:
    """n sequential trials of 5 steps on a target task; its runtimes go to Tune's time_total_s."""
    configs = []
    for i in range(n):
        config = searcher.suggest(f"t{i}")
        value = accuracy(config, 0.7)
        result = {
            "acc": value,
            "training_iteration": 5,
            "time_total_s": 5 * seconds_per_step(config, scale),
        }
        searcher.on_trial_result(f"t{i}", result)
        searcher.on_trial_complete(f"t{i}", result)
        configs.append(config)
    return configs


@pytest.fixture(scope="module")
def contrary() -> meta_tune.priors.Prior:
    """A history that is exactly wrong: every training task's metric negated."""
    history = make_history(seed=2)
    history["acc"] = -history["acc"]
    return meta_tune.priors.fit(history, space=SPACE, metric="acc", mode="max")


@pytest.mark.parametrize("searcher_class", SEARCHERS)
def test_a_contrary_history_makes_the_searcher_let_go_of_the_portfolio(
    costly: meta_tune.priors.Prior, contrary: meta_tune.priors.Prior, searcher_class: Any
) -> None:
    """Where the history ranks this task's results backwards, the rest of the portfolio is dropped early."""
    searcher = searcher_class(prior=contrary, seed=0)
    searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=64)
    configs = run(searcher, 8)
    assert searcher.let_go_reason is not None and "no better than chance" in searcher.let_go_reason
    assert searcher.remaining_portfolio() == []
    assert sum(c in contrary.portfolio for c in configs) <= 7  # of the 16 it would serve
    assert searcher.task_weights().none > 0.5
    # On a related task the portfolio is kept (TransferBO hands it to its acquisition instead).
    related = searcher_class(prior=costly, seed=0)
    related.set_search_properties("acc", "max", dict(SPACE), num_samples=64)
    run(related, 6)
    assert related.let_go_reason is None and related.task_weights().none < 0.5


@pytest.mark.parametrize("searcher_class", SEARCHERS)
def test_the_cost_of_each_trial_is_observed_and_survives_a_restore(
    costly: meta_tune.priors.Prior, searcher_class: Any
) -> None:
    searcher = searcher_class(prior=costly, seed=0)
    searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=20)
    configs = run(searcher, 4)
    assert [o.seconds for o in searcher.observations] == [5 * seconds_per_step(c, 3.0) for c in configs]
    again = searcher_class(prior=costly, seed=0)
    again.set_state(searcher.get_state())
    assert again.observations == searcher.observations
    assert run(again, 3) == run(searcher, 3)


def mean_cost(configs: list[dict[str, Any]]) -> float:
    return float(np.mean([seconds_per_step(c, 1.0) for c in configs]))


def test_prior_searcher_leans_to_cheap_configs_early(costly: meta_tune.priors.Prior) -> None:
    def suggestions(cost_aware: bool) -> list[dict[str, Any]]:
        config = PriorSearcherConfig(max_portfolio=0, cost_aware=cost_aware, local_share=0.0)
        searcher = PriorSearcher(prior=costly, seed=0, config=config)
        searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=200)
        return run(searcher, 24)

    aware, blind = suggestions(True), suggestions(False)
    assert mean_cost(aware) < 0.5 * mean_cost(blind)


def test_transfer_bo_maximizes_improvement_per_second(costly: meta_tune.priors.Prior) -> None:
    """EI per second: the same number of trials in much less time, to about the same best."""

    def suggestions(cost_aware: bool, seed: int) -> list[dict[str, Any]]:
        config = TransferBOConfig(max_portfolio=2, cost_aware=cost_aware, uniform_slot=None)
        searcher = TransferBOSearcher(prior=costly, seed=seed, config=config)
        searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=200)
        return run(searcher, 14)[2:]

    runs = {aware: [suggestions(aware, seed) for seed in range(3)] for aware in (True, False)}
    seconds = {aware: sum(mean_cost(configs) for configs in runs[aware]) for aware in runs}
    assert seconds[True] < 0.7 * seconds[False]
    for aware, blind in zip(runs[True], runs[False]):
        assert max(accuracy(c, 0.7) for c in aware) > max(accuracy(c, 0.7) for c in blind) - 0.005


class _WritesMarker:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.write_text, (self.marker, "ran"))


@pytest.mark.parametrize("searcher_class", SEARCHERS)
def test_the_saved_state_is_plain_json_and_a_pickle_is_never_read(
    costly: meta_tune.priors.Prior, searcher_class: Any, tmp_path: Path
) -> None:
    searcher = searcher_class(prior=costly, seed=0)
    searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=20)
    run(searcher, 5)
    searcher.save(str(tmp_path / "state"))
    assert json.loads((tmp_path / "state").read_text())["state"]["class"] == searcher_class.__name__
    again = searcher_class(prior=costly, seed=0)
    again.restore(str(tmp_path / "state"))
    assert run(again, 3) == run(searcher, 3)
    marker = tmp_path / "marker"
    (tmp_path / "old.pkl").write_bytes(pickle.dumps(_WritesMarker(marker)))
    with pytest.raises(InvalidConfigError, match=r"pickled searcher state .* not read"):
        again.restore(str(tmp_path / "old.pkl"))
    (tmp_path / "other.json").write_text('{"format": 7}')
    with pytest.raises(InvalidConfigError, match="is not a meta-tune searcher state"):
        again.restore(str(tmp_path / "other.json"))
    assert not marker.exists()


@pytest.mark.parametrize("searcher_class", SEARCHERS)
def test_the_uniform_slot_serves_one_uniform_sample_among_the_portfolio(
    costly: meta_tune.priors.Prior, searcher_class: Any
) -> None:
    config_class = CONFIGS[searcher_class]
    searcher = searcher_class(prior=costly, seed=0, config=config_class(uniform_slot=1))
    searcher.set_search_properties("acc", "max", dict(SPACE), num_samples=64)
    configs = run(searcher, 3)
    assert configs[0] == costly.portfolio[0] and configs[1] not in costly.portfolio
    if searcher_class is not TransferBOSearcher:  # TransferBO's GP takes over after two trials
        assert configs[2] == costly.portfolio[1]
    with pytest.raises(InvalidConfigError, match="uniform_slot must be"):
        searcher_class(prior=costly, config=config_class(uniform_slot=-1))
