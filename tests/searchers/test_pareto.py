"""ParetoSearcher and the Pareto utilities: fronts, hypervolume, the Pareto portfolio, several objectives."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ray import tune
from ray.tune.search import ConcurrencyLimiter

from meta_tune.errors import InvalidConfigError
from meta_tune.priors._pareto import hypervolume, non_dominated_ranks, pareto_mask, pareto_portfolio
from meta_tune.searchers import ParetoSearcher, ParetoSearcherConfig
from meta_tune.space import SearchSpace, flatten
from meta_tune.testing import CONTRACT_SPACE
from meta_tune.testing._searcher_contract import objective

pytest.importorskip("optuna")

#: Two objectives that pull x apart: the Pareto set is y = 0.5, x in [0.2, 0.8] (shifted per task).
SPACE = {"x": tune.uniform(0.0, 1.0), "y": tune.uniform(0.0, 1.0)}


def two_objectives(config: dict[str, Any], shift: float = 0.0) -> dict[str, float]:
    x, y = config["x"] - shift, config["y"] - shift
    return {"f1": (x - 0.2) ** 2 + (y - 0.5) ** 2, "f2": (x - 0.8) ** 2 + (y - 0.5) ** 2}


def synthetic_history(tasks: int = 6, trials: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    space = SearchSpace.from_tune(SPACE)
    rows = []
    for t in range(tasks):
        shift = 0.02 * (t - tasks / 2)
        for config in space.sample(rng, trials):
            rows.append({"task": f"t{t}", **config, **two_objectives(config, shift)})
    return pd.DataFrame(rows)


def contract_cost(config: dict[str, Any]) -> float:
    """A second objective for the contract space that conflicts with its loss: a high lr is cheap."""
    flat = flatten(config)
    return float(-math.log10(flat["lr"]) + 0.5 * (flat["opt/name"] == "sgd"))


def contract_history(tasks: int = 4, trials: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    space = SearchSpace.from_tune(CONTRACT_SPACE)
    return pd.DataFrame(
        [
            {"task": f"t{t}", **flatten(c), "loss": objective(c), "cost": contract_cost(c)}
            for t in range(tasks)
            for c in space.sample(rng, trials)
        ]
    )


def run(searcher: Any, n: int, *, start: int = 0, fn: Any = None) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Tune's sequential loop; the configs and their objective vectors (both minimized)."""
    configs, values = [], []
    for i in range(start, start + n):
        config = searcher.suggest(f"t{i:03d}")
        result = (fn or two_objectives)(config)
        searcher.on_trial_complete(f"t{i:03d}", {**result, "training_iteration": 1})
        configs.append(config)
        values.append(list(result.values()))
    return configs, np.asarray(values)


# ---------------------------------------------------------------------- utilities
def test_non_dominated_sort_and_front() -> None:
    points = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 2.0], [0.5, 0.5]])
    assert non_dominated_ranks(points).tolist() == [0, 0, 1, 2, 0]
    assert pareto_mask(points).tolist() == [True, True, False, False, True]


def test_hypervolume_is_exact_in_two_and_three_objectives() -> None:
    # Staircase of (0,2), (1,1), (2,0) under reference (3,3): 3 + 2 + 1 = 6 unit squares.
    front = np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [2.5, 2.5]])
    assert hypervolume(front, [3.0, 3.0]) == pytest.approx(6.0)
    assert hypervolume(np.array([[4.0, 0.0]]), [3.0, 3.0]) == 0.0  # outside the reference box
    assert hypervolume(np.array([[1.0, 1.0, 1.0]]), [2.0, 3.0, 4.0]) == pytest.approx(1 * 2 * 3)
    rng = np.random.default_rng(0)
    points = rng.random((25, 3))
    # Inclusion-exclusion is not needed: a fine grid estimate agrees with the exact value.
    grid = np.stack(np.meshgrid(*[np.linspace(0.005, 0.995, 100)] * 3), axis=-1).reshape(-1, 3)
    covered = (points[None, :, :] <= grid[:, None, :]).all(axis=2).any(axis=1).mean()
    assert hypervolume(points, [1.0, 1.0, 1.0]) == pytest.approx(covered, abs=0.01)


