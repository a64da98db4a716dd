"""The prior's cost model and the portfolio chosen per second, on synthetic tasks of known cost."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from ray import tune

import meta_tune.priors
from meta_tune.errors import InvalidConfigError
from meta_tune.priors import Prior
from meta_tune.space import SearchSpace, flatten

SPACE = {
    "x": tune.uniform(0.0, 1.0),
    "width": tune.lograndint(8, 1024),
    "epochs": 5,
}


def accuracy(config: dict, optimum: float) -> float:
    """Good region: x near the optimum; wider nets are a little better."""
    return 1.0 - 3 * (config["x"] - optimum) ** 2 + 0.02 * np.log2(config["width"]) / 10


def seconds_per_step(config: dict, task_scale: float) -> float:
    """Cost grows with the width (the same on every task), times the task's own scale."""
    return task_scale * (config["width"] / 64) ** 0.9


def make_history(
    *, runtimes: bool = True, n_tasks: int = 8, n_trials: int = 60, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    space = SearchSpace.from_tune(SPACE)
    rows = []
    for t in range(n_tasks):
        scale, optimum = float(rng.uniform(0.5, 5.0)), 0.7 + rng.normal(0, 0.03)
        for config in space.sample(rng, n_trials):
            row = {
                "task": f"task{t}",
                **flatten(config),
                "acc": accuracy(config, optimum) + rng.normal(0, 0.005),
            }
            if runtimes:
                row["training_iteration"] = 5
                row["runtime_s"] = 5 * seconds_per_step(config, scale) * rng.lognormal(0, 0.1)
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return make_history()


def fit(history: pd.DataFrame, **options: object) -> Prior:
    return meta_tune.priors.fit(history, space=SPACE, metric="acc", mode="max", **options)


def test_expected_cost_learns_the_config_part_and_scales_to_the_new_task(history: pd.DataFrame) -> None:
    prior = fit(history)
    cheap, costly = {"x": 0.7, "width": 16, "epochs": 5}, {"x": 0.7, "width": 512, "epochs": 5}
    ratio = prior.expected_cost(costly) / prior.expected_cost(cheap)
    assert 8 < ratio < 30  # the truth: (512 / 16) ** 0.9 = 22.6
    # The new task is 20x slower than a typical training task: a few results scale the model to it.
    observed = [
        (c, 5 * seconds_per_step(c, 40.0), 5)
        for c in SearchSpace.from_tune(SPACE).sample(np.random.default_rng(3), 6)
    ]
    truth = 5 * seconds_per_step(costly, 40.0)
    before = prior.expected_cost(costly)
    after = prior.expected_cost(costly, observed=observed)
    assert abs(np.log(after / truth)) < 0.5 < abs(np.log(before / truth))
    # A partial run (a trial stopped at step 2) costs in proportion to its steps.
    assert prior.expected_cost(costly, observed=observed, steps=1) == pytest.approx(after / 5)


def test_the_time_portfolio_puts_cheap_good_configs_first_at_little_regret(history: pd.DataFrame) -> None:
    per_second = fit(history)
    per_trial = fit(history, portfolio_objective="trials")
    assert per_second.portfolio_objective == "time" and per_trial.portfolio_objective == "trials"

    def cost(prior: Prior, k: int) -> float:
        return sum(prior.expected_cost(c) for c in prior.portfolio[:k])  # type: ignore[misc]

    assert cost(per_second, 4) < 0.5 * cost(per_trial, 4)
    optimum = 0.7
    best = [max(accuracy(c, optimum) for c in p.portfolio[:4]) for p in (per_second, per_trial)]
    assert best[0] > best[1] - 0.02


def test_the_cost_exponent_moves_the_portfolio_from_per_second_to_per_trial(history: pd.DataFrame) -> None:
    per_trial = fit(history, portfolio_objective="trials").portfolio
    assert fit(history, cost_exponent=0.0).portfolio == per_trial  # costs to the power 0: per trial
    assert fit(history, cost_exponent=1.0).portfolio == fit(history).portfolio
    halfway = fit(history, cost_exponent=0.5)
    per_second = fit(history)

    def cost(prior: Prior) -> float:
        return sum(prior.expected_cost(c) for c in prior.portfolio[:4])  # type: ignore[misc]

    assert cost(per_second) <= cost(halfway) <= sum(halfway.expected_cost(c) for c in per_trial[:4])
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InvalidConfigError, match="cost_exponent"):
            fit(history, cost_exponent=bad)


def test_a_history_without_runtimes_is_cost_blind_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="meta_tune.priors"):
        prior = fit(make_history(runtimes=False))
        assert prior.expected_cost({"x": 0.5, "width": 64, "epochs": 5}) is None
        prior.expected_cost({"x": 0.5, "width": 64, "epochs": 5})
    assert prior.portfolio_objective == "trials" and prior.cost_model is None
    assert caplog.text.count("cost-blind") == 1


def test_runtimes_survive_save_and_load(history: pd.DataFrame, tmp_path) -> None:  # type: ignore[no-untyped-def]
    prior = fit(history)
    prior.save(tmp_path / "prior.json")
    again = Prior.load(tmp_path / "prior.json")
    config = {"x": 0.3, "width": 200, "epochs": 5}
    assert again.expected_cost(config) == pytest.approx(prior.expected_cost(config))
    assert again.portfolio == prior.portfolio


def test_a_prior_learns_only_from_finished_trials(caplog: pytest.LogCaptureFixture) -> None:
    """A trial that reported a great value and then crashed (or never finished) is not a success."""
    good = make_history(runtimes=False, n_tasks=4, n_trials=40)
    good["status"] = "TERMINATED"
    rng = np.random.default_rng(5)
    crashed = []
    for t in range(4):
        for _ in range(30):  # a crashing region: x near 0.1 "reports" a perfect score
            crashed.append(
                {
                    "task": f"task{t}",
                    "x": rng.uniform(0.05, 0.15),
                    "width": 64,
                    "acc": 2.0,
                    "status": rng.choice(["ERROR", "RUNNING"]),
                }
            )
    history = pd.concat([good, pd.DataFrame(crashed)], ignore_index=True)
    with caplog.at_level(logging.INFO, logger="meta_tune.priors"):
        prior = fit(history)
    assert "left out 120 that did not finish" in caplog.text
    assert all(abs(c["x"] - 0.7) < 0.3 for c in prior.portfolio[:4])
    assert all(len(t.loss) == 40 for t in prior.tasks)
    assert "status" in history.columns  # the caller's frame is left as it was
