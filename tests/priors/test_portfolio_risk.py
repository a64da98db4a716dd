"""``portfolio_risk``: a pessimistic portfolio puts configs next to a cliff of the training tasks later."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ray import tune

import meta_tune.priors
from meta_tune.errors import InvalidConfigError
from meta_tune.priors import Prior
from meta_tune.priors._portfolio import regret_matrix
from meta_tune.priors._trees import fit_trees

SPACE = {"lr": tune.loguniform(1e-4, 1.0), "x": tune.uniform(0.0, 1.0)}
CLIFF = 1e-2


def cliff_history(seed: int) -> pd.DataFrame:
    """Past a learning rate of 0.01 a run reaches 0.97, or diverges to chance (0.1) three times in ten.

    Below it, runs are safe but worse (0.80 to 0.85): good on average, the high learning
    rates are a gamble; ``x`` does not matter.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(8):
        for _ in range(40):
            lr, x = 10 ** rng.uniform(-4, 0), rng.uniform()
            if lr > CLIFF:
                acc = 0.1 if rng.uniform() < 0.3 else 0.97 + rng.normal(0, 0.005)
            else:
                acc = 0.80 + 0.025 * (np.log10(lr) + 4) + rng.normal(0, 0.005)
            rows.append({"task": f"task{t}", "lr": lr, "x": x, "acc": acc})
    return pd.DataFrame(rows)


def fit(history: pd.DataFrame, risk: float) -> Prior:
    return meta_tune.priors.fit(
        history, space=SPACE, metric="acc", mode="max", candidates_per_task=40, portfolio_size=4,
        portfolio_risk=risk,
    )


def test_a_risky_config_that_is_good_on_average_comes_first_only_without_risk() -> None:
    risky_first = {"mean": 0, "pessimistic": 0}
    for seed in range(4):
        history = cliff_history(seed)
        mean, pessimistic = fit(history, 0.0), fit(history, 1.0)
        risky_first["mean"] += mean.portfolio[0]["lr"] > CLIFF
        risky_first["pessimistic"] += pessimistic.portfolio[0]["lr"] > CLIFF
        assert pessimistic.config.portfolio_risk == 1.0 and mean.config.portfolio_risk == 0.0
    # By its trees' mean, a config past the cliff has the least regret on most histories;
    # with their spread added, a safe learning rate comes first on every one.
    assert risky_first["mean"] >= 3
    assert risky_first["pessimistic"] == 0


def test_pessimistic_regrets_add_the_trees_spread_and_keep_observed_regrets() -> None:
    history = cliff_history(0)
    prior = fit(history, 0.0)
    tasks, surrogates = list(prior.tasks), prior._surrogates
    candidates = np.stack([tasks[0].unit[:5], tasks[1].unit[:5]]).reshape(10, -1)
    sources = np.array([(0, row) for row in range(5)] + [(-1, -1)] * 5)
    mean = regret_matrix(candidates, sources, tasks, surrogates)
    np.testing.assert_array_equal(regret_matrix(candidates, sources, tasks, surrogates, risk=0.0), mean)
    risky = regret_matrix(candidates, sources, tasks, surrogates, risk=2.0)
    assert np.all(risky >= mean) and np.all((risky >= 0) & (risky <= 1))
    assert np.any(risky > mean + 0.05)  # the trees disagree somewhere near the cliff
    # A candidate observed on its own task keeps its observed regret there.
    np.testing.assert_array_equal(risky[:5, 0], tasks[0].regret[:5])
    spread = np.stack([surrogates[t].predict_spread(candidates[5:])[1] for t in range(len(tasks))], axis=1)
    expected = np.clip(np.stack([m.predict(candidates[5:]) for m in surrogates], axis=1) + 2.0 * spread, 0, 1)
    np.testing.assert_allclose(risky[5:], expected, atol=1e-12)


def test_predict_spread_is_the_trees_mean_and_standard_deviation() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((40, 2))
    y = np.where(x[:, 0] > 0.5, 1.0, 0.0) + 0.01 * rng.standard_normal(40)
    trees = fit_trees(x, y, seed=3)
    new = rng.random((20, 2))
    mean, spread = trees.predict_spread(new)
    per_tree = np.stack([tree.predict(new.astype(np.float32)) for tree in trees.trees])
    np.testing.assert_allclose(mean, trees.predict(new), atol=1e-12)
    np.testing.assert_allclose(spread, per_tree.std(axis=0), atol=1e-12)
    assert spread.max() > 0.1  # near the step the trees disagree


@pytest.mark.parametrize("risk", [-0.5, float("nan"), float("inf")])
def test_a_negative_or_non_finite_risk_is_refused(risk: float) -> None:
    with pytest.raises(InvalidConfigError, match=r"portfolio_risk=.* is out of range"):
        fit(cliff_history(0), risk)
