"""A small real model for store tests: softmax regression on scikit-learn's digits, in numpy."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from ray import tune


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = x / 16.0
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    return x[:1200], y[:1200], x[1200:], y[1200:]


def train_digits(config: dict) -> None:
    """Full-batch gradient descent; reports validation accuracy and loss every epoch."""
    if config.get("fail"):
        raise ValueError("this configuration is set to fail")
    x_train, y_train, x_val, y_val = _data()
    w = np.zeros((x_train.shape[1], 10))
    onehot = np.eye(10)[y_train]
    for _ in range(config["epochs"]):
        logits = x_train @ w
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        w -= config["lr"] * (x_train.T @ (p - onehot) / len(x_train) + config["l2"] * w)
        val = x_val @ w
        loss = float(-np.mean(val[np.arange(len(y_val)), y_val] - np.log(np.exp(val).sum(axis=1))))
        tune.report({"accuracy": float(np.mean(val.argmax(axis=1) == y_val)), "loss": loss})


def train_toy(config: dict) -> None:
    """A quick quadratic in ``x`` and a list of integers: three steps, ``score`` rises to the end."""
    best = -((config["x"] - 0.5) ** 2) - 0.1 * sum(abs(n - 1) for n in config["nested"])
    for step in range(1, 4):
        tune.report({"score": best - 1.0 / step, "loss": -best})
