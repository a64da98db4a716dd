"""The priors' tree ensembles grow the trees scikit-learn's ExtraTreesRegressor grows."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesRegressor

from meta_tune.priors._trees import N_TREES, fit_trees


@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("min_samples_leaf", [2, 3])
def test_predictions_equal_extra_trees_regressor(outputs: int, min_samples_leaf: int) -> None:
    rng = np.random.default_rng(outputs)
    x = rng.random((80, 6))
    y = np.sin(4 * x[:, :outputs]) + 0.1 * rng.standard_normal((80, outputs))
    y = y[:, 0] if outputs == 1 else y
    reference = ExtraTreesRegressor(
        n_estimators=N_TREES, min_samples_leaf=min_samples_leaf, random_state=7, n_jobs=1
    ).fit(x, y)
    ours = fit_trees(x, y, seed=7, min_samples_leaf=min_samples_leaf)
    new = rng.random((50, 6))
    predicted = ours.predict(new)
    assert predicted.shape == ((50,) if outputs == 1 else (50, outputs))
    np.testing.assert_allclose(predicted, reference.predict(new), rtol=0, atol=1e-12)


def test_one_row_predicts_the_training_mean_and_seeds_differ() -> None:
    x = np.linspace(0, 1, 40)[:, None]
    y = x[:, 0] ** 2
    one = fit_trees(x, y, seed=0)
    assert one.predict(np.array([0.5])).shape == (1,)
    assert not np.array_equal(one.predict(x), fit_trees(x, y, seed=1).predict(x))
    np.testing.assert_array_equal(one.predict(x), fit_trees(x, y, seed=0).predict(x))
