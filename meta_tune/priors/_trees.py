"""Small tree-ensemble regressors, the surrogates of priors (regret per task, cost per task).

Searchers query them at every suggestion and result, so predictions go straight through the
fitted trees: scikit-learn's ``predict`` checks its input and dispatches through joblib,
which costs several times the prediction itself on a few hundred rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.ensemble import ExtraTreesRegressor


def fit_trees(x: np.ndarray, y: np.ndarray, *, seed: int, min_samples_leaf: int = 2) -> ExtraTreesRegressor:
    """An extremely randomized trees regressor (24 trees, one thread) fitted on ``x``, ``y``."""
    from sklearn.ensemble import ExtraTreesRegressor

    model = ExtraTreesRegressor(
        n_estimators=24, min_samples_leaf=min_samples_leaf, random_state=seed, n_jobs=1
    )
    model.fit(x, y)
    return model


def predict_trees(model: ExtraTreesRegressor, x: np.ndarray) -> np.ndarray:
    """``model.predict(x)``, the mean of the trees' predictions (trees read float32, as in scikit-learn)."""
    rows = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)
    return np.asarray(np.mean([tree.tree_.predict(rows).ravel() for tree in model.estimators_], axis=0))