def test_the_pareto_portfolio_lies_on_the_tasks_pareto_set_and_spans_it() -> None:
    configs = pareto_portfolio(
        synthetic_history(), SearchSpace.from_tune(SPACE), metrics=["f1", "f2"], modes=["min", "min"], size=8
    )
    assert len(configs) == 8
    xs, ys = np.array([c["x"] for c in configs]), np.array([c["y"] for c in configs])
    assert np.all(np.abs(ys - 0.5) < 0.2), ys
    assert np.all((xs > 0.05) & (xs < 0.95)), xs
    assert xs.min() < 0.35 and xs.max() > 0.65, xs  # both ends of the trade-off, not one corner


def test_pareto_portfolio_explains_missing_objectives() -> None:
    with pytest.raises(InvalidConfigError, match=r"no column for the objectives \['f3'\]"):
        pareto_portfolio(
            synthetic_history(), SearchSpace.from_tune(SPACE), metrics=["f1", "f3"], modes=["min", "min"]
        )


# ---------------------------------------------------------------------- the searcher
def test_several_objectives_start_from_the_pareto_portfolio_and_beat_random_search_early() -> None:
    history = synthetic_history()
    searcher = ParetoSearcher(SPACE, history=history, metric=["f1", "f2"], mode=["min", "min"], seed=0)
    configs, values = run(searcher, 10)
    portfolio = pareto_portfolio(
        history, SearchSpace.from_tune(SPACE), metrics=["f1", "f2"], modes=["min", "min"]
    )
    assert configs == portfolio[:10]
    assert searcher.prior is not None and searcher.prior.metric == "f1"  # the let-go rule's ranking
    rng = np.random.default_rng(0)
    random_values = np.array(
        [list(two_objectives(c).values()) for c in SearchSpace.from_tune(SPACE).sample(rng, 10)]
    )
    reference = [1.0, 1.0]
    assert hypervolume(values, reference) > hypervolume(random_values, reference)


def test_maximized_objectives_are_oriented_like_minimized_ones() -> None:
    def negated(config: dict[str, Any]) -> dict[str, float]:
        return {"f1": two_objectives(config)["f1"], "g2": -two_objectives(config)["f2"]}

    plain = ParetoSearcher(SPACE, metric=["f1", "f2"], mode=["min", "min"], seed=5)
    mirrored = ParetoSearcher(SPACE, metric=["f1", "g2"], mode=["min", "max"], seed=5)
    assert run(plain, 30)[0] == run(mirrored, 30, fn=negated)[0]


@pytest.mark.parametrize("continuation", ["motpe", "nsga2"])
def test_without_a_history_the_search_improves_the_front_over_its_random_start(continuation: str) -> None:
    config = ParetoSearcherConfig(continuation=continuation)  # type: ignore[arg-type]
    searcher = ParetoSearcher(SPACE, metric=["f1", "f2"], mode=["min", "min"], seed=0, config=config)
    _, values = run(searcher, 80)
    first, last = values[:20], values[60:]
    assert hypervolume(last, [1.0, 1.0]) > hypervolume(first, [1.0, 1.0])


