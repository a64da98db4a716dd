"""The tabular-classification Tune trainable: holdout or cross-validated, with checkpoints."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from meta_tune.errors import InvalidConfigError
from meta_tune.trainables._loop import configure_threads, run_epochs
from meta_tune.trainables.tabular._data import load_task
from meta_tune.trainables.tabular._models import MODELS, Learner, build_learner

logger = logging.getLogger(__name__)


def search_space(model: str | None = None) -> dict[str, Any]:
    """The default search space of one tabular model, or of all four as a conditional choice.

    Args:
        model: ``"xgboost"``, ``"decision_tree"``, ``"random_forest"`` or ``"mlp"``: a flat
            space in the library's names (``{"model": "xgboost", "eta": ..., ...}``), the
            names the shipped priors use (:func:`meta_tune.priors.shipped`). None: the
            model is tuned too (``{"model": tune.choice([{"name": "xgboost", ...}, ...])}``).
            The ranges are YAHPO Gym's, with fewer boosting rounds and forest trees.

    Raises:
        InvalidConfigError: An unknown model.
    """
    from ray import tune

    spaces: dict[str, dict[str, Any]] = {
        "xgboost": {
            "eta": tune.loguniform(1e-3, 1.0),
            "max_depth": tune.randint(1, 16),
            "subsample": tune.uniform(0.1, 1.0),
            "colsample_bytree": tune.uniform(0.01, 1.0),
            "colsample_bylevel": tune.uniform(0.01, 1.0),
            "lambda": tune.loguniform(1e-3, 1e3),
            "alpha": tune.loguniform(1e-3, 1e3),
            "min_child_weight": tune.loguniform(2.7, 148.0),
            "gamma": tune.loguniform(5e-5, 7.0),
            "num_boost_round": tune.lograndint(8, 1001),
        },
        "decision_tree": {
            "ccp_alpha": tune.loguniform(1e-3, 1.0),
            "max_depth": tune.randint(1, 31),
            "min_samples_split": tune.randint(2, 101),
            "min_samples_leaf": tune.randint(1, 101),
        },
        "random_forest": {
            "n_estimators": tune.lograndint(8, 513),
            "max_features": tune.uniform(0.05, 1.0),
            "max_depth": tune.randint(1, 31),
            "min_samples_split": tune.randint(2, 101),
            "min_samples_leaf": tune.randint(1, 101),
        },
        "mlp": {
            "lr": tune.loguniform(1e-4, 0.1),
            "batch_size": tune.lograndint(16, 513),
            "momentum": tune.uniform(0.1, 0.99),
            "weight_decay": tune.uniform(1e-5, 0.1),
            "num_layers": tune.randint(1, 6),
            "max_units": tune.lograndint(64, 1025),
            "max_dropout": tune.uniform(0.0, 1.0),
        },
    }
    if model is None:
        return {"model": tune.choice([{"name": name, **space} for name, space in spaces.items()])}
    if model not in spaces:
        raise InvalidConfigError(f"Unknown tabular model {model!r}; use one of {list(MODELS)}.")
    return {"model": model, **spaces[model]}


def model_params(config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(model name, its parameters) of a trial config, flat (``model`` a name) or nested (a dict)."""
    chosen = config.get("model", "xgboost")
    if isinstance(chosen, dict):
        return str(chosen.get("name")), {**config, **chosen}
    return str(chosen), dict(config)


