"""A shipped prior combined with the user's own runs: their tasks join, task weights decide."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ray import tune

from meta_tune.errors import InvalidConfigError
from meta_tune.priors import Prior, shipped

SPACE = {"learning_rate": tune.loguniform(1e-3, 1.0), "max_depth": tune.randint(1, 16)}
NAMES = {"eta": "learning_rate"}
#: The user's good corner: the smallest learning rate and depth 1, where the shipped
#: XGBoost prior (fast rates, deeper trees on YAHPO) puts little mass.
CORNER = (1e-3, 1)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MT_CACHE_DIR", str(tmp_path / "cache"))


def _distance(config: dict[str, Any]) -> float:
    """Distance of a config from the corner, in the unit cube of SPACE."""
    rate = (math.log(config["learning_rate"]) - math.log(CORNER[0])) / math.log(1e3)
    depth = (config["max_depth"] - CORNER[1]) / 14
    return math.hypot(rate, depth)


def _accuracy(configs: list[dict[str, Any]], rng: np.random.Generator) -> np.ndarray:
    """The user's tasks: accuracy falls with the distance from the corner (seeded noise)."""
    clean = np.array([0.95 - 0.4 * _distance(c) for c in configs])
    return np.clip(clean + rng.normal(0, 0.01, len(configs)), 0, 1)


def _configs(rng: np.random.Generator, n: int) -> list[dict[str, Any]]:
    rates = np.exp(rng.uniform(math.log(1e-3), 0.0, n))
    depths = rng.integers(1, 16, n)
    return [{"learning_rate": float(r), "max_depth": int(d)} for r, d in zip(rates, depths)]


def _user_history(tasks: int = 3, trials: int = 40) -> pd.DataFrame:
    """What Store.history gives for the user's runs: one row per trial, their metric val_acc."""
    rows = []
    for t in range(tasks):
        rng = np.random.default_rng(t)
        configs = _configs(rng, trials)
        for i, (config, value) in enumerate(zip(configs, _accuracy(configs, rng))):
            rows.append({"task": f"my-xgb/data{t}", "trial_id": f"t{t}-{i}", "status": "TERMINATED",
                         **config, "val_acc": value, "loss": 1 - value, "training_iteration": 10,
                         "runtime_s": 2.0 + config["max_depth"] / 5})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def priors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Prior, Prior]:
    cache = tmp_path_factory.mktemp("cache")
    alone = shipped("xgboost", space=SPACE, names=NAMES, cache=cache)
    combined = shipped("xgboost", space=SPACE, names=NAMES, history=_user_history(), metric="val_acc", cache=cache)
    return alone, combined


def test_the_users_tasks_join_the_shipped_ones(priors: tuple[Prior, Prior]) -> None:
    alone, combined = priors
    mine = [t for t in combined.task_names if t.startswith("my-xgb/")]
    assert mine == ["my-xgb/data0", "my-xgb/data1", "my-xgb/data2"]
    assert len(combined.task_names) == len(alone.task_names) + 3
    assert (combined.metric, combined.mode) == ("accuracy", "max")


def test_the_users_runs_move_the_portfolio_towards_their_good_region(priors: tuple[Prior, Prior]) -> None:
    alone, combined = priors
    before = min(_distance(c) for c in alone.portfolio[:5])
    after = min(_distance(c) for c in combined.portfolio[:5])
    # Without the user's runs no early config is near the corner; with them one is.
    assert after < 0.25 < before, (alone.portfolio[:5], combined.portfolio[:5])


def test_target_results_like_the_users_weight_their_tasks_up(priors: tuple[Prior, Prior]) -> None:
    _, combined = priors
    rng = np.random.default_rng(10)
    configs = _configs(rng, 8)
    weights = combined.task_weights(configs, _accuracy(configs, rng))
    mine = np.array([t.startswith("my-xgb/") for t in combined.task_names])
    # 3 of 122 tasks, yet they get most of the weight: the target behaves like them.
    assert weights.tasks[mine].sum() > 0.5 > 3 / len(mine)
    assert weights.tasks[mine].max() > weights.tasks[~mine].max()
    # ... and the density under those weights draws nearer the corner than the shipped one.
    near = np.mean([_distance(c) for c in combined.sample(400, np.random.default_rng(0), weights)])
    far = np.mean([_distance(c) for c in combined.sample(400, np.random.default_rng(0))])
    assert near < far - 0.1, (near, far)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"mode": "min"}, r"mode='min'.*accuracy \(a fraction in \[0, 1\], maximized\)"),
        ({"metric": "loss", "mode": "min"}, r"metric='loss', mode='min'"),
        ({"scale": 100.0}, r"values outside \[0, 1\] \(e.g. \[.*\]\).*divide a percentage by 100"),
        ({"metric": "auc"}, r"no 'auc' column"),
    ],
)
def test_a_history_that_cannot_mean_accuracy_is_refused_before_any_fit(change: dict[str, Any], match: str) -> None:
    history = _user_history(tasks=1, trials=5)
    history["val_acc"] *= change.pop("scale", 1.0)
    options = {"metric": "val_acc", **change}
    with pytest.raises(InvalidConfigError, match=match):
        shipped("xgboost", space=SPACE, names=NAMES, history=history, **options)
