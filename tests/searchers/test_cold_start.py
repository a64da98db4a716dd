"""Prior searchers on a first run (no history yet), from a history they fit themselves, and their target checks."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import pytest
from ray.tune.search import Searcher

import meta_tune.priors
from meta_tune import searchers
from meta_tune.errors import EmptyHistoryError, InvalidConfigError
from meta_tune.space import SearchSpace, flatten
from meta_tune.store import Store
from meta_tune.testing import CONTRACT_SPACE
from meta_tune.testing._searcher_contract import objective

PRIOR_SEARCHERS = [name for name in searchers.names() if searchers.get(name).needs_prior]


def history(tasks: int = 4, trials: int = 30) -> pd.DataFrame:
    """Past trials of the contract objective on a few related tasks (the contract prior's data)."""
    import numpy as np

    rng = np.random.default_rng(0)
    space = SearchSpace.from_tune(CONTRACT_SPACE)
    return pd.DataFrame(
        [
            {"task": f"t{t}", **flatten(c), "loss": objective(c) + rng.normal(0, 0.05)}
            for t in range(tasks)
            for c in space.sample(rng, trials)
        ]
    )


def searcher_class(name: str) -> type[Searcher]:
    return type(searchers.build(name, prior=_prior()))


_PRIORS: dict[str, meta_tune.priors.Prior] = {}


def _prior() -> meta_tune.priors.Prior:
    if "p" not in _PRIORS:
        _PRIORS["p"] = meta_tune.priors.fit(
            history(), space=CONTRACT_SPACE, metric="loss", mode="min", portfolio_size=4
        )
    return _PRIORS["p"]


def tune_like(searcher: Searcher, n: int, *, start: int = 0) -> list[dict[str, Any]]:
    """What Tune does: suggest, report, complete, one trial after another."""
    configs = []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i:03d}")
        assert config is not None and config != Searcher.FINISHED
        result = {"loss": objective(config), "training_iteration": 1, "time_total_s": 1.0}
        searcher.on_trial_complete(f"t{i:03d}", result)
        configs.append(config)
    return configs


