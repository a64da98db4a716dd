"""StoreCallback records the metric, mode and space of the Tune run, so learning needs no flags.

Also: the store flattens configs with the space's rule, the one the searchers use
(a list of domains gives ``name/0``, ``name/1``), so a recorded history fits its space.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ray import tune

from meta_tune import priors
from meta_tune.cli._main import cli
from meta_tune.searchers import RandomSearch
from meta_tune.space import SearchSpace
from meta_tune.store import Store, StoreCallback
from tests.store._trainable import train_toy

SPACE = {
    "x": tune.uniform(-2.0, 2.0),
    "nested": [tune.randint(0, 3), tune.randint(0, 3)],
    "width": tune.choice([[8, 8], [16]]),
    "seed": 0,
}


def tune_run(tmp_path: Path, callback: StoreCallback, **kwargs: Any) -> None:
    tune_config = kwargs.pop("tune_config", {})
    results = tune.Tuner(
        train_toy,
        tune_config=tune.TuneConfig(num_samples=5, reuse_actors=True, **tune_config),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "ray"), verbose=0, callbacks=[callback]),
        **kwargs,
    ).fit()
    assert not results.errors and len(results) == 5


@pytest.mark.integration
def test_a_recorded_run_is_all_meta_tune_learn_needs(ray_session: None, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    for task in ("my-model/a", "my-model/b"):  # as README: no metric, mode or space given here
        tune_run(
            tmp_path,
            StoreCallback(url, task=task, family="my-model"),
            param_space=SPACE,
            tune_config={"metric": "score", "mode": "max"},
        )
    store = Store(url, read_only=True)
    for info in store.list_tasks("my-model"):
        assert (info.metric, info.mode, info.space) == ("score", "max", SearchSpace.from_tune(SPACE))

    history = store.history(family="my-model")
    params = [c for c in history.columns if c in ("x", "nested", "nested/0", "nested/1", "width")]
    assert params == ["x", "nested/0", "nested/1", "width"]
    assert set(history["nested/0"]) <= {0, 1, 2} and all(isinstance(w, list) for w in history["width"])
    assert list(store.curves("my-model/a").columns[4:8]) == ["x", "nested/0", "nested/1", "width"]
    prior = priors.fit(history, space=SPACE, metric="score", mode="max")
    assert len(prior.tasks) == 2 and all(t.known.all() for t in prior.tasks)

    out = tmp_path / "prior.json"
    result = CliRunner().invoke(cli, ["--store", url, "learn", "--family", "my-model", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Learned a prior from 10 trials of 2 my-model tasks (score, max)" in result.output
    assert out.is_file()


@pytest.mark.integration
def test_a_searcher_s_metric_mode_and_space_are_recorded(ray_session: None, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    searcher = RandomSearch(SPACE, metric="loss", mode="min", seed=1)  # no param_space, no TuneConfig metric
    tune_run(tmp_path, StoreCallback(url, task="searched"), tune_config={"search_alg": searcher})
    info = Store(url).get_task("searched")
    assert (info.metric, info.mode, info.space) == ("loss", "min", SearchSpace.from_tune(SPACE))
    assert {"nested/0", "nested/1"} <= set(Store(url).trials("searched").columns)


@pytest.mark.integration
def test_what_was_passed_wins_and_a_recorded_task_keeps_its_settings(
    ray_session: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    tune_run(
        tmp_path,
        StoreCallback(url, task="t", metric="loss", mode="min"),
        param_space=SPACE,
        tune_config={"metric": "score", "mode": "max"},
    )
    info = Store(url).get_task("t")
    assert (info.metric, info.mode, info.space) == ("loss", "min", SearchSpace.from_tune(SPACE))
    wider = {**SPACE, "x": tune.uniform(-5.0, 5.0)}
    with caplog.at_level(logging.WARNING, logger="meta_tune.store._callback"):
        tune_run(tmp_path, StoreCallback(url, task="t"), param_space=wider, tune_config={"metric": "score"})
    assert "task 't' was recorded with space" in caplog.text
    info = Store(url).get_task("t")
    assert (info.metric, info.mode, info.space) == ("loss", "min", SearchSpace.from_tune(SPACE))
    assert len(Store(url).trials("t")) == 10  # the run is recorded all the same


def test_recorded_trials_flatten_by_the_task_s_space(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    plain = {"x": tune.uniform(0, 1), "sizes": [1, 2]}  # a constant list stays one column
    store.create_task("listed", metric="score", mode="max", space=SPACE)
    store.create_task("plain", metric="score", mode="max", space=plain)
    store.create_task("unknown", metric="score", mode="max")  # no space: lists stay whole
    for i in range(4):
        config = {"x": i / 4, "nested": [i % 3, 2 - i % 3], "width": [16], "seed": 0}
        for task, cfg in (("listed", config), ("plain", {"x": i / 4, "sizes": [1, 2]}), ("unknown", config)):
            store.record_trial(task, f"t{i}", config=cfg, status="TERMINATED", metrics={"score": float(i)})
    assert list(store.trials("listed").columns[3:8]) == ["x", "nested/0", "nested/1", "width", "seed"]
    assert list(store.trials("plain").columns[3:5]) == ["x", "sizes"]
    assert "nested" in store.trials("unknown").columns
    history = store.history(tasks=["listed"])
    assert history[["nested/0", "nested/1"]].values.tolist() == [[0, 2], [1, 1], [2, 0], [0, 2]]
    prior = priors.fit(history, space=SPACE, metric="score", mode="max")
    assert prior.tasks[0].known.all()
    assert json.loads(json.dumps(SearchSpace.from_tune(SPACE).flatten(config))) == {
        "x": 0.75,
        "nested/0": 0,
        "nested/1": 2,
        "width": [16],
        "seed": 0,
    }


@pytest.mark.integration
def test_the_store_callback_example_then_learn_with_no_flags(
    ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_examples import load

    monkeypatch.setenv("HOME", str(tmp_path))  # Tune's default ~/ray_results
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert load("store_callback").main(url, num_samples=3) > 0.5
    out = tmp_path / "prior.json"
    result = CliRunner().invoke(cli, ["--store", url, "learn", "--family", "digits-sgd", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Learned a prior from 3 trials of 1 digits-sgd tasks (accuracy, max)" in result.output
