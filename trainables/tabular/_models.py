"""The tabular models, each advanced an epoch at a time: XGBoost, decision tree, random forest, MLP.

Every learner trains on one split and returns its validation class probabilities after each
epoch; its state (for checkpoints) holds only tensors and plain data.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from meta_tune.errors import InvalidConfigError

logger = logging.getLogger(__name__)

#: The models of the tabular family.
MODELS = ("xgboost", "decision_tree", "random_forest", "mlp")


class Learner(Protocol):
    """One model on one train/validation split, trained over ``epochs`` epochs."""

    def advance(self, epoch: int) -> np.ndarray:
        """Train epoch ``epoch`` (0-based); the validation class probabilities ``(n_val, k)``."""
        ...

    def extra(self) -> dict[str, float]:
        """Model-specific numbers to report (e.g. XGBoost's rounds)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """What the learner needs to continue (tensors and plain data only)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict`."""
        ...


def build_learner(
    model: str,
    params: dict[str, Any],
    split: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    num_classes: int,
    epochs: int,
    seed: int,
    threads: int,
) -> Learner:
    """The learner of ``model`` (one of :data:`MODELS`) with the trial's ``params``.

    Raises:
        InvalidConfigError: An unknown model, or a parameter it needs is missing.
    """
    builders: dict[str, Callable[..., Learner]] = {
        "xgboost": XGBoostLearner, "decision_tree": TreeLearner, "random_forest": ForestLearner,
        "mlp": MLPLearner,
    }
    if model not in builders:
        raise InvalidConfigError(f"Unknown tabular model {model!r}; use one of {list(MODELS)}.")
    try:
        return builders[model](params, split, num_classes=num_classes, epochs=epochs, seed=seed,
                               threads=threads)
    except KeyError as err:
        raise InvalidConfigError(
            f"The tabular model {model!r} needs the config key {err.args[0]!r}; see "
            f"meta_tune.trainables.tabular.search_space({model!r}) for its parameters."
        ) from err


class XGBoostLearner:
    """Gradient-boosted trees (``xgboost.train``'s parameters) with early stopping on validation.

    Each epoch adds ``ceil(num_boost_round / epochs)`` rounds; training stops early once the
    validation log-loss has not improved for ``early_stopping_rounds`` rounds, and the model
    of the best round is the one evaluated (as ``xgboost.train(early_stopping_rounds=...)``).
    Its checkpoint is the booster; a resumed run continues from its saved rounds, exactly
    so unless it samples rows or columns (``subsample`` or ``colsample_*`` < 1): XGBoost's
    saved model does not hold its samplers' state, so the rounds after a resume draw other
    samples.
    """

    _PARAMS = ("eta", "max_depth", "subsample", "colsample_bytree", "colsample_bylevel", "lambda", "alpha",
               "min_child_weight", "gamma")

    def __init__(self, params: dict[str, Any], split: tuple[np.ndarray, ...], *, num_classes: int,
                 epochs: int, seed: int, threads: int) -> None:
        from meta_tune._imports import require

        self.xgb = require("xgboost", extra="tabular")
        x_train, y_train, x_val, y_val = split
        self.binary = num_classes == 2
        self.params: dict[str, Any] = {
            **{k: params[k] for k in self._PARAMS if k in params},
            "objective": "binary:logistic" if self.binary else "multi:softprob",
            "eval_metric": "logloss" if self.binary else "mlogloss",
            "tree_method": "hist",
            "seed": seed,
            "seed_per_iteration": True,  # each round's sampling depends on (seed, round): exact resume
            "nthread": threads,
            "verbosity": 0,
        }
        if not self.binary:
            self.params["num_class"] = num_classes
        self.rounds = int(params["num_boost_round"])
        self.patience = int(params.get("early_stopping_rounds", 20))
        self.per_epoch = math.ceil(self.rounds / max(1, epochs))
        self.dtrain = self.xgb.DMatrix(x_train, label=y_train, nthread=threads)
        self.dval = self.xgb.DMatrix(x_val, label=y_val, nthread=threads)
        self.booster = self.xgb.Booster(self.params, cache=[self.dtrain, self.dval])
        self.iteration, self.best, self.best_loss, self.done = 0, 0, math.inf, False

    def advance(self, epoch: int) -> np.ndarray:
        for _ in range(self.per_epoch):
            if self.done:
                break
            self.booster.update(self.dtrain, self.iteration)
            loss = float(self.booster.eval(self.dval, "val", self.iteration).rsplit(":", 1)[1])
            if loss < self.best_loss:
                self.best, self.best_loss = self.iteration, loss
            self.iteration += 1
            self.done = self.iteration >= self.rounds or self.iteration - 1 - self.best >= self.patience
        probs = self.booster.predict(self.dval, iteration_range=(0, self.best + 1))
        return np.column_stack([1 - probs, probs]) if self.binary else probs

    def extra(self) -> dict[str, float]:
        return {"rounds": float(self.best + 1), "rounds_trained": float(self.iteration)}

    def state_dict(self) -> dict[str, Any]:
        raw = bytes(self.booster.save_raw("ubj"))
        booster = torch.frombuffer(bytearray(raw), dtype=torch.uint8).clone()
        return {"booster": booster, "iteration": self.iteration, "best": self.best,
                "best_loss": self.best_loss, "done": self.done}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raw = bytearray(state["booster"].numpy().tobytes())
        self.booster = self.xgb.Booster(self.params, cache=[self.dtrain, self.dval], model_file=raw)
        self.iteration, self.best = int(state["iteration"]), int(state["best"])
        self.best_loss, self.done = float(state["best_loss"]), bool(state["done"])


class TreeLearner:
    """scikit-learn's ``DecisionTreeClassifier``, fitted in the first epoch (later ones report it again).

    Its checkpoint holds no tree: a resumed trial refits it (deterministic under the seed).
    """

    _PARAMS = ("ccp_alpha", "max_depth", "min_samples_split", "min_samples_leaf", "criterion", "max_features")

    def __init__(self, params: dict[str, Any], split: tuple[np.ndarray, ...], *, num_classes: int,
                 epochs: int, seed: int, threads: int) -> None:
        from sklearn.tree import DecisionTreeClassifier

        self.split, self.num_classes = split, num_classes
        kwargs = {k: params[k] for k in self._PARAMS if k in params}
        self.model = DecisionTreeClassifier(random_state=seed, **kwargs)
        self.probs: np.ndarray | None = None

    def advance(self, epoch: int) -> np.ndarray:
        if self.probs is None:
            x_train, y_train, x_val, _ = self.split
            self.model.fit(x_train, y_train)
            self.probs = _full_probs(self.model.predict_proba(x_val), self.model.classes_, self.num_classes)
        return self.probs

    def extra(self) -> dict[str, float]:
        return {"leaves": float(self.model.get_n_leaves())} if self.probs is not None else {}

    def state_dict(self) -> dict[str, Any]:
        return {"fitted": self.probs is not None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state["fitted"]:
            self.advance(0)


class ForestLearner:
    """scikit-learn's ``RandomForestClassifier``, growing ``n_estimators / epochs`` trees per epoch.

    It grows with ``warm_start``, which gives the same forest as growing it at once; a
    resumed trial regrows the trees it had (deterministic under the seed).
    """

    _PARAMS = ("max_depth", "min_samples_split", "min_samples_leaf", "max_features", "ccp_alpha", "criterion",
               "bootstrap")

    def __init__(self, params: dict[str, Any], split: tuple[np.ndarray, ...], *, num_classes: int,
                 epochs: int, seed: int, threads: int) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.split, self.num_classes = split, num_classes
        self.trees = int(params["n_estimators"])
        self.per_epoch = math.ceil(self.trees / max(1, epochs))
        kwargs = {k: params[k] for k in self._PARAMS if k in params}
        self.model = RandomForestClassifier(n_estimators=0, warm_start=True, random_state=seed,
                                            n_jobs=threads, **kwargs)
        self.grown = 0
        self.probs: np.ndarray | None = None

    def _grow(self, n: int) -> np.ndarray:
        x_train, y_train, x_val, _ = self.split
        if n > self.grown or self.probs is None:
            self.model.set_params(n_estimators=n)
            self.model.fit(x_train, y_train)
            self.grown = n
            self.probs = _full_probs(self.model.predict_proba(x_val), self.model.classes_, self.num_classes)
        return self.probs

    def advance(self, epoch: int) -> np.ndarray:
        return self._grow(min(self.trees, (epoch + 1) * self.per_epoch))

    def extra(self) -> dict[str, float]:
        return {"trees": float(self.grown)}

    def state_dict(self) -> dict[str, Any]:
        return {"grown": self.grown}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["grown"]):
            self._grow(int(state["grown"]))


class FunnelMLP(nn.Module):
    """LCBench's funnel-shaped MLP.

    ``num_layers`` ReLU layers whose width shrinks linearly from ``max_units`` towards the
    number of classes and whose dropout grows linearly to ``max_dropout``.
    """

    def __init__(
        self, inputs: int, classes: int, *, num_layers: int, max_units: int, max_dropout: float
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = inputs
        for i in range(num_layers):
            units = max(classes, round(max_units - (max_units - classes) * i / num_layers))
            dropout = max_dropout * (i + 1) / num_layers
            layers += [nn.Linear(width, units), nn.ReLU(), nn.Dropout(min(dropout, 0.99))]
            width = units
        layers.append(nn.Linear(width, classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.net(x)


class MLPLearner:
    """A :class:`FunnelMLP` trained with SGD (momentum, weight decay) and cosine annealing over the epochs.

    Features are imputed with the training median and standardized with the training mean
    and spread.
    """

    def __init__(self, params: dict[str, Any], split: tuple[np.ndarray, ...], *, num_classes: int,
                 epochs: int, seed: int, threads: int) -> None:
        from meta_tune.trainables._loop import seeded_generator

        x_train, y_train, x_val, _ = split
        median = np.nan_to_num(np.nanmedian(x_train, axis=0)) if np.isnan(x_train).any() else None
        if median is not None:
            x_train = np.where(np.isnan(x_train), median, x_train)
            x_val = np.where(np.isnan(x_val), median, x_val)
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        std[std == 0] = 1.0
        self.x_train = torch.from_numpy(((x_train - mean) / std).astype(np.float32))
        self.y_train = torch.from_numpy(np.asarray(y_train, dtype=np.int64))
        self.x_val = torch.from_numpy(((x_val - mean) / std).astype(np.float32))
        self.rng = seeded_generator(seed)
        self.model = FunnelMLP(x_train.shape[1], num_classes, num_layers=int(params["num_layers"]),
                               max_units=int(params["max_units"]), max_dropout=float(params["max_dropout"]))
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=float(params["lr"]),
                                         momentum=float(params["momentum"]),
                                         weight_decay=float(params["weight_decay"]))
        self.schedule = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=max(1, epochs))
        self.batch_size = int(params["batch_size"])

    def advance(self, epoch: int) -> np.ndarray:
        self.model.train()
        order = torch.from_numpy(self.rng.permutation(len(self.y_train)))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            loss = nn.functional.cross_entropy(self.model(self.x_train[idx]), self.y_train[idx])
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        self.schedule.step()
        self.model.eval()
        with torch.no_grad():
            probs = torch.softmax(self.model(self.x_val), dim=1).numpy().astype(np.float64)
        return np.nan_to_num(probs, nan=1.0 / probs.shape[1])  # a diverged net predicts uniformly

    def extra(self) -> dict[str, float]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        from meta_tune.trainables._loop import training_state

        state = training_state(self.model, self.optimizer, self.rng)
        return {**state, "schedule": self.schedule.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from meta_tune.trainables._loop import load_training_state

        load_training_state(state, self.model, self.optimizer, self.rng)
        self.schedule.load_state_dict(state["schedule"])


def _full_probs(probs: np.ndarray, seen: np.ndarray, num_classes: int) -> np.ndarray:
    """Probabilities over all ``num_classes`` classes (a training split may miss some)."""
    full = np.zeros((len(probs), num_classes))
    full[:, np.asarray(seen, dtype=int)] = probs
    return full


__all__ = ["MODELS", "ForestLearner", "FunnelMLP", "Learner", "MLPLearner", "TreeLearner", "XGBoostLearner",
           "build_learner"]
