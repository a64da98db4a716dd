"""Existing Ray Tune code, recorded into meta-tune's experiment store by one added line.

The callback records the run's metric, mode and search space from the Tuner itself, so the
store is ready for meta-learning with no further flags.

Run: python examples/store_callback.py
Then: meta-tune store show example/digits-sgd
      meta-tune learn --family digits-sgd -o prior.json
"""

from __future__ import annotations

import numpy as np
from ray import tune
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

from meta_tune import StoreCallback


def train_fn(config: dict) -> None:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.3, random_state=0)
    model = SGDClassifier(
        alpha=config["alpha"], eta0=config["eta0"], learning_rate="constant", random_state=0
    )
    for _ in range(10):
        model.partial_fit(x_train, y_train, classes=np.arange(10))
        tune.report({"accuracy": model.score(x_val, y_val)})


def main(store: str | None = None, num_samples: int = 12) -> float:
    """Tune ``train_fn`` and record every trial in ``store`` (default: ``$MT_STORE`` or ~/.meta_tune)."""
    tuner = tune.Tuner(
        train_fn,
        param_space={"alpha": tune.loguniform(1e-6, 1e-1), "eta0": tune.loguniform(1e-4, 1.0)},
        tune_config=tune.TuneConfig(
            metric="accuracy", mode="max", num_samples=num_samples, reuse_actors=True
        ),
        run_config=tune.RunConfig(
            callbacks=[StoreCallback(store, task="example/digits-sgd", family="digits-sgd")]  # the added line
        ),
    )
    return float(tuner.fit().get_best_result().metrics["accuracy"])


if __name__ == "__main__":
    print(main())
