"""Tabular classification: XGBoost, decision trees, random forests and an MLP on real tables.

Tasks are scikit-learn's bundled datasets (iris, wine, breast_cancer, digits; nothing is
downloaded); a path to a CSV file of your own works as a task (a header row, the label in a
``label``/``target``/``class`` column or last). Each model's search space is in the library's
names, so a shipped prior fits it directly::

    from ray import tune
    import meta_tune.priors
    from meta_tune.searchers import PriorSearcher
    from meta_tune.trainables.tabular import SPEC, search_space

    space = {**search_space("xgboost"), "task": "breast_cancer", "epochs": 5, "seed": 0}
    prior = meta_tune.priors.shipped("xgboost", space=search_space("xgboost"))
    tuner = tune.Tuner(SPEC.trainable, param_space=space,
                       tune_config=tune.TuneConfig(metric="accuracy", mode="max", num_samples=10,
                                                   search_alg=PriorSearcher(prior=prior)))

Reports validation ``accuracy``, macro ``f1`` and ``log_loss``; ``cv=5`` cross-validates.
"""

from __future__ import annotations

from meta_tune.trainables._registry import TrainableSpec
from meta_tune.trainables.tabular._data import TASKS, TabularData, load_task
from meta_tune.trainables.tabular._models import MODELS, FunnelMLP, build_learner
from meta_tune.trainables.tabular._trainable import TabularJob, scores, search_space, train_tabular

#: The ``"tabular"`` family of :func:`meta_tune.trainables.get`; its default space tunes the model too.
SPEC = TrainableSpec(
    name="tabular",
    trainable=train_tabular,
    tasks=tuple(TASKS),
    search_space=search_space,
    metric="accuracy",
    mode="max",
    epochs=5,
    description="XGBoost / decision tree / random forest / MLP on scikit-learn's bundled tables or your CSV",
    accepts_paths=True,
)

__all__ = ["MODELS", "SPEC", "TASKS", "FunnelMLP", "TabularData", "TabularJob", "build_learner", "load_task",
           "scores", "search_space", "train_tabular"]