class TabularJob:
    """Trains one tabular model (see :class:`meta_tune.trainables.EpochJob`).

    With ``cv`` < 2 it trains on a fixed stratified split (75% train, 25% validation) and
    reports the validation metrics each epoch. With ``cv`` = k >= 2 each report is one more
    fold of a stratified k-fold cross-validation (trained for ``epochs`` epochs), with the
    metrics averaged over the folds so far; its checkpoint holds the finished folds' results.

    Args:
        config: The trial's config: a model's parameters (see :func:`search_space`) plus
            ``task``, ``epochs``, ``seed`` and optionally ``cv`` and ``early_stopping_rounds``.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self.model, self.params = model_params(config)
        if self.model not in MODELS:
            raise InvalidConfigError(f"Unknown tabular model {self.model!r}; use one of {list(MODELS)}.")
        self.data = load_task(str(config["task"]))
        self.epochs = int(config.get("epochs", 10))
        self.seed = int(config.get("seed", 0))
        self.cv = int(config.get("cv") or 0)
        self.threads = _threads()
        self.folds = self.data.folds(self.cv) if self.cv >= 2 else [self.data.holdout()]
        self.fold_results: list[dict[str, float]] = []
        self.learner: Learner | None = None if self.cv >= 2 else self._learner(0)

    @property
    def reports(self) -> int:
        """How many times the job reports: ``epochs``, or the number of folds with ``cv``."""
        return self.cv if self.cv >= 2 else self.epochs

    def _learner(self, fold: int) -> Learner:
        train, val = self.folds[fold]
        x, y = self.data.x, self.data.y
        return build_learner(self.model, self.params, (x[train], y[train], x[val], y[val]),
                             num_classes=self.data.num_classes, epochs=self.epochs, seed=self.seed,
                             threads=self.threads)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch on the split, or (with ``cv``) the whole training of fold ``epoch``."""
        if self.learner is not None:
            probs = self.learner.advance(epoch)
            return {**scores(self.data.y[self.folds[0][1]], probs), **self.learner.extra()}
        learner = self._learner(epoch)
        for inner in range(self.epochs):
            probs = learner.advance(inner)
        self.fold_results.append(scores(self.data.y[self.folds[epoch][1]], probs))
        mean = {k: float(np.mean([r[k] for r in self.fold_results])) for k in self.fold_results[0]}
        return {**mean, "folds": float(len(self.fold_results))}

    def state_dict(self) -> dict[str, Any]:
        """The learner's state, or the finished folds' results."""
        if self.learner is not None:
            return {"learner": self.learner.state_dict()}
        return {"folds": [dict(r) for r in self.fold_results]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`."""
        if self.learner is not None:
            self.learner.load_state_dict(state["learner"])
        else:
            self.fold_results = [dict(r) for r in state["folds"]]


def scores(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Validation ``accuracy``, macro ``f1`` and ``log_loss`` of class probabilities."""
    from sklearn.metrics import f1_score, log_loss

    k = probs.shape[1]
    predicted = probs.argmax(axis=1)
    clipped = np.clip(probs, 1e-15, 1.0)
    clipped /= clipped.sum(axis=1, keepdims=True)
    return {
        "accuracy": float(np.mean(predicted == y)),
        "f1": float(f1_score(y, predicted, average="macro", labels=np.arange(k), zero_division=0)),
        "log_loss": float(log_loss(y, clipped, labels=np.arange(k))),
    }


def _threads() -> int:
    """CPU threads for a model: torch's, which :func:`configure_threads` sets to the trial's CPUs."""
    import torch

    return max(1, torch.get_num_threads())


def train_tabular(config: dict[str, Any]) -> None:
    """Tune function trainable: a tabular classifier on ``config["task"]``.

    Reports ``accuracy`` (validation; the metric to maximize), ``f1`` (macro), ``log_loss``
    and ``epoch`` after every epoch (or fold, with ``cv``), each with a checkpoint; XGBoost
    adds ``rounds`` (its best round), random forests ``trees``.

    Args:
        config: A model's parameters (see :func:`search_space`) plus ``task`` (a task name
            or a CSV path), ``epochs``, ``seed``, and optionally ``cv`` (folds; 0 for one
            validation split) and ``early_stopping_rounds`` (XGBoost; default 20).
    """
    configure_threads()
    job = TabularJob(config)
    logger.info("Training %s on %s (%s)", job.model, config["task"],
                f"{job.cv}-fold cross-validation" if job.cv >= 2 else "one validation split")
    run_epochs(job, job.reports)


__all__ = ["TabularJob", "model_params", "scores", "search_space", "train_tabular"]
