"""A user's own Tune function trainable, run from ``sgd_digits.yaml`` by ``meta-tune run``.

A linear SGD classifier on one pair of scikit-learn's digits; one epoch is one pass over the
training split, and each epoch reports the validation accuracy.
"""

from __future__ import annotations

import numpy as np
from ray import tune
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split


def train_fn(config: dict) -> None:
    x, y = load_digits(return_X_y=True)
    keep = np.isin(y, config["digits"])
    x_train, x_val, y_train, y_val = train_test_split(x[keep] / 16.0, y[keep], test_size=0.3, random_state=0)
    penalty = config["penalty"]
    model = SGDClassifier(
        alpha=config["alpha"],
        eta0=config["eta0"],
        loss=config["loss"],
        penalty=penalty["name"],
        l1_ratio=penalty.get("l1_ratio", 0.15),
        learning_rate="constant",
        random_state=config["seed"],
    )
    for _ in range(config["epochs"]):
        model.partial_fit(x_train, y_train, classes=np.unique(y[keep]))
        tune.report({"accuracy": model.score(x_val, y_val)})
