"""Small tree-ensemble regressors, the surrogates of priors (regret per task, cost per task).

A prior fits one ensemble per training task (and per task for the cost model), each on a
few dozen to a few hundred trials, so scikit-learn's per-estimator overhead dominated the
fit: ``ExtraTreesRegressor`` clones and re-validates every tree's parameters through
``inspect.signature``, half of a fit on 64 rows. :func:`fit_trees` builds the same trees
directly (the same per-tree seeds, so the same predictions as ``ExtraTreesRegressor``), and
:meth:`TreeEnsemble.predict` goes straight through the fitted trees: searchers query them
at every suggestion and result, where ``predict``'s input checks and joblib dispatch cost
several times the prediction itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.tree import ExtraTreeRegressor

#: Trees per ensemble.
N_TREES = 24


class TreeEnsemble:
    """Extremely randomized trees (Geurts et al., 2006): the mean of :data:`N_TREES` trees.

    Build it with :func:`fit_trees`.
    """

    def __init__(self, trees: list[ExtraTreeRegressor]) -> None:
        self.trees = trees

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The mean prediction of the trees: ``(n,)``, or ``(n, k)`` when fitted on ``k`` outputs.

        Trees read float32, as in scikit-learn.
        """
        rows = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)
        mean = np.mean([tree.tree_.predict(rows) for tree in self.trees], axis=0)  # (n, 1) or (n, k, 1)
        return np.asarray(mean[:, 0] if mean.ndim == 2 else mean[:, :, 0])

    def predict_spread(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The trees' mean and standard deviation, each ``(n,)`` (of the first output).

        The spread is how much the trees disagree: large where few trials constrain the
        prediction or where a cliff in the data falls between training points.
        """
        rows = np.ascontiguousarray(np.atleast_2d(x), dtype=np.float32)
        per_tree = np.stack([tree.tree_.predict(rows).reshape(len(rows), -1)[:, 0] for tree in self.trees])
        return per_tree.mean(axis=0), per_tree.std(axis=0)


def fit_trees(x: np.ndarray, y: np.ndarray, *, seed: int, min_samples_leaf: int = 2) -> TreeEnsemble:
    """The trees ``ExtraTreesRegressor(n_estimators=24, min_samples_leaf, random_state=seed)`` grows.

    Args:
        x: Inputs, ``(n, d)``, finite.
        y: Targets, ``(n,)`` or ``(n, k)``.
        seed: Seed of the ensemble (each tree's seed is drawn from it as scikit-learn does).
        min_samples_leaf: The fewest training rows in a leaf.
    """
    from sklearn.tree import ExtraTreeRegressor

    rows = np.ascontiguousarray(x, dtype=np.float32)
    targets = np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(len(rows), -1))
    seeds = np.random.RandomState(seed).randint(np.iinfo(np.int32).max, size=N_TREES)
    # One generator reseeded per tree draws what RandomState(tree seed) would; making a
    # RandomState costs more than growing a tree on a few dozen rows.
    random = np.random.RandomState()
    trees = []
    for tree_seed in seeds:
        random.seed(int(tree_seed))
        tree = ExtraTreeRegressor(min_samples_leaf=min_samples_leaf, max_features=1.0, random_state=random)
        # ExtraTreesRegressor.fit checks the input once and then fits each tree this way.
        tree._fit(rows, targets, check_input=False)
        trees.append(tree)
    return TreeEnsemble(trees)