@pytest.mark.parametrize("name", PRIOR_SEARCHERS)
def test_a_first_run_with_an_empty_store_searches_without_a_prior_and_says_so_once(
    name: str, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    empty = Store(f"sqlite:///{tmp_path / 'store.db'}").history(family="my-model")
    searcher = searcher_class(name)(history=empty, seed=0)  # type: ignore[call-arg]
    assert searcher.set_search_properties("loss", "min", dict(CONTRACT_SPACE), num_samples=10)
    with caplog.at_level(logging.INFO, logger="meta_tune.searchers"):
        configs = tune_like(searcher, 10)
    said = [r.getMessage() for r in caplog.records if "no trials yet" in r.getMessage()]
    assert len(said) == 1 and "StoreCallback" in said[0], said
    assert searcher.prior is None  # type: ignore[attr-defined]
    space = SearchSpace.from_tune(CONTRACT_SPACE)
    assert all(space.check(c) is None for c in configs)
    assert len({tuple(sorted(flatten(c).items())) for c in configs}) == 10


@pytest.mark.parametrize("name", PRIOR_SEARCHERS)
def test_without_prior_or_history_a_searcher_runs_its_own_strategy_and_restores_exactly(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    searcher = searcher_class(name)(space=dict(CONTRACT_SPACE), metric="loss", mode="min", seed=3)  # type: ignore[call-arg]
    with caplog.at_level(logging.INFO, logger="meta_tune.searchers"):
        tune_like(searcher, 6)
    assert sum("has no prior to learn from" in r.getMessage() for r in caplog.records) == 1
    state = searcher.get_state()  # type: ignore[attr-defined]
    again = searcher_class(name)(space=dict(CONTRACT_SPACE), metric="loss", mode="min")  # type: ignore[call-arg]
    again.set_state(state)  # type: ignore[attr-defined]
    assert tune_like(again, 4, start=6) == tune_like(searcher, 4, start=6)


@pytest.mark.parametrize("name", PRIOR_SEARCHERS)
def test_a_searcher_fits_its_prior_from_history_with_tunes_metric_mode_and_space_and_keeps_it_on_restore(
    name: str, tmp_path: Any
) -> None:
    searcher = searcher_class(name)(history=history(), seed=1)  # type: ignore[call-arg]
    assert searcher.set_search_properties("loss", "min", dict(CONTRACT_SPACE), num_samples=20)
    first = tune_like(searcher, 5)
    prior = searcher.prior  # type: ignore[attr-defined]
    assert prior is not None and (prior.metric, prior.mode) == ("loss", "min")
    assert prior.task_names == ["t0", "t1", "t2", "t3"]
    assert first[0] == prior.portfolio[0]  # what the related tasks learned comes first
    searcher.save(str(tmp_path / "searcher.json"))  # type: ignore[attr-defined]
    # Resumed in a new process whose store has changed since: the run goes on with the prior it had.
    again = searcher_class(name)(history=history(tasks=2, trials=5))  # type: ignore[call-arg]
    again.restore(str(tmp_path / "searcher.json"))  # type: ignore[attr-defined]
    assert again.prior.task_names == prior.task_names  # type: ignore[attr-defined]
    assert tune_like(again, 4, start=5) == tune_like(searcher, 4, start=5)


def test_a_state_saved_with_a_given_prior_needs_that_prior_to_restore() -> None:
    searcher = searchers.PriorSearcher(prior=_prior(), space=dict(CONTRACT_SPACE), metric="loss", mode="min")
    tune_like(searcher, 2)
    with pytest.raises(InvalidConfigError, match="build the searcher with the same prior="):
        searchers.PriorSearcher(space=dict(CONTRACT_SPACE)).set_state(searcher.get_state())


def test_fitting_an_empty_history_says_there_is_nothing_yet_and_what_to_do(tmp_path: Any) -> None:
    empty = Store(f"sqlite:///{tmp_path / 'store.db'}").history(family="my-model")
    with pytest.raises(EmptyHistoryError, match=r"no past trials .* PriorSearcher\(history=\.\.\.\)"):
        meta_tune.priors.fit(empty, space=CONTRACT_SPACE, metric="accuracy", mode="max")


def test_a_prior_and_a_history_together_are_refused() -> None:
    with pytest.raises(InvalidConfigError, match="not both"):
        searchers.PriorSearcher(prior=_prior(), history=history())


def test_tunes_mode_is_checked_against_the_prior_when_tune_sets_it(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(InvalidConfigError, match=r"fitted to minimize 'loss' .* mode='max'"):
        searchers.PriorSearcher(prior=_prior()).set_search_properties("loss", "max", dict(CONTRACT_SPACE))
    with caplog.at_level(logging.WARNING, logger="meta_tune.searchers"):
        assert searchers.PriorSearcher(prior=_prior()).set_search_properties("acc", "max", dict(CONTRACT_SPACE))
    assert any("fitted to minimize 'loss'" in r.getMessage() and "'acc'" in r.getMessage() for r in caplog.records)


def test_an_empty_familys_error_names_the_family_and_the_store_without_its_password(tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    with pytest.raises(EmptyHistoryError, match=r"family 'my-model' in sqlite:///.*store\.db has none yet"):
        meta_tune.priors.fit(store.history(family="my-model"), space=CONTRACT_SPACE, metric="loss", mode="min")


def test_a_stored_history_with_several_metrics_fits_without_a_warning(tmp_path: Any) -> None:
    import warnings

    import numpy as np

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    rng = np.random.default_rng(0)
    for task in ("f/a", "f/b"):
        store.create_task(task, family="f", space=CONTRACT_SPACE)
        for i, config in enumerate(SearchSpace.from_tune(CONTRACT_SPACE).sample(rng, 10)):
            value = objective(config)
            store.record_trial(task, f"r{i}", config=config, status="TERMINATED",
                               metrics={"loss": value, "accuracy": 1 - value})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "accuracy" is a metric, not a parameter the space lacks
        meta_tune.priors.fit(store.history(family="f"), space=CONTRACT_SPACE, metric="loss", mode="min")