@pytest.mark.parametrize("continuation", ["motpe", "nsga2"])
def test_conditional_space_in_flight_trials_and_json_restore_continue_exactly(
    tmp_path: Path, continuation: str
) -> None:
    def both(config: dict[str, Any]) -> dict[str, float]:
        return {"loss": objective(config), "cost": contract_cost(config)}

    space = SearchSpace.from_tune(CONTRACT_SPACE)
    searcher = ParetoSearcher(
        history=contract_history(),
        metric=["loss", "cost"],
        mode=["min", "min"],
        seed=2,
        config=ParetoSearcherConfig(continuation=continuation, population_size=4),  # type: ignore[arg-type]
    )
    assert searcher.set_search_properties("loss", "min", dict(CONTRACT_SPACE), num_samples=40)
    limited = ConcurrencyLimiter(searcher, max_concurrent=3)
    live = {f"c{i}": limited.suggest(f"c{i}") for i in range(3)}
    for step in range(3, 25):  # finish the oldest trial, start a new one
        oldest = min(live, key=lambda t: int(t[1:]))
        limited.on_trial_complete(oldest, {**both(live.pop(oldest)), "training_iteration": 1})
        live[f"c{step}"] = limited.suggest(f"c{step}")
        assert all(space.check(c) is None for c in live.values())
        assert len({json.dumps(flatten(c), sort_keys=True) for c in live.values()}) == 3
    searcher.save(str(tmp_path / "state.json"))
    json.loads((tmp_path / "state.json").read_text())  # plain JSON, no pickle
    settings = ParetoSearcherConfig(continuation=continuation, population_size=4)  # type: ignore[arg-type]
    restored = ParetoSearcher(metric=["loss", "cost"], mode=["min", "min"], config=settings)
    restored.restore(str(tmp_path / "state.json"))
    for s in (searcher, restored):  # the trials in flight at the checkpoint finish, then more run
        for trial_id, config in sorted(live.items()):
            s.on_trial_complete(trial_id, {**both(config), "training_iteration": 1})
    assert run(restored, 8, start=100, fn=both)[0] == run(searcher, 8, start=100, fn=both)[0]


def test_a_missing_or_nan_objective() -> None:
    searcher = ParetoSearcher(SPACE, metric=["f1", "f2"], mode=["min", "min"], seed=0)
    searcher.suggest("a")
    with pytest.raises(InvalidConfigError, match=r"expected the metric 'f2'"):
        searcher.on_trial_complete("a", {"f1": 0.3, "training_iteration": 1})
    searcher.on_trial_complete(
        "a", {"f1": 0.3, "f2": float("nan"), "training_iteration": 1}
    )  # a failed trial
    searcher.suggest("b")
    searcher.on_trial_complete("b", None, error=True)
    assert len(run(searcher, 5, start=2)[0]) == 5


@pytest.mark.parametrize(
    ("metric", "mode", "message"),
    [
        (["f1", "f2"], ["min"], "one mode per metric"),
        (["f1", "f2"], None, "give one mode per metric"),
        (["f1", "f1"], ["min", "min"], "names an objective twice"),
        (["f1", "f2"], ["min", "up"], "mode must be 'min' or 'max'"),
    ],
)
def test_objectives_are_checked_at_construction(metric: Any, mode: Any, message: str) -> None:
    with pytest.raises(InvalidConfigError, match=message):
        ParetoSearcher(SPACE, metric=metric, mode=mode)


def report_both(config: dict[str, Any]) -> None:
    tune.report(two_objectives(config))


@pytest.mark.integration
def test_drops_into_a_tune_run_with_several_objectives(ray_session: None, tmp_path: Path) -> None:
    # Tune's TuneConfig takes one metric (for reporting); the searcher gets both from its constructor.
    searcher = ParetoSearcher(history=synthetic_history(), metric=["f1", "f2"], mode=["min", "min"], seed=0)
    tuner = tune.Tuner(
        report_both,
        param_space=SPACE,
        tune_config=tune.TuneConfig(
            search_alg=ConcurrencyLimiter(searcher, max_concurrent=2), metric="f1", mode="min", num_samples=8
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 8 and not results.errors
    portfolio = pareto_portfolio(
        synthetic_history(), SearchSpace.from_tune(SPACE), metrics=["f1", "f2"], modes=["min", "min"]
    )
    configs = [r.config for r in results]
    assert all(c in configs for c in portfolio[:2])  # a quarter of num_samples comes from the portfolio
    assert all(len(r.metrics) and {"f1", "f2"} <= set(r.metrics) for r in results)
