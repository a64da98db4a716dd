"""Priors fitted on seeded synthetic tasks whose good region is known."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ray import tune

import meta_tune.priors
from meta_tune.errors import IncompatibleSearchSpaceError, InvalidConfigError
from meta_tune.priors import Prior
from meta_tune.space import SearchSpace, flatten

SPACE = {
    "x": tune.uniform(0.0, 1.0),
    "lr": tune.loguniform(1e-4, 1.0),
    "act": tune.choice(["relu", "tanh", "gelu"]),
    "layers": tune.randint(1, 9),
    "epochs": 5,
}


def loss(config: dict, optimum: float = 0.7) -> float:
    """Good region: x near the optimum, lr near 1e-2, tanh; layers do not matter."""
    return float(
        3 * (config["x"] - optimum) ** 2
        + (np.log10(config["lr"]) + 2) ** 2 / 8
        + 0.3 * (config["act"] != "tanh")
    )


def make_history(n_tasks: int = 8, n_trials: int = 60, seed: int = 0, optimum: float = 0.7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    space = SearchSpace.from_tune(SPACE)
    rows = []
    for t in range(n_tasks):
        shift = rng.normal(0, 0.03)
        for config in space.sample(rng, n_trials):
            rows.append(
                {
                    "task": f"task{t}",
                    **flatten(config),
                    "acc": 1.0 - loss(config, optimum + shift) + rng.normal(0, 0.01),
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def prior() -> Prior:
    return meta_tune.priors.fit(make_history(), space=SPACE, metric="acc", mode="max")


def test_the_portfolio_starts_in_the_good_region_and_covers_the_tasks(prior: Prior) -> None:
    first = prior.portfolio[0]
    assert abs(first["x"] - 0.7) < 0.15 and first["act"] == "tanh" and 1e-3 < first["lr"] < 1e-1
    assert len(prior.portfolio) == 16
    assert len({tuple(sorted(c.items())) for c in prior.portfolio}) == 16
    assert all(SearchSpace.from_tune(SPACE).check(c) is None for c in prior.portfolio)
    # Each portfolio config is better on the true objective than the average random config.
    random = SearchSpace.from_tune(SPACE).sample(np.random.default_rng(1), 200)
    assert np.mean([loss(c) for c in prior.portfolio[:5]]) < 0.5 * np.mean([loss(c) for c in random])


def test_density_samples_concentrate_where_the_tasks_were_good(prior: Prior) -> None:
    samples = prior.sample(2000, np.random.default_rng(0))
    near = np.mean([abs(c["x"] - 0.7) < 0.15 for c in samples])
    tanh = np.mean([c["act"] == "tanh" for c in samples])
    assert near > 0.6 and tanh > 0.6  # uniform sampling gives 0.3 and 0.33
    assert all(type(c["layers"]) is int and 1 <= c["layers"] <= 8 for c in samples)
    good = {"x": 0.7, "lr": 1e-2, "act": "tanh", "layers": 3, "epochs": 5}
    bad = {"x": 0.05, "lr": 0.9, "act": "relu", "layers": 3, "epochs": 5}
    assert prior.log_density(good) > prior.log_density(bad) + 3
    assert prior.sample(5, np.random.default_rng(3)) == prior.sample(5, np.random.default_rng(3))


def test_bounds_hold_every_task_best_and_shrink_the_space(prior: Prior) -> None:
    lo, hi = prior.bounds["x"]
    assert lo <= 0.62 and hi >= 0.78 and hi - lo < 0.6
    assert prior.bounds["act"] == [1]  # every task's best used tanh
    bounded = SearchSpace.from_tune(prior.bounded_space())
    assert bounded["act"].n == 1
    configs = bounded.sample(np.random.default_rng(0), 300)
    assert all(lo - 1e-9 <= c["x"] <= hi + 1e-9 and c["act"] == "tanh" for c in configs)


def test_max_mode_and_min_mode_on_the_negated_metric_agree() -> None:
    history = make_history(n_tasks=4, n_trials=30)
    as_max = meta_tune.priors.fit(history, space=SPACE, metric="acc", mode="max", portfolio_size=4)
    as_min = meta_tune.priors.fit(
        history.assign(acc=-history["acc"]), space=SPACE, metric="acc", mode="min", portfolio_size=4
    )
    assert as_max.portfolio == as_min.portfolio
    flipped = meta_tune.priors.fit(history, space=SPACE, metric="acc", mode="min", portfolio_size=4)
    assert flipped.portfolio[0] != as_max.portfolio[0]


def test_task_weights_favour_related_tasks_and_drop_an_unrelated_history(prior: Prior) -> None:
    rng = np.random.default_rng(5)
    configs = SearchSpace.from_tune(SPACE).sample(rng, 25)
    related = prior.task_weights(configs, [1 - loss(c) for c in configs])
    assert related.none < 0.3 and related.tasks.sum() == pytest.approx(1 - related.none)
    shuffled = prior.task_weights(configs, list(rng.permutation([1 - loss(c) for c in configs])))
    assert shuffled.none > related.none + 0.3
    assert prior.task_weights(configs[:1], [0.5]).none == 0.0  # no evidence yet


def test_meta_features_weight_similar_tasks_up() -> None:
    history = make_history(n_tasks=4, n_trials=20)
    history["meta:rows"] = history["task"].map(
        {"task0": 100.0, "task1": 200.0, "task2": 5000.0, "task3": 9000.0}
    )
    prior = meta_tune.priors.fit(history, space=SPACE, metric="acc", mode="max", target_meta={"rows": 150.0})
    weights = prior.task_weights().tasks
    assert weights[0] > weights[2] and weights[1] > weights[3]


def test_a_history_in_another_space_is_matched_by_name_and_clipped(caplog: pytest.LogCaptureFixture) -> None:
    history = make_history(n_tasks=3, n_trials=20).drop(columns=["layers"])
    history["momentum"] = 0.9
    history.loc[0, "acc"] = np.nan
    narrow = {**SPACE, "x": tune.uniform(0.0, 0.5)}
    with (
        caplog.at_level(logging.INFO, logger="meta_tune"),
        pytest.warns(
            UserWarning,
            match=r"missing from the history \(their prior is uniform\): \['layers'\].*\(ignored\): \['momentum'\]",
        ),
    ):
        prior = meta_tune.priors.fit(history, space=narrow, metric="acc", mode="max")
    assert "Learning from 59 of 60 history trials" in caplog.text
    samples = prior.sample(500, np.random.default_rng(0))
    assert all(0.0 <= c["x"] <= 0.5 for c in samples)
    assert np.mean([c["x"] > 0.4 for c in samples]) > 0.5  # the optimum 0.7 is clipped to the edge
    layers = np.bincount([c["layers"] for c in samples], minlength=9)[1:]
    assert layers.min() > 30  # unknown parameter: uniform


def test_no_shared_parameter_is_an_incompatible_space() -> None:
    history = pd.DataFrame({"task": ["a", "b"], "width": [1, 2], "acc": [0.5, 0.6]})
    with pytest.raises(
        IncompatibleSearchSpaceError,
        match=r"No column of the history is a parameter.*\['x', 'lr', 'act', 'layers'\]",
    ):
        meta_tune.priors.fit(history, space=SPACE, metric="acc", mode="max")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metric": "f1"}, InvalidConfigError, r"The history has no 'f1' column"),
        ({"mode": "maximize"}, InvalidConfigError, r"mode must be 'min' or 'max', got 'maximize'"),
        ({"portfolio_size": 0}, InvalidConfigError, r"portfolio_size=0 is out of range"),
        ({"gamma": 0.1}, TypeError, r"unexpected keyword argument 'gamma'"),
    ],
)
def test_bad_arguments_are_explained(kwargs: dict, error: type, match: str) -> None:
    args = {"space": SPACE, "metric": "acc", "mode": "max", **kwargs}
    with pytest.raises(error, match=match):
        meta_tune.priors.fit(make_history(n_tasks=2, n_trials=5), **args)


def test_curves_count_each_trials_last_step() -> None:
    history = make_history(n_tasks=2, n_trials=10)
    history["trial_id"] = [f"t{i}" for i in range(len(history))]
    early = history.assign(training_iteration=1, acc=1 - history["acc"])  # early steps rank inversely
    late = history.assign(training_iteration=2)
    curves = pd.concat([early, late]).sample(frac=1.0, random_state=0)
    from_curves = meta_tune.priors.fit(curves, space=SPACE, metric="acc", mode="max", portfolio_size=3)
    from_final = meta_tune.priors.fit(history, space=SPACE, metric="acc", mode="max", portfolio_size=3)
    assert from_curves.portfolio == from_final.portfolio
    with pytest.raises(InvalidConfigError, match="no 'trial_id' column"):
        meta_tune.priors.fit(curves.drop(columns=["trial_id"]), space=SPACE, metric="acc", mode="max")


def test_conditional_spaces_get_a_prior_per_branch() -> None:
    space = {
        "opt": tune.choice(
            [
                {"name": "sgd", "momentum": tune.uniform(0, 1)},
                {"name": "adam", "beta": tune.uniform(0.8, 1.0)},
            ]
        ),
        "lr": tune.loguniform(1e-4, 1.0),
    }
    rng = np.random.default_rng(0)
    rows = []
    for t in range(4):
        for config in SearchSpace.from_tune(space).sample(rng, 40):
            good = config["opt"]["name"] == "sgd" and config["opt"]["momentum"] > 0.8
            rows.append({"task": f"t{t}", **flatten(config), "loss": float(not good) + rng.random() * 0.1})
    prior = meta_tune.priors.fit(pd.DataFrame(rows), space=space, metric="loss", mode="min")
    samples = prior.sample(400, np.random.default_rng(1))
    # Uniform sampling hits the good region (sgd, momentum > 0.7) 15% of the time.
    assert np.mean([c["opt"]["name"] == "sgd" and c["opt"]["momentum"] > 0.7 for c in samples]) > 0.4
    assert prior.portfolio[0]["opt"]["name"] == "sgd"


def test_save_and_load_give_the_same_prior(prior: Prior, tmp_path: Path) -> None:
    prior.save(tmp_path / "prior.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prior.json", "prior.npz"]
    again = Prior.load(tmp_path / "prior.json")
    assert again.portfolio == prior.portfolio and again.task_names == prior.task_names
    assert again.sample(20, np.random.default_rng(2)) == prior.sample(20, np.random.default_rng(2))
    assert again.bounds == prior.bounds
    (tmp_path / "bad.json").write_text('{"format": 7}')
    np.savez(tmp_path / "bad.npz")
    with pytest.raises(InvalidConfigError, match="is not a meta-tune prior of format 3"):
        Prior.load(tmp_path / "bad.json")
    with pytest.raises(InvalidConfigError, match=r"Cannot read the prior .*missing\.json.*missing, damaged"):
        Prior.load(tmp_path / "missing.json")


def test_plot_writes_a_png(prior: Prior, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    prior.plot(tmp_path / "prior.png")
    assert (tmp_path / "prior.png").read_bytes()[:4] == b"\x89PNG"
